// The Redis speed store (ioredis), same contract as the memory store (src/model/speed-store.ts). One Lua script applies
// a batch atomically, fenced by the source position of its (topic, partition) and `previous`; keys: redis/keys.ts, the
// script and its arguments: redis/apply-script.ts. Retention and dedup expiry follow the injected clock `now`, and
// every TTL set in Redis is the remaining life by that clock, so keys expire when the store stops returning them.
import { randomBytes } from 'node:crypto'
import { createRedisClient, type RedisClient } from './redis-client.js'
import { type ApplyBatch, type Coverage, type Filters, MINUTE_MS, type PartialRow, partitionKey, type SpeedStore, type UnseenApply } from '../../model/index.js'
import { APPLY, assertInteger, encodeApply } from './redis/apply-script.js'
import { decodeWindows, packDedupKeys, type StoreKeys, storeKeys } from './redis/keys.js'
import { evalScript, SEEN, TOKEN } from './redis/lua.js'

export interface RedisSpeedStoreOptions {
  /** redis://host:port (or a cluster's seed nodes, comma-separated, with `cluster`); the store creates (and on close quits) its own client */
  url?: string
  /** `url` lists seed nodes of a Redis Cluster */
  cluster?: boolean
  /** a Redis command not answered in this long fails (default: it waits) */
  commandTimeoutMs?: number
  /** or a client owned by the caller (not quit on close) */
  client?: RedisClient
  /** hash tag of every key: `{hg}:…` */
  keyPrefix: string
  retentionMs: number
  /** how long dedup keys are remembered, by the clock */
  dedupWindowMs: number
  /** the clock that drives retention and dedup expiry (tests move it) */
  now?: () => number
}

/** How many times a query re-reads when an apply changed the window list under it. */
const QUERY_ATTEMPTS = 5

export class RedisSpeedStore implements SpeedStore {
  readonly kind = 'redis'
  readonly keepsDedupKeys = true
  readonly retentionMs: number
  readonly keyPrefix: string
  readonly #client: RedisClient
  readonly #ownClient: boolean
  readonly #now: () => number
  readonly #dedupWindowMs: number
  readonly #keys: StoreKeys
  #closed: Promise<void> | null = null

  constructor (options: RedisSpeedStoreOptions) {
    if (options.client !== undefined) {
      this.#client = options.client
      this.#ownClient = false
    } else if (options.url !== undefined) {
      this.#client = createRedisClient(options.url, {
        ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
        ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs })
      })
      this.#ownClient = true
    } else {
      throw new TypeError('RedisSpeedStore needs a url or a client')
    }
    this.keyPrefix = options.keyPrefix
    if (this.keyPrefix.length === 0 || /[{}]/.test(this.keyPrefix)) {
      throw new TypeError(`keyPrefix must be non-empty, without braces, got ${JSON.stringify(this.keyPrefix)}`)
    }
    this.retentionMs = options.retentionMs
    this.#dedupWindowMs = options.dedupWindowMs
    assertInteger('retentionMs', this.retentionMs)
    assertInteger('dedupWindowMs', this.#dedupWindowMs)
    if (this.retentionMs <= 0 || this.#dedupWindowMs <= 0) throw new TypeError('retentionMs and dedupWindowMs must be positive')
    this.#now = options.now ?? Date.now
    this.#keys = storeKeys(this.keyPrefix)
  }

  /** The Redis key of a window (for tests and operators). */
  windowKey (windowStart: number): string {
    return this.#keys.window + windowStart
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    return await this.#apply(batch, false) === 1
  }

  /** apply() with the check of seen() in the same script: nothing is applied when some dedup keys are recorded */
  async applyUnseen (batch: ApplyBatch): Promise<UnseenApply> {
    const r = await this.#apply(batch, true)
    return Array.isArray(r) ? { applied: false, seen: (r as number[]).slice(1) } : { applied: r === 1, seen: [] }
  }

  async #apply (batch: ApplyBatch, unseenOnly: boolean): Promise<unknown> {
    const { keys, args } = encodeApply(batch, this.#keys, {
      now: this.#now(), retentionMs: this.retentionMs, dedupWindowMs: this.#dedupWindowMs, callId: randomBytes(9).toString('base64url'), unseenOnly
    })
    return await evalScript(this.#client, APPLY, keys, args)
  }

  async query (from: number, to: number, filters: Filters): Promise<PartialRow[]> {
    const types = filters.event_type !== undefined && filters.event_type.length > 0 ? new Set(filters.event_type) : null
    const regions = filters.region !== undefined && filters.region.length > 0 ? new Set(filters.region) : null
    const [min, max] = this.#range(from, to)
    if (min === null) return []
    // The window list and the windows are read in one MULTI, so the answer is one consistent
    // snapshot (never half a batch); the list read just before tells which windows to ask for.
    let starts = await this.#client.zrangebyscore(this.#keys.idx, min, max)
    for (let attempt = 1; ; attempt++) {
      if (starts.length === 0) return []
      const multi = this.#client.multi().zrangebyscore(this.#keys.idx, min, max)
      // raw arrays (no object per hash): the hour's windows hold tens of thousands of fields
      for (const s of starts) multi.call('HGETALL', this.#keys.window + s)
      const replies = await multi.exec()
      if (replies === null) throw new Error('redis: query transaction aborted')
      for (const [err] of replies) if (err !== null) throw err
      const listed = replies[0]?.[1] as string[]
      if (listed.length === starts.length && listed.every((s, i) => s === starts[i])) {
        return decodeWindows(starts, replies.slice(1).map((r) => r[1] as string[]), types, regions)
      }
      if (attempt >= QUERY_ATTEMPTS) throw new Error('redis: the window list kept changing during a query')
      starts = listed
    }
  }

  async seen (keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    const seen = await evalScript(this.#client, SEEN, [this.#keys.dk, this.#keys.dkOld], [String(this.#now()), packDedupKeys(keys)]) as number[]
    return seen.map((s) => s === 1)
  }

  /**
   * Changes whenever the rows of [from, to) may have changed: an apply touched one of those
   * windows (windows carry the stamp of the last apply that touched them; stamps only grow), or
   * the retention passed one of them (the eviction bound, clamped to the range, only grows). The
   * epoch changes when Redis lost the store's state. So (epoch, bound, newest stamp) never repeats.
   */
  async changeToken (from: number, to: number): Promise<string> {
    const now = this.#now()
    // windows with start ≤ evicted are gone (minute windows)
    const evicted = Math.floor((now - this.retentionMs - MINUTE_MS) / MINUTE_MS) * MINUTE_MS
    const bound = Math.min(Math.max(evicted, from - 1), to)
    const [min, max] = this.#range(from, to)
    if (min === null) return `-:${bound}:0` // an empty range never changes
    const [epoch, newest] = await evalScript(this.#client, TOKEN, [this.#keys.idx, this.#keys.st, this.#keys.meta], [min, max]) as [string, string]
    return `${epoch}:${bound}:${newest}`
  }

  async coverage (): Promise<Coverage> {
    const now = this.#now()
    const horizon = now - this.retentionMs
    const retainedMin = `(${horizon - MINUTE_MS}`
    const replies = await this.#client.multi()
      .zrangebyscore(this.#keys.idx, retainedMin, '+inf', 'LIMIT', 0, 1)
      .zrevrangebyscore(this.#keys.idx, '+inf', retainedMin, 'LIMIT', 0, 1)
      .hmget(this.#keys.meta, 'watermark', 'maxEventTime', 'coveredFrom')
      .exec()
    if (replies === null) throw new Error('redis: coverage transaction aborted')
    for (const [err] of replies) if (err !== null) throw err
    const first = (replies[0]?.[1] as string[])[0]
    const last = (replies[1]?.[1] as string[])[0]
    const [watermark, maxEventTime, coveredFrom] = (replies[2]?.[1] as Array<string | null>).map((v) => v === null || v === undefined ? null : Number(v))
    const retained = Math.floor(horizon / MINUTE_MS) * MINUTE_MS // the window holding the horizon is kept whole
    return {
      oldest: first === undefined ? null : Number(first),
      newest: last === undefined ? null : Number(last),
      watermark: watermark ?? null,
      maxEventTime: maxEventTime ?? null,
      coveredFrom: coveredFrom === null || coveredFrom === undefined ? null : Math.max(coveredFrom, retained)
    }
  }

  async position (topic: string, partition: number): Promise<string | null> {
    return await this.#client.hget(this.#keys.pos, partitionKey(topic, partition))
  }

  async setCoveredFrom (t: number): Promise<void> {
    assertInteger('coveredFrom', t)
    await this.#client.hset(this.#keys.meta, 'coveredFrom', String(t))
  }

  async close (): Promise<void> {
    this.#closed ??= this.#ownClient
      ? this.#client.quit().then(() => undefined, () => { this.#client.disconnect() })
      : Promise.resolve()
    return await this.#closed
  }

  /** ZRANGEBYSCORE bounds for the retained windows with start in [from, to), or [null] when none can be. */
  #range (from: number, to: number): [string, string] | [null] {
    const x = this.#now() - this.retentionMs - MINUTE_MS // start ≤ x: past the retention
    if (!(to > from) || to <= x + 1) return [null]
    return [from > x ? String(from) : `(${x}`, `(${to}`]
  }
}
