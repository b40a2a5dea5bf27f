// The speed store's reachability, watched from every call the app makes to it. An error that says the store did not
// answer (connection refused or lost, a command timed out, a cluster without its slots) starts an outage: readiness
// names the store until a call succeeds again. The answers' view of the store (`served`) meanwhile reports the store as
// holding nothing (coverage null, so the speed range is a `speed_not_covered` gap) without waiting on it, while one
// probe at a time asks it again; writers (the speed pipeline) get the error and wait for the store (speed-path.ts).
import type { Coverage, PartialRow, SpeedStore } from '../model/index.js'

/** Messages and codes of a store that did not answer (ioredis, its cluster client, sockets, Cosmos DB's SDK). */
const UNREACHABLE = new RegExp([
  'Command timed out', 'Connection is closed', 'Stream isn\'t writeable', 'max retries per request', 'ECONNREFUSED', 'ECONNRESET',
  'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'CLUSTERDOWN', 'TRYAGAIN', 'MASTERDOWN', 'LOADING', 'Failed to refresh slots cache',
  'None of startup nodes is available', 'Cluster isn\'t ready', 'did not answer in'
].join('|'), 'i')
const UNREACHABLE_CODES = new Set<unknown>(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 408, 503])

/** Whether `err` says the store did not answer (rather than refused a call). */
export function storeUnreachable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  return err.name === 'MaxRetriesPerRequestError' || UNREACHABLE_CODES.has(code) || UNREACHABLE.test(err.message)
}

/** `since` (epoch ms) the store does not answer, with the last error; null: it answers (again). */
export type StoreOutageListener = (since: number | null, err?: Error) => void

const NOTHING: Coverage = { oldest: null, newest: null, watermark: null, maxEventTime: null, coveredFrom: null }

export class StoreWatch {
  readonly #store: SpeedStore
  readonly #now: () => number
  readonly #onOutage: StoreOutageListener
  #since: number | null = null
  #probing: Promise<void> | null = null
  #tokens = 0
  /** the store as the app's writers and readers other than the answers use it: errors pass, outages are noted */
  readonly store: SpeedStore
  /** the store as the answers read it: while it does not answer, it holds nothing */
  readonly served: SpeedStore

  /** `deadlineMs`: a call not settled by then fails as unreachable (its command may still run: an apply is fenced by its position) */
  constructor (store: SpeedStore, { now, onOutage, deadlineMs }: { now: () => number, onOutage: StoreOutageListener, deadlineMs?: number }) {
    this.#now = now
    this.#onOutage = onOutage
    this.#store = deadlineMs === undefined ? store : withDeadline(store, deadlineMs)
    const s = this.#store
    const watched = <A extends unknown[], T>(call: (...a: A) => Promise<T>) => async (...a: A): Promise<T> => {
      try {
        const value = await call(...a)
        this.#answered()
        return value
      } catch (err) {
        this.#failed(err)
        throw err
      }
    }
    this.store = wrapCalls(s, watched)
    this.served = {
      ...this.store,
      query: (from, to, f) => this.#read(() => s.query(from, to, f), (): PartialRow[] => []),
      coverage: () => this.#read(() => s.coverage(), () => ({ ...NOTHING })),
      // a token no other call returns: nothing read while the store is away is kept
      changeToken: (from, to) => this.#read(() => s.changeToken(from, to), () => `unreachable:${this.#now()}:${++this.#tokens}`)
    }
  }

  /** since when the store does not answer (epoch ms), or null */
  get outageSince (): number | null {
    return this.#since
  }

  async #read<T> (call: () => Promise<T>, nothing: () => T): Promise<T> {
    if (this.#since !== null) {
      this.#probe()
      return nothing()
    }
    try {
      const value = await call()
      this.#answered()
      return value
    } catch (err) {
      if (!storeUnreachable(err)) throw err
      this.#failed(err)
      return nothing()
    }
  }

  #probe (): void {
    if (this.#probing !== null) return
    this.#probing = this.#store.coverage()
      .then(() => this.#answered(), (err: unknown) => this.#failed(err))
      .finally(() => { this.#probing = null })
  }

  #answered (): void {
    if (this.#since === null) return
    this.#since = null
    this.#onOutage(null)
  }

  #failed (err: unknown): void {
    if (this.#since !== null || !storeUnreachable(err)) return
    this.#since = this.#now()
    this.#onOutage(this.#since, err as Error)
  }
}

export type Wrap = <A extends unknown[], T>(call: (...a: A) => Promise<T>) => (...a: A) => Promise<T>

/** The store with `wrap` around each of its calls (close() aside). */
export function wrapCalls (s: SpeedStore, wrap: Wrap): SpeedStore {
  return {
    kind: s.kind,
    keepsDedupKeys: s.keepsDedupKeys,
    apply: wrap((b) => s.apply(b)),
    query: wrap((from, to, f) => s.query(from, to, f)),
    coverage: wrap(() => s.coverage()),
    position: wrap((topic, p) => s.position(topic, p)),
    setCoveredFrom: wrap((t) => s.setCoveredFrom(t)),
    seen: wrap((keys) => s.seen(keys)),
    changeToken: wrap((from, to) => s.changeToken(from, to)),
    close: () => s.close()
  }
}

/** The store with every call failing after `ms` when it has not settled by then. */
function withDeadline (s: SpeedStore, ms: number): SpeedStore {
  return wrapCalls(s, (call) => (...a) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${s.kind} speed store did not answer in ${ms} ms`)), ms)
    call(...a).then(resolve, reject).finally(() => clearTimeout(timer))
  }))
}
