// The Azure Cosmos DB speed store (@azure/cosmos), same contract as the memory store (src/model/speed-store.ts).
// Documents: cosmos/documents.ts; the exactly-once apply protocol: cosmos/apply.ts; reads: cosmos/queries.ts.
// Retention and dedup expiry follow the injected clock `now`. The key is handed to the client and kept nowhere
// else; this module logs nothing.
import { type Container, CosmosClient, type CosmosClientOptions } from '@azure/cosmos'
import { type ApplyBatch, type Coverage, type Filters, type PartialRow, type SpeedStore } from '../../model/index.js'
import { CosmosApply } from './cosmos/apply.js'
import { createContainer } from './cosmos/container.js'
import { META } from './cosmos/documents.js'
import { CosmosQueries } from './cosmos/queries.js'
import { CosmosRequests, type CosmosStoreStats } from './cosmos/requests.js'

export { retryThrottled, type CosmosStoreStats } from './cosmos/requests.js'

export interface CosmosSpeedStoreOptions {
  /** https://<account>.documents.azure.com:443/ */
  endpoint: string
  /** the account key; handed to the client, never logged */
  key: string
  database: string
  container: string
  retentionMs: number
  /** how long dedup keys are remembered, by the clock */
  dedupWindowMs: number
  /** the clock that drives retention and dedup expiry (tests move it) */
  now?: () => number
  /** merged into the client options (tests pass an https.Agent that trusts the test server) */
  clientOptions?: Partial<CosmosClientOptions>
  /** window writes in flight per apply */
  concurrency?: number
  /** attempts of one write that meets 412 / 429 before apply gives up */
  maxAttempts?: number
  /** tests only: throw after this step of an apply, as a crash there would */
  crashAfter?: 'claim' | 'first-window'
}

/** window writes in flight per apply, and attempts of one write, when the caller does not say */
const CONCURRENCY = 16
const MAX_ATTEMPTS = 50

export class CosmosSpeedStore implements SpeedStore {
  readonly kind = 'cosmos'
  readonly keepsDedupKeys = true
  readonly retentionMs: number
  readonly #client: CosmosClient
  readonly #databaseId: string
  readonly #containerId: string
  readonly #requests: CosmosRequests
  readonly #apply: CosmosApply
  readonly #queries: CosmosQueries
  #ready: Promise<Container> | null = null
  #closed = false

  constructor (options: CosmosSpeedStoreOptions) {
    this.retentionMs = options.retentionMs
    const now = options.now ?? Date.now
    const dedupWindowMs = options.dedupWindowMs
    const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS
    this.#databaseId = options.database
    this.#containerId = options.container
    this.#client = new CosmosClient({ ...options.clientOptions, endpoint: options.endpoint, key: options.key })
    this.#requests = new CosmosRequests(maxAttempts)
    const container = (): Promise<Container> => this.#container()
    this.#apply = new CosmosApply({
      retentionMs: this.retentionMs, dedupWindowMs, now, concurrency: options.concurrency ?? CONCURRENCY, maxAttempts, crashAfter: options.crashAfter
    }, this.#requests, container)
    this.#queries = new CosmosQueries({ retentionMs: this.retentionMs, dedupWindowMs, now }, this.#requests, container)
  }

  /** A store whose database and container exist (created if missing). */
  static async open (options: CosmosSpeedStoreOptions): Promise<CosmosSpeedStore> {
    const store = new CosmosSpeedStore(options)
    try {
      await store.#container()
    } catch (err) {
      await store.close()
      throw err
    }
    return store
  }

  /** requests, request units and retries so far */
  get stats (): CosmosStoreStats {
    return { ...this.#requests.stats }
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    return await this.#apply.apply(batch)
  }

  async query (from: number, to: number, filters: Filters): Promise<PartialRow[]> {
    return await this.#queries.query(from, to, filters)
  }

  async seen (keys: readonly string[]): Promise<boolean[]> {
    return await this.#queries.seen(keys)
  }

  async changeToken (from: number, to: number): Promise<string> {
    return await this.#queries.changeToken(from, to)
  }

  async coverage (): Promise<Coverage> {
    return await this.#queries.coverage()
  }

  /** The last committed offset; a batch claimed and not committed (a crash) is completed first. */
  async position (topic: string, partition: number): Promise<string | null> {
    return await this.#apply.position(topic, partition)
  }

  async setCoveredFrom (t: number): Promise<void> {
    const c = await this.#container()
    await this.#requests.request(() => c.items.upsert({ id: META, pk: META, kind: 'm', coveredFrom: t, ttl: -1 }))
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#client.dispose()
  }

  #container (): Promise<Container> {
    if (this.#closed) return Promise.reject(new Error('cosmos speed store: closed'))
    this.#ready ??= createContainer(this.#client, this.#requests, this.#databaseId, this.#containerId, this.retentionMs).catch((err: unknown) => {
      this.#ready = null
      throw err
    })
    return this.#ready
  }
}
