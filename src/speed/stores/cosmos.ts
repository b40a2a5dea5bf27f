// The Azure Cosmos DB speed store (@azure/cosmos). Same contract as the memory store
// (src/model/speed-store.ts): one row per (minute window, event_type, region), kept for the
// retention; apply is idempotent, fenced by the source position of each (topic, partition), and a
// compare-and-set on that position when the batch says which one it was computed after (`previous`).
//
// Documents (one container, partition key path /pk, defaultTtl = the retention):
//
//   window    id w:<window_start>:<hash(event_type, region)>   pk w:<UTC hour of window_start>, e.g. w:2026-01-01T12
//             window_start, event_type, region, events, latency_sum, latency_count, revenue_cents,
//             bins [[bin, n], …] (the response sketch), src { "<topic>:<partition>": "<last offset applied>" },
//             ttl = seconds until window end + retention (+ a minute of slack)
//   position  id p:<hash(topic, partition)>                    pk pos      ttl −1 (never expires)
//             topic, partition, offset (last committed, decimal int64 string), watermark, maxEventTime,
//             pending (null, or the batch being applied: its offset, deltas, dedup keys, watermark, …)
//   dedup     id d:<hash(dedup key)>                           pk d:<UTC hour of the apply>
//             exp (store clock ms), ttl = the dedup window
//   stamp     id stamp                                         pk w:<hour> n: counted up by every apply that wrote windows of the hour
//   meta      id meta                                          pk meta     ttl −1: coveredFrom
//
// Partition key: the UTC hour of the window. One consumed batch covers a few consecutive minutes,
// so its window writes land in one logical partition (two across an hour boundary), and a
// time-range query over the retention (one hour) names at most two or three partition key values:
// it runs as that many single-partition queries, each served by the index on window_start, never a
// fan-out over every physical partition. The cost of the choice: the current hour is one logical
// partition, so every window write of the moment goes to one physical partition, whose ceiling is
// 10,000 RU/s (about 1,000 window rewrites a second at ~8 RU each; a batch rewrites each of its
// rows once however many events it holds). A deployment past that would salt the key
// (w:<hour>:<hash(event_type, region) mod N>) and query N values per hour. Keys spread by
// (event_type, region) instead would touch a partition per row per batch and turn every time-range
// query into a fan-out; keys per minute would make an hour's query 60 partitions. Request units
// (estimates for real Cosmos DB; the test server reports a flat 1 per request): a window rewrite of
// a ~1–2 KB document with only pk, kind, window_start, event_type and region indexed costs ~6–10 RU
// (plus a 1 RU point read when the cached ETag was stale); the position document is written twice
// per batch (claim carrying the pending batch, ~10–20 RU, then commit, ~6 RU); the hour's change
// counter is one patch, ~10 RU; dedup keys are one small document each, ~5–6 RU, 100 to a bulk
// request. A batch of 500 events over 40 rows: about 40 × 8 + 500 × 5.5 + 40 ≈ 3,100 RU, nearly
// all of it dedup keys. A query over the last hour costs ~2.5 RU per single-partition query plus
// the documents it loads (an hour of 30 rows a minute ≈ 1,800 documents ≈ 2–3 MB, hundreds to a
// couple of thousand RU): the metrics service caches it behind changeToken, which is one 1 RU point
// read per hour of the range.
//
// Exactly-once without cross-partition transactions (transactional batch is single-partition
// only, and does not work on the test server either). The position document is a write-ahead log
// of one entry per Kafka partition:
//   1. claim: read the position (ETag), check the fence (offset newer) and `previous` (CAS), then
//      write it back with IfMatch carrying `pending` = the whole batch (deltas, dedup keys,
//      watermark). Of two writers that both own the partition during a rebalance, exactly one
//      claim succeeds; the other gets 412, re-reads, and its CAS fails.
//   2. roll forward: each window is read-modify-written with IfMatch (412 → re-read, retry) and
//      records the batch's offset for its source in `src`; a window whose `src` already has an
//      offset ≥ the batch's is left alone, so applying the same pending batch twice adds it once.
//      Then the dedup keys (idempotent upserts).
//   3. commit: the position document is written last, with IfMatch on the claim's ETag: offset =
//      the batch's, pending = null, watermark / maxEventTime = max(old, batch's).
// A crash anywhere after the claim leaves `pending` in place: the next apply or position() for
// that partition (any process) rolls it forward before anything else, so the batch counts exactly
// once whatever batch boundaries the consumer produces on replay. Per-window offsets alone would not
// be enough: a replayed batch rarely ends at the same offset, and a window that took records
// 101–180 before a crash would take 171–180 again from a replayed 101–250. Readers never roll
// forward: a batch is visible once its windows are written.
//
// Time: retention and dedup expiry are judged by the injected clock `now`; reads filter out
// windows past the retention even where the server has not removed them yet (it may lag, and the
// test server does not evict at all). The key is passed to the client and kept nowhere else; this
// module logs nothing.
import { createHash } from 'node:crypto'
import {
  BulkOperationType, type Container, CosmosClient, type CosmosClientOptions, type OperationInput,
  type SqlParameter
} from '@azure/cosmos'
import {
  type ApplyBatch, type Coverage, emptyPartials, type Filters, mergePartials, MINUTE_MS,
  type PartialRow, type Partials, type SpeedStore
} from '../../model/index.js'
import { partitionKey } from '../../model/source-position.js'
import { parseOffset } from '../offsets.js'
import { DEFAULT_RETENTION_MS } from './memory.js'

export interface CosmosSpeedStoreOptions {
  /** https://<account>.documents.azure.com:443/ */
  endpoint: string
  /** the account key; handed to the client, never logged */
  key: string
  database: string
  container: string
  retentionMs?: number // one hour
  /** how long dedup keys are remembered, by the clock */
  dedupWindowMs?: number // five minutes
  /** the clock that drives retention and dedup expiry (tests move it) */
  now?: () => number
  /** merged into the client options (tests pass an https.Agent that trusts the test server) */
  clientOptions?: Partial<CosmosClientOptions>
  /** window writes in flight per apply */
  concurrency?: number // 16
  /** attempts of one write that meets 412 / 429 before apply gives up */
  maxAttempts?: number // 50
  /** tests only: throw after this step of an apply, as a crash there would */
  crashAfter?: 'claim' | 'first-window'
}

export interface CosmosStoreStats {
  requests: number
  /** sum of x-ms-request-charge (the test server reports 1 per request) */
  requestCharge: number
  /** writes refused for a stale ETag (412) or a lost create race (409), then retried */
  conflicts: number
  /** requests throttled (429) past the SDK's own retries, then retried after retry-after */
  throttled: number
}

const H = 3_600_000
const POS_PK = 'pos'
const META = 'meta'
/** id of the change counter document in each hour's partition */
const STAMP = 'stamp'
/** the server removes a document this long after the store stops returning it */
const TTL_SLACK_S = 60
/** ids per dedup lookup query */
const SEEN_CHUNK = 100
/** operations per bulk request (the service's limit per partition key range) */
const BULK_CHUNK = 100
/** a pending batch larger than this is refused (documents are at most 2 MB) */
const MAX_PENDING_BYTES = 1_900_000
/** more hour buckets than this in a query range: one cross-partition query instead */
const MAX_PK_FANOUT = 24

type Bins = [number, number][]
/** a delta as carried in a pending batch: [window_start, event_type, region, events, latency_sum, latency_count, revenue_cents, bins] */
type CompactDelta = [number, string, string, number, number, number, number, Bins]

interface WindowDoc {
  id: string
  pk: string
  kind: 'w'
  window_start: number
  event_type: string
  region: string
  events: number
  latency_sum: number
  latency_count: number
  revenue_cents: number
  bins: Bins
  src: Record<string, string>
  ttl: number
}

interface Pending {
  offset: string
  /** store clock at the claim: dedup keys expire a dedup window after it */
  at: number
  deltas: CompactDelta[]
  /** dedup document ids (hashed keys: short, whatever the event ids) */
  keys: string[]
  watermark: number | null
  maxEventTime: number | null
}

interface PositionDoc {
  id: string
  pk: typeof POS_PK
  kind: 'p'
  topic: string
  partition: number
  offset: string | null
  watermark: number | null
  maxEventTime: number | null
  pending: Pending | null
  ttl: -1
}

interface Versioned<T> { doc: T, etag: string }

const hash = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 22)
const hourKey = (t: number): string => new Date(Math.floor(t / H) * H).toISOString().slice(0, 13)
const windowPk = (windowStart: number): string => 'w:' + hourKey(windowStart)
const windowId = (windowStart: number, eventType: string, region: string): string => `w:${windowStart}:${hash(eventType + '\u0000' + region)}`
const positionId = (topic: string, partition: number): string => 'p:' + hash(partitionKey(topic, partition))
const dedupId = (key: string): string => 'd:' + hash(key)
const sourceKey = (topic: string, partition: number): string => topic + ':' + partition
const maxOf = (a: number | null, b: number | null | undefined): number | null => b == null ? a : a === null || b > a ? b : a
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** jittered exponential backoff for contended writes: 1–2 ms, doubling, at most ~100 ms */
const backoff = (attempt: number): number => Math.min(100, 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2)

function statusOf (err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

/** how long a throttled request asks to wait: the error's retryAfterInMs, or its x-ms-retry-after-ms header */
function retryAfterOf (err: unknown): number | undefined {
  const e = err as { retryAfterInMs?: unknown, headers?: Record<string, unknown> } | null
  if (typeof e?.retryAfterInMs === 'number') return e.retryAfterInMs
  const header = Number(e?.headers?.['x-ms-retry-after-ms'])
  return Number.isFinite(header) && header >= 0 ? header : undefined
}

/**
 * Run a request, retrying it while the service throttles it (429, or 449 "retry with"), waiting
 * what retry-after says (else a backoff). The SDK already retries 429 a few times; this covers what
 * escapes it. Other errors pass through.
 */
export async function retryThrottled<T> (fn: () => Promise<T>, maxAttempts: number, onThrottled?: (waitMs: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const status = statusOf(err)
      if ((status !== 429 && status !== 449) || attempt >= maxAttempts) throw err
      const wait = retryAfterOf(err) ?? backoff(attempt)
      onThrottled?.(wait)
      await sleep(wait)
    }
  }
}

function toBins (sketch: Map<number, number>): Bins {
  return [...sketch].sort((a, b) => a[0] - b[0])
}

function compact (row: PartialRow): CompactDelta {
  const p = row.partials
  return [row.window_start, row.event_type, row.region, p.events, p.latency_sum, p.latency_count, p.revenue_cents, toBins(p.response)]
}

function partialsOf (d: { events: number, latency_sum: number, latency_count: number, revenue_cents: number, bins: Bins }): Partials {
  return { events: d.events, latency_sum: d.latency_sum, latency_count: d.latency_count, revenue_cents: d.revenue_cents, response: new Map(d.bins) }
}

/** a document as the server returned it, without the system properties (_rid, _etag, _ts, …) */
function strip<T> (resource: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(resource as Record<string, unknown>)) if (!k.startsWith('_')) out[k] = v
  return out as T
}

/** run `fn` over `items` with at most `limit` in flight; the first failure rejects (after the rest settle) */
async function eachLimit<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | null = null
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === null) {
      const item = items[next++] as T
      try { await fn(item) } catch (err) { failure ??= { err } }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== null) throw (failure as { err: unknown }).err
}

export class CosmosSpeedStore implements SpeedStore {
  readonly kind = 'cosmos'
  readonly keepsDedupKeys = true
  readonly retentionMs: number
  readonly #now: () => number
  readonly #dedupWindowMs: number
  readonly #client: CosmosClient
  readonly #databaseId: string
  readonly #containerId: string
  readonly #concurrency: number
  readonly #maxAttempts: number
  readonly #crashAfter: CosmosSpeedStoreOptions['crashAfter']
  #ready: Promise<Container> | null = null
  #closed = false
  /** last known version of window documents this store wrote (IfMatch without a read first) */
  readonly #windows = new Map<string, Versioned<WindowDoc>>()
  /** last known version of position documents */
  readonly #positions = new Map<string, Versioned<PositionDoc>>()
  readonly #stats: CosmosStoreStats = { requests: 0, requestCharge: 0, conflicts: 0, throttled: 0 }

  constructor (options: CosmosSpeedStoreOptions) {
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS
    this.#now = options.now ?? Date.now
    this.#dedupWindowMs = options.dedupWindowMs ?? 300_000
    this.#databaseId = options.database
    this.#containerId = options.container
    this.#concurrency = options.concurrency ?? 16
    this.#maxAttempts = options.maxAttempts ?? 50
    this.#crashAfter = options.crashAfter
    this.#client = new CosmosClient({ ...options.clientOptions, endpoint: options.endpoint, key: options.key })
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
    return { ...this.#stats }
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    const { topic, partition, offset } = batch.position
    const value = parseOffset(offset)
    const c = await this.#container()
    const posId = positionId(topic, partition)
    const deltas = this.#mergedDeltas(batch.deltas)
    const keys = batch.dedupKeys ?? []
    let fresh = false
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const pos = await this.#readPosition(c, posId, fresh)
      if (pos !== null && pos.doc.pending !== null) {
        // a batch claimed and not committed (its writer crashed, or is still at it): finish it first
        await this.#rollForward(c, pos)
        fresh = true
        continue
      }
      const stored = pos?.doc.offset ?? null
      if ((stored !== null && value <= parseOffset(stored)) || (batch.previous !== undefined && batch.previous !== stored)) {
        if (fresh || pos === null) return false
        fresh = true // the cached position may be behind: decide on the stored one
        continue
      }
      const pending: Pending = {
        offset,
        at: this.#now(),
        deltas,
        keys: keys.map(dedupId),
        watermark: batch.watermark ?? null,
        maxEventTime: batch.maxEventTime ?? null
      }
      const base: PositionDoc = pos?.doc ?? { id: posId, pk: POS_PK, kind: 'p', topic, partition, offset: null, watermark: null, maxEventTime: null, pending: null, ttl: -1 }
      const nothingToWrite = deltas.length === 0 && keys.length === 0
      // a batch with no rows and no keys is only a position move: claim and commit in one write
      const next: PositionDoc = nothingToWrite
        ? { ...base, offset, watermark: maxOf(base.watermark, pending.watermark), maxEventTime: maxOf(base.maxEventTime, pending.maxEventTime), pending: null }
        : { ...base, pending }
      // Cosmos DB documents are at most 2 MB: a Kafka fetch of 1 MB per partition (kafkajs's default) fits
      if (!nothingToWrite && Buffer.byteLength(JSON.stringify(next)) > MAX_PENDING_BYTES) {
        throw new Error(`cosmos speed store: a batch of ${deltas.length} rows and ${keys.length} dedup keys is too large for one position document; consume smaller batches`)
      }
      const claimed = await this.#writePosition(c, pos, next)
      if (claimed === null) {
        fresh = true
        await sleep(backoff(attempt))
        continue
      }
      if (this.#crashAfter === 'claim') throw new Error('simulated crash after the claim')
      if (!nothingToWrite) await this.#rollForward(c, claimed)
      return true
    }
    throw new Error(`cosmos speed store: the position of ${topic}[${partition}] stayed contended after ${this.#maxAttempts} attempts`)
  }

  async query (from: number, to: number, filters: Filters): Promise<PartialRow[]> {
    const docs = await this.#windowsIn<WindowDoc>(from, to, filters,
      'c.window_start, c.event_type, c.region, c.events, c.latency_sum, c.latency_count, c.revenue_cents, c.bins')
    return docs
      .map((d) => ({ window_start: d.window_start, event_type: d.event_type, region: d.region, partials: partialsOf(d) }))
      .sort((a, b) => a.window_start - b.window_start)
  }

  async seen (keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    const c = await this.#container()
    const now = this.#now()
    const ids = keys.map(dedupId)
    // dedup documents live under the hour of the apply that wrote them: the hours of the dedup window
    const pks: string[] = []
    for (let h = Math.floor((now - this.#dedupWindowMs) / H) * H; h <= now; h += H) pks.push('d:' + hourKey(h))
    const live = new Set<string>()
    const chunks: string[][] = []
    for (let i = 0; i < ids.length; i += SEEN_CHUNK) chunks.push(ids.slice(i, i + SEEN_CHUNK))
    await Promise.all(pks.flatMap((pk) => chunks.map(async (chunk) => {
      const names = chunk.map((_, i) => '@k' + i)
      const docs = await this.#queryPartition<{ id: string, exp: number }>(c, pk,
        `SELECT c.id, c.exp FROM c WHERE c.pk = @pk AND c.kind = 'd' AND c.id IN (${names.join(', ')})`,
        chunk.map((id, i) => ({ name: names[i] as string, value: id })))
      for (const d of docs) if (d.exp > now) live.add(d.id)
    })))
    return ids.map((id) => live.has(id))
  }

  /**
   * The expired part of the range (it only grows with the clock) and the change counters of the
   * hours the rest of it spans. Every apply counts up the counter of each hour it wrote windows in,
   * after writing them; counters only grow, and a window leaves the range only when the expired
   * part moves over it, so the token never comes back. A few point reads, not a query over the rows.
   */
  async changeToken (from: number, to: number): Promise<string> {
    const c = await this.#container()
    const cut = this.#retainedFrom()
    const lower = Math.max(from, cut)
    const expiredUpTo = Math.min(to, lower)
    if (lower >= to) return `${expiredUpTo}:`
    const first = Math.floor(lower / H) * H
    const last = Math.floor((to - 1) / H) * H
    const stamps = new Map<string, number>()
    if ((last - first) / H + 1 <= MAX_PK_FANOUT) {
      // one point read (1 RU) per hour of the range
      const hours: number[] = []
      for (let h = first; h <= last; h += H) hours.push(h)
      await Promise.all(hours.map(async (h) => {
        const res = await this.#request(() => c.item(STAMP, windowPk(h)).read<{ n: number }>())
        stamps.set(windowPk(h), res.resource?.n ?? 0)
      }))
    } else {
      const docs = await this.#queryAll<{ pk: string, n: number }>(c, 'SELECT c.pk, c.n FROM c WHERE c.kind = \'s\' AND c.id = @id', [{ name: '@id', value: STAMP }])
      for (const d of docs) if (d.pk >= windowPk(first) && d.pk <= windowPk(last)) stamps.set(d.pk, d.n)
    }
    const digest = createHash('sha256')
    for (const [pk, n] of [...stamps].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (n > 0) digest.update(pk + '=' + n + ';')
    return `${expiredUpTo}:${digest.digest('base64url').slice(0, 22)}`
  }

  async coverage (): Promise<Coverage> {
    const c = await this.#container()
    const cut = this.#retainedFrom()
    const range = [{ name: '@cut', value: cut }]
    const [oldest, newest, positions, meta] = await Promise.all([
      this.#queryAll<number>(c, 'SELECT VALUE MIN(c.window_start) FROM c WHERE c.kind = \'w\' AND c.window_start >= @cut', range),
      this.#queryAll<number>(c, 'SELECT VALUE MAX(c.window_start) FROM c WHERE c.kind = \'w\' AND c.window_start >= @cut', range),
      this.#queryPartition<{ watermark: number | null, maxEventTime: number | null }>(c, POS_PK,
        'SELECT c.watermark, c.maxEventTime FROM c WHERE c.pk = @pk AND c.kind = \'p\'', []),
      this.#request(() => c.item(META, META).read<{ coveredFrom: number | null }>())
    ])
    let watermark: number | null = null
    let maxEventTime: number | null = null
    for (const p of positions) {
      watermark = maxOf(watermark, p.watermark)
      maxEventTime = maxOf(maxEventTime, p.maxEventTime)
    }
    const coveredFrom = meta.resource?.coveredFrom ?? null
    return {
      oldest: typeof oldest[0] === 'number' ? oldest[0] : null,
      newest: typeof newest[0] === 'number' ? newest[0] : null,
      watermark,
      maxEventTime,
      coveredFrom: coveredFrom === null ? null : Math.max(coveredFrom, cut)
    }
  }

  /** The last committed offset; a batch claimed and not committed (a crash) is completed first. */
  async position (topic: string, partition: number): Promise<string | null> {
    const c = await this.#container()
    const id = positionId(topic, partition)
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const pos = await this.#readPosition(c, id, true)
      if (pos === null) return null
      if (pos.doc.pending === null) return pos.doc.offset
      await this.#rollForward(c, pos)
    }
    throw new Error(`cosmos speed store: the position of ${topic}[${partition}] stayed contended after ${this.#maxAttempts} attempts`)
  }

  async setCoveredFrom (t: number): Promise<void> {
    const c = await this.#container()
    await this.#request(() => c.items.upsert({ id: META, pk: META, kind: 'm', coveredFrom: t, ttl: -1 }))
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#client.dispose()
  }

  /** window_start of the oldest window still retained: a window is kept while its end is after now − retention */
  #retainedFrom (): number {
    return Math.floor((this.#now() - this.retentionMs) / MINUTE_MS) * MINUTE_MS
  }

  #container (): Promise<Container> {
    if (this.#closed) return Promise.reject(new Error('cosmos speed store: closed'))
    this.#ready ??= this.#create().catch((err: unknown) => {
      this.#ready = null
      throw err
    })
    return this.#ready
  }

  async #create (): Promise<Container> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { database } = await this.#request(() => this.#client.databases.createIfNotExists({ id: this.#databaseId }))
        const { container } = await this.#request(() => database.containers.createIfNotExists({
          id: this.#containerId,
          partitionKey: { paths: ['/pk'] },
          defaultTtl: Math.ceil(this.retentionMs / 1000),
          indexingPolicy: {
            indexingMode: 'consistent',
            automatic: true,
            // only what queries filter on: bins, src and pending are written, never searched
            includedPaths: ['/pk/?', '/kind/?', '/window_start/?', '/event_type/?', '/region/?'].map((path) => ({ path })),
            excludedPaths: [{ path: '/*' }]
          }
        }))
        return container
      } catch (err) {
        // two stores creating the same database or container at once: one of them gets 409
        if (statusOf(err) !== 409 || attempt >= 3) throw err
      }
    }
  }

  /** One request, counted, its charge added, retried while throttled. */
  async #request<T> (fn: () => Promise<T>): Promise<T> {
    return await retryThrottled(async () => {
      this.#stats.requests++
      const res = await fn()
      const charge = (res as { requestCharge?: unknown }).requestCharge
      if (typeof charge === 'number') this.#stats.requestCharge += charge
      return res
    }, this.#maxAttempts, () => { this.#stats.throttled++ })
  }

  async #queryPartition<T> (c: Container, pk: string, query: string, parameters: SqlParameter[]): Promise<T[]> {
    // the condition on c.pk too: the test server ignores the partition key of a query
    const res = await this.#request(() => c.items.query<T>({ query, parameters: [{ name: '@pk', value: pk }, ...parameters] }, { partitionKey: pk }).fetchAll())
    return res.resources
  }

  async #queryAll<T> (c: Container, query: string, parameters: SqlParameter[]): Promise<T[]> {
    const res = await this.#request(() => c.items.query<T>({ query, parameters }).fetchAll())
    return res.resources
  }

  /** live windows with window_start in [from, to), filtered: one query per hour bucket of the range */
  async #windowsIn<T> (from: number, to: number, filters: Filters, fields: string): Promise<T[]> {
    const c = await this.#container()
    const lower = Math.max(from, this.#retainedFrom())
    if (lower >= to) return []
    const parameters: SqlParameter[] = [{ name: '@from', value: lower }, { name: '@to', value: to }]
    let where = 'c.kind = \'w\' AND c.window_start >= @from AND c.window_start < @to'
    const list = (field: string, values: string[] | undefined, prefix: string): void => {
      if (values === undefined || values.length === 0) return
      const names = values.map((v, i) => { parameters.push({ name: `@${prefix}${i}`, value: v }); return `@${prefix}${i}` })
      where += ` AND c.${field} IN (${names.join(', ')})`
    }
    list('event_type', filters.event_type, 't')
    list('region', filters.region, 'r')
    const first = Math.floor(lower / H) * H
    const last = Math.floor((to - 1) / H) * H
    if ((last - first) / H + 1 > MAX_PK_FANOUT || !Number.isFinite(last)) {
      return await this.#queryAll<T>(c, `SELECT ${fields} FROM c WHERE ${where}`, parameters)
    }
    const parts: Promise<T[]>[] = []
    for (let h = first; h <= last; h += H) parts.push(this.#queryPartition<T>(c, windowPk(h), `SELECT ${fields} FROM c WHERE c.pk = @pk AND ${where}`, parameters))
    return (await Promise.all(parts)).flat()
  }

  /** the batch's deltas merged per row, copied (the caller's objects are neither kept nor changed) */
  #mergedDeltas (rows: readonly PartialRow[]): CompactDelta[] {
    const byRow = new Map<string, PartialRow>()
    for (const r of rows) {
      const k = windowId(r.window_start, r.event_type, r.region)
      const have = byRow.get(k)
      if (have === undefined) byRow.set(k, { ...r, partials: { ...emptyPartials(), response: new Map() } })
      mergePartials((byRow.get(k) as PartialRow).partials, r.partials)
    }
    return [...byRow.values()].map(compact)
  }

  async #readPosition (c: Container, id: string, fresh: boolean): Promise<Versioned<PositionDoc> | null> {
    if (!fresh) {
      const cached = this.#positions.get(id)
      if (cached !== undefined) return cached
    }
    const res = await this.#request(() => c.item(id, POS_PK).read<PositionDoc>())
    if (res.resource === undefined || res.statusCode === 404) {
      this.#positions.delete(id)
      return null
    }
    const v = { doc: strip(res.resource), etag: res.etag }
    this.#positions.set(id, v)
    return v
  }

  /** write a position document with IfMatch on the version read (create when there was none); null: someone else wrote it first */
  async #writePosition (c: Container, prev: Versioned<PositionDoc> | null, doc: PositionDoc): Promise<Versioned<PositionDoc> | null> {
    try {
      const res = prev === null
        ? await this.#request(() => c.items.create(doc))
        : await this.#request(() => c.item(doc.id, POS_PK).replace(doc, { accessCondition: { type: 'IfMatch', condition: prev.etag } }))
      const v = { doc: strip(res.resource as PositionDoc), etag: res.etag }
      this.#positions.set(doc.id, v)
      return v
    } catch (err) {
      const status = statusOf(err)
      if (status !== 412 && status !== 409 && status !== 404) throw err
      this.#stats.conflicts++
      this.#positions.delete(doc.id)
      return null
    }
  }

  /** Apply a claimed batch (`pos.doc.pending`) to its windows and dedup keys, then commit the position. */
  async #rollForward (c: Container, pos: Versioned<PositionDoc>): Promise<void> {
    const pending = pos.doc.pending as Pending
    const src = sourceKey(pos.doc.topic, pos.doc.partition)
    const value = parseOffset(pending.offset)
    let written = 0
    await eachLimit(pending.deltas, this.#concurrency, async (d) => {
      await this.#applyWindow(c, d, src, pending.offset, value)
      if (this.#crashAfter === 'first-window' && ++written === 1) throw new Error('simulated crash after the first window')
    })
    await this.#writeDedupKeys(c, pending.keys, pending.at)
    await this.#stampHours(c, pending.deltas)
    const committed: PositionDoc = {
      ...pos.doc,
      offset: pending.offset,
      watermark: maxOf(pos.doc.watermark, pending.watermark),
      maxEventTime: maxOf(pos.doc.maxEventTime, pending.maxEventTime),
      pending: null
    }
    // 412: another process rolled the same batch forward and committed it; nothing else can
    // change a position document while it holds a pending batch
    await this.#writePosition(c, pos, committed)
  }

  /** Add one delta to its window, once: read-modify-write with IfMatch, fenced by the source's offset. */
  async #applyWindow (c: Container, d: CompactDelta, src: string, offset: string, value: bigint): Promise<void> {
    const [windowStart, eventType, region, events, latencySum, latencyCount, revenueCents, bins] = d
    const expiresAt = windowStart + MINUTE_MS + this.retentionMs
    const id = windowId(windowStart, eventType, region)
    const pk = windowPk(windowStart)
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const now = this.#now()
      if (expiresAt <= now) return // a window already past the retention is not brought back
      let cur: Versioned<WindowDoc> | null | undefined = this.#windows.get(id)
      if (cur === undefined) {
        const res = await this.#request(() => c.item(id, pk).read<WindowDoc>())
        cur = res.resource === undefined || res.statusCode === 404 ? null : { doc: strip(res.resource), etag: res.etag }
      }
      const applied = cur?.doc.src[src]
      if (applied !== undefined && parseOffset(applied) >= value) return // this batch (or a later one) is in it already
      const ttl = Math.max(1, Math.ceil((expiresAt - now) / 1000) + TTL_SLACK_S)
      let next: WindowDoc
      if (cur === null) {
        next = { id, pk, kind: 'w', window_start: windowStart, event_type: eventType, region, events, latency_sum: latencySum, latency_count: latencyCount, revenue_cents: revenueCents, bins, src: { [src]: offset }, ttl }
      } else {
        const p = partialsOf(cur.doc)
        mergePartials(p, { events, latency_sum: latencySum, latency_count: latencyCount, revenue_cents: revenueCents, response: new Map(bins) })
        next = { ...cur.doc, events: p.events, latency_sum: p.latency_sum, latency_count: p.latency_count, revenue_cents: p.revenue_cents, bins: toBins(p.response), src: { ...cur.doc.src, [src]: offset }, ttl }
      }
      try {
        const prev = cur
        const res = prev === null
          ? await this.#request(() => c.items.create(next))
          : await this.#request(() => c.item(id, pk).replace(next, { accessCondition: { type: 'IfMatch', condition: prev.etag } }))
        this.#remember(id, { doc: strip(res.resource as WindowDoc), etag: res.etag })
        return
      } catch (err) {
        const status = statusOf(err)
        // 412 stale ETag, 409 lost the create race, 404 removed meanwhile: read it again and retry
        if (status !== 412 && status !== 409 && status !== 404) throw err
        this.#stats.conflicts++
        this.#windows.delete(id)
        await sleep(backoff(attempt))
      }
    }
    throw new Error(`cosmos speed store: window ${windowStart} ${eventType}/${region} stayed contended after ${this.#maxAttempts} attempts`)
  }

  /** count up the change counter of each hour the deltas fall in (patch incr: no ETag, no conflict) */
  async #stampHours (c: Container, deltas: readonly CompactDelta[]): Promise<void> {
    const now = this.#now()
    const hours = new Set<number>()
    for (const d of deltas) if (d[0] + MINUTE_MS + this.retentionMs > now) hours.add(Math.floor(d[0] / H) * H)
    await Promise.all([...hours].map(async (h) => {
      const pk = windowPk(h)
      // kept until every window of the hour has expired, so a counter never starts again at 1
      const ttl = Math.max(1, Math.ceil((h + H + this.retentionMs - now) / 1000) + TTL_SLACK_S)
      for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
        try {
          await this.#request(() => c.item(STAMP, pk).patch([{ op: 'incr', path: '/n', value: 1 }, { op: 'set', path: '/ttl', value: ttl }]))
          return
        } catch (err) {
          if (statusOf(err) !== 404) throw err
        }
        try {
          await this.#request(() => c.items.create({ id: STAMP, pk, kind: 's', n: 1, ttl }))
          return
        } catch (err) {
          if (statusOf(err) !== 409) throw err // created meanwhile: count up
        }
      }
    }))
  }

  /** keep the version just written; drop versions of windows past the retention */
  #remember (id: string, v: Versioned<WindowDoc>): void {
    this.#windows.set(id, v)
    if (this.#windows.size <= 4096) return
    const horizon = this.#now() - this.retentionMs
    for (const [k, w] of this.#windows) if (w.doc.window_start + MINUTE_MS <= horizon) this.#windows.delete(k)
    // still large (many rows a minute): forget the older half, they are read again when needed
    if (this.#windows.size > 4096) for (const k of [...this.#windows.keys()].slice(0, this.#windows.size >> 1)) this.#windows.delete(k)
  }

  /**
   * Upsert one document per dedup key (idempotent, so a rolled-forward batch may write them again),
   * 100 to a bulk request (the most one request takes for one partition key), a few requests at
   * once. The older `items.bulk` and not `executeBulkOperations`: the latter holds a partial batch
   * back for a second to gather more, which would put a one-second floor under every apply.
   */
  async #writeDedupKeys (c: Container, ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return
    const exp = at + this.#dedupWindowMs
    const ttl = Math.ceil((exp - this.#now()) / 1000)
    if (ttl <= 0) return // already past the dedup window
    const pk = 'd:' + hourKey(at)
    const chunks: OperationInput[][] = []
    for (let i = 0; i < ids.length; i += BULK_CHUNK) {
      chunks.push(ids.slice(i, i + BULK_CHUNK).map((k) => ({
        operationType: BulkOperationType.Upsert,
        partitionKey: pk,
        resourceBody: { id: k, pk, kind: 'd', exp, ttl: ttl + TTL_SLACK_S }
      })))
    }
    await eachLimit(chunks, 4, async (chunk) => {
      let todo = chunk
      for (let attempt = 1; todo.length > 0; attempt++) {
        const ops = todo
        const results = await this.#request(() => c.items.bulk(ops, { continueOnError: true })) // deprecated, see above
        const again: OperationInput[] = []
        let wait = 0
        results.forEach((r, i) => {
          this.#stats.requestCharge += r.requestCharge ?? 0
          if (r.statusCode >= 200 && r.statusCode < 300) return
          if ((r.statusCode !== 429 && r.statusCode !== 449 && r.statusCode !== 408 && r.statusCode !== 503) || attempt >= this.#maxAttempts) {
            throw new Error(`cosmos speed store: writing dedup keys failed with status ${r.statusCode}`)
          }
          again.push(ops[i] as OperationInput)
          wait = Math.max(wait, backoff(attempt + 3)) // a bulk result carries no retry-after
        })
        if (again.length > 0) {
          this.#stats.throttled++
          await sleep(wait)
        }
        todo = again
      }
    })
  }
}
