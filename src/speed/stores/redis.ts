// The Redis speed store (ioredis). Same contract as the memory store (src/model/speed-store.ts):
// one row per (minute window, event_type, region), kept for the retention; apply is idempotent,
// fenced by the source position of each (topic, partition), and a compare-and-set on that
// position when the batch says which one it was computed after (`previous`).
//
// Key layout: every key of one store carries the same hash tag, `{<keyPrefix>}`, so all of them
// live in ONE hash slot. That is what lets one Lua script read and write all of them atomically on
// Redis Cluster too (a script may only touch keys of one slot, and must name them in KEYS, which
// the apply script does, window keys included). The trade-off: one shard carries the whole speed
// layer of a store. Spreading it (a hash tag per partition, say) would split the load, but then the
// position of a batch and every window it touches must share that partition's slot: windows
// would be per partition too, and every query would have to read and add up the copies of each
// window from all partitions' slots. One slot is simplest and the speed layer is small (an hour of
// minute windows); a deployment that outgrows one shard runs one store (key prefix) per group of
// partitions.
//
//   {p}:w:<window_start>  hash, one per minute window; fields `<len(event_type)>:<event_type>|<region>|<part>`,
//                         part e (events), ls (latency_sum), lc (latency_count), rc (revenue_cents),
//                         b<bin> (sketch bin counts). TTL: expires at window end + retention.
//   {p}:idx               sorted set of window starts (score = member = window_start)
//   {p}:st                hash window_start → change stamp (for changeToken); idx and st expire
//                         with the newest window
//   {p}:pos               hash `<topic>\0<partition>` → last applied offset, canonical decimal
//                         (no TTL: positions outlive the windows, as in the memory store), and
//                         `<topic>\0<partition>\0r` → the id of the call that applied it
//                         (ioredis resends unanswered commands after a reconnect: the resent
//                         call then answers true, as the first one would have)
//   {p}:meta              hash watermark, maxEventTime, coveredFrom, changes (stamp counter),
//                         epoch (random, created by the first apply: a Redis that lost its state
//                         starts a new epoch, so change tokens never repeat across it)
//   {p}:dk                sorted set dedup key → expiry (store clock); trimmed by every apply and
//                         expiring as a whole one dedup window after the last apply that added keys
//
// Time: retention and dedup expiry are judged by the injected clock `now` (tests move it), and
// every TTL set in Redis is the remaining life by that clock (PEXPIRE of expiry − now), so in
// production (now = Date.now) keys expire in Redis exactly when the store stops returning them,
// and memory stays bounded.
//
// Numbers: counts are HINCRBY (int64); latency_sum is added in Lua as a double and stored with
// 17 significant digits, so it is bit for bit the sum the memory store computes (HINCRBYFLOAT adds
// in long double and prints fewer digits, which would drift from the JavaScript sum). Offsets are
// int64 decimal strings, compared in Lua by sign, length and digits, never as doubles.
//
// The batch travels as flat ARGV (one string per number). Measured against one cjson string for
// the same 500 deltas × 30 bins: the client encodes a little faster, but the script takes about
// twice as long (decoding into Lua tables), and Redis time is what every partition shares.
// Windows must start on a whole minute (the speed layer's windows do): eviction and change tokens
// work in minutes. A query reads the window list and the windows in one MULTI, so it never sees
// half a batch.
import { createHash, randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import {
  type ApplyBatch, type Coverage, emptyPartials, type Filters, MINUTE_MS, type PartialRow,
  type SpeedStore
} from '../../model/index.js'
import { partitionKey } from '../../model/source-position.js'
import { parseOffset } from '../offsets.js'
import { DEFAULT_RETENTION_MS } from './memory.js'

export interface RedisSpeedStoreOptions {
  /** redis://host:port; the store creates (and on close quits) its own client */
  url?: string
  /** or a client owned by the caller (not quit on close) */
  client?: Redis
  /** hash tag of every key: `{hg}:…` */
  keyPrefix?: string // 'hg'
  retentionMs?: number // one hour
  /** how long dedup keys are remembered, by the clock */
  dedupWindowMs?: number // five minutes
  /** the clock that drives retention and dedup expiry (tests move it) */
  now?: () => number
}

// The apply script. KEYS: 1 pos, 2 meta, 3 idx, 4 st, 5 dk, then one key per window (in ARGV order).
// ARGV: 1 position field, 2 offset (canonical), 3 now, 4 eviction bound x (windows with start ≤ x
// are past the retention), 5 watermark or '', 6 maxEventTime or '', 7 dedup expiry, 8 dedup TTL,
// 9 call id (random: the epoch if this apply starts one, and kept with the position so that a
// resent call is recognised), 10 window count, 11 dedup key count, 12 the expected stored position
// ('' any, 'n' none, 'v<offset>' exactly that offset), then the dedup keys, then per window:
// start, TTL (ms), row count, and per row: field prefix, events, latency_sum, latency_count,
// revenue_cents, bin count, then bin, n pairs.
// Everything that can fail is checked in TypeScript first; the script reads before it writes.
const APPLY_LUA = `
local function newer(a, b)
  local an, bn = string.byte(a, 1) == 45, string.byte(b, 1) == 45
  if an ~= bn then return bn end
  local r = 0
  if #a ~= #b then
    if #a > #b then r = 1 else r = -1 end
  else
    for i = 1, #a do
      local x, y = string.byte(a, i), string.byte(b, i)
      if x ~= y then
        if x > y then r = 1 else r = -1 end
        break
      end
    end
  end
  if an then r = -r end
  return r > 0
end
local pos, meta, idx, st, dk = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local last = redis.call('HGET', pos, ARGV[1])
if last and not newer(ARGV[2], last) then
  -- the same call delivered twice (a client resending after a reconnect) still says it applied
  if last == ARGV[2] and redis.call('HGET', pos, ARGV[1] .. '\\0r') == ARGV[9] then return 1 end
  return 0
end
local previous = ARGV[12]
if previous == 'n' then
  if last then return 0 end
elseif previous ~= '' then
  if last ~= string.sub(previous, 2) then return 0 end
end
local now = ARGV[3]
local x = ARGV[4]
local old = redis.call('ZRANGEBYSCORE', idx, '-inf', x)
if #old > 0 then
  for i = 1, #old, 1000 do
    redis.call('HDEL', st, unpack(old, i, math.min(i + 999, #old)))
  end
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', x)
end
local nw = tonumber(ARGV[10])
local nk = tonumber(ARGV[11])
local a = 13
if nk > 0 then
  redis.call('ZREMRANGEBYSCORE', dk, '-inf', now)
  local untilT = ARGV[7]
  local chunk = {}
  for i = 1, nk do
    chunk[#chunk + 1] = untilT
    chunk[#chunk + 1] = ARGV[a]
    a = a + 1
    if #chunk >= 2000 then
      redis.call('ZADD', dk, unpack(chunk))
      chunk = {}
    end
  end
  if #chunk > 0 then redis.call('ZADD', dk, unpack(chunk)) end
  redis.call('PEXPIRE', dk, ARGV[8])
end
if nw > 0 then
  redis.call('HSETNX', meta, 'epoch', ARGV[9])
  local stamp = redis.call('HINCRBY', meta, 'changes', 1)
  local maxTtl = 0
  for w = 1, nw do
    local key = KEYS[5 + w]
    local start = ARGV[a]
    local ttl = tonumber(ARGV[a + 1])
    local nr = tonumber(ARGV[a + 2])
    a = a + 3
    for r = 1, nr do
      local p = ARGV[a]
      redis.call('HINCRBY', key, p .. 'e', ARGV[a + 1])
      if ARGV[a + 2] ~= '0' then
        local cur = redis.call('HGET', key, p .. 'ls')
        local sum = tonumber(ARGV[a + 2])
        if cur then sum = tonumber(cur) + sum end
        redis.call('HSET', key, p .. 'ls', string.format('%.17g', sum))
      end
      if ARGV[a + 3] ~= '0' then redis.call('HINCRBY', key, p .. 'lc', ARGV[a + 3]) end
      if ARGV[a + 4] ~= '0' then redis.call('HINCRBY', key, p .. 'rc', ARGV[a + 4]) end
      local nb = tonumber(ARGV[a + 5])
      a = a + 6
      local pb = p .. 'b'
      for b = 1, nb do
        redis.call('HINCRBY', key, pb .. ARGV[a], ARGV[a + 1])
        a = a + 2
      end
    end
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', idx, start, start)
    redis.call('HSET', st, start, stamp)
    if ttl > maxTtl then maxTtl = ttl end
  end
  local left = redis.call('PTTL', idx)
  if left < maxTtl then
    redis.call('PEXPIRE', idx, maxTtl)
    redis.call('PEXPIRE', st, maxTtl)
  end
end
if ARGV[5] ~= '' then
  local w = redis.call('HGET', meta, 'watermark')
  if not w or tonumber(ARGV[5]) > tonumber(w) then redis.call('HSET', meta, 'watermark', ARGV[5]) end
end
if ARGV[6] ~= '' then
  local m = redis.call('HGET', meta, 'maxEventTime')
  if not m or tonumber(ARGV[6]) > tonumber(m) then redis.call('HSET', meta, 'maxEventTime', ARGV[6]) end
end
redis.call('HSET', pos, ARGV[1], ARGV[2], ARGV[1] .. '\\0r', ARGV[9])
return 1
`

// The change token's data, read in one step. KEYS: 1 idx, 2 st, 3 meta. ARGV: 1 min score, 2 max score.
const TOKEN_LUA = `
local starts = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
local newest = 0
for i = 1, #starts, 1000 do
  local stamps = redis.call('HMGET', KEYS[2], unpack(starts, i, math.min(i + 999, #starts)))
  for _, s in ipairs(stamps) do
    if s then
      local n = tonumber(s)
      if n > newest then newest = n end
    end
  end
end
local epoch = redis.call('HGET', KEYS[3], 'epoch')
return { epoch or '-', tostring(newest) }
`

interface Script { lua: string, sha: string }

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })
const APPLY = script(APPLY_LUA)
const TOKEN = script(TOKEN_LUA)

const SEEN_CHUNK = 10_000

/** How many times a query re-reads when an apply changed the window list under it. */
const QUERY_ATTEMPTS = 5

function isNoScript (err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}

const rowField = (eventType: string, region: string): string => `${eventType.length}:${eventType}|${region}|`

function assertInteger (what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${what} must be a safe integer, got ${String(v)}`)
}

function assertFinite (what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${what} must be a finite number, got ${String(v)}`)
}

function assertString (what: string, v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${typeof v}`)
}

export class RedisSpeedStore implements SpeedStore {
  readonly kind = 'redis'
  readonly keepsDedupKeys = true
  readonly retentionMs: number
  readonly keyPrefix: string
  readonly #client: Redis
  readonly #ownClient: boolean
  readonly #now: () => number
  readonly #dedupWindowMs: number
  readonly #keys: { pos: string, meta: string, idx: string, st: string, dk: string }
  readonly #windowPrefix: string
  #closed: Promise<void> | null = null

  constructor (options: RedisSpeedStoreOptions) {
    if (options.client !== undefined) {
      this.#client = options.client
      this.#ownClient = false
    } else if (options.url !== undefined) {
      this.#client = new Redis(options.url, { lazyConnect: false })
      this.#ownClient = true
    } else {
      throw new TypeError('RedisSpeedStore needs a url or a client')
    }
    this.keyPrefix = options.keyPrefix ?? 'hg'
    if (this.keyPrefix.length === 0 || /[{}]/.test(this.keyPrefix)) throw new TypeError(`keyPrefix must be non-empty, without braces, got ${JSON.stringify(this.keyPrefix)}`)
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS
    this.#dedupWindowMs = options.dedupWindowMs ?? 300_000
    assertInteger('retentionMs', this.retentionMs)
    assertInteger('dedupWindowMs', this.#dedupWindowMs)
    if (this.retentionMs <= 0 || this.#dedupWindowMs <= 0) throw new TypeError('retentionMs and dedupWindowMs must be positive')
    this.#now = options.now ?? Date.now
    const tag = `{${this.keyPrefix}}`
    this.#keys = { pos: `${tag}:pos`, meta: `${tag}:meta`, idx: `${tag}:idx`, st: `${tag}:st`, dk: `${tag}:dk` }
    this.#windowPrefix = `${tag}:w:`
  }

  /** The Redis key of a window (for tests and operators). */
  windowKey (windowStart: number): string {
    return this.#windowPrefix + windowStart
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    const { topic, partition, offset } = batch.position
    assertString('position.topic', topic)
    assertInteger('position.partition', partition)
    const canonical = parseOffset(offset).toString()
    // compare-and-set: offsets are stored in canonical form, so `previous` is compared in it too
    const previous = batch.previous === undefined || batch.previous === null ? null : parseOffset(batch.previous).toString()
    if (batch.watermark !== undefined) assertInteger('watermark', batch.watermark)
    if (batch.maxEventTime !== undefined) assertInteger('maxEventTime', batch.maxEventTime)
    const now = this.#now()
    // a window is past the retention when it ended at or before now − retention: start ≤ x
    const x = now - this.retentionMs - MINUTE_MS

    // group the deltas by window (validated here, so the script never fails half way)
    const windows = new Map<number, string[]>()
    const rows = new Map<number, number>()
    for (const d of batch.deltas) {
      assertInteger('window_start', d.window_start)
      if (d.window_start % MINUTE_MS !== 0) throw new TypeError(`window_start must be a whole minute, got ${d.window_start}`)
      assertString('event_type', d.event_type)
      assertString('region', d.region)
      const p = d.partials
      assertInteger('events', p.events)
      assertFinite('latency_sum', p.latency_sum)
      assertInteger('latency_count', p.latency_count)
      assertInteger('revenue_cents', p.revenue_cents)
      if (d.window_start <= x) continue // not brought back
      let args = windows.get(d.window_start)
      if (args === undefined) {
        args = []
        windows.set(d.window_start, args)
        rows.set(d.window_start, 0)
      }
      rows.set(d.window_start, (rows.get(d.window_start) as number) + 1)
      args.push(rowField(d.event_type, d.region), String(p.events), String(p.latency_sum), String(p.latency_count), String(p.revenue_cents), String(p.response.size))
      for (const [bin, n] of p.response) {
        assertInteger('sketch bin', bin)
        assertInteger('sketch count', n)
        args.push(String(bin), String(n))
      }
    }
    const dedupKeys = batch.dedupKeys ?? []
    for (const k of dedupKeys) assertString('dedup key', k)

    const keys = [this.#keys.pos, this.#keys.meta, this.#keys.idx, this.#keys.st, this.#keys.dk]
    const args: string[] = [
      partitionKey(topic, partition), canonical, String(now), String(x),
      batch.watermark === undefined ? '' : String(batch.watermark),
      batch.maxEventTime === undefined ? '' : String(batch.maxEventTime),
      String(now + this.#dedupWindowMs), String(this.#dedupWindowMs),
      randomBytes(9).toString('base64url'),
      String(windows.size), String(dedupKeys.length),
      batch.previous === undefined ? '' : batch.previous === null ? 'n' : 'v' + previous,
      ...dedupKeys
    ]
    for (const [start, rowArgs] of windows) {
      keys.push(this.windowKey(start))
      // the window expires one retention after it ends, by the store clock
      args.push(String(start), String(start + MINUTE_MS + this.retentionMs - now), String(rows.get(start)))
      for (const a of rowArgs) args.push(a)
    }
    return await this.#eval(APPLY, keys, args) === 1
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
      for (const s of starts) multi.call('HGETALL', this.#windowPrefix + s)
      const replies = await multi.exec()
      if (replies === null) throw new Error('redis: query transaction aborted')
      for (const [err] of replies) if (err !== null) throw err
      const listed = replies[0]?.[1] as string[]
      if (listed.length === starts.length && listed.every((s, i) => s === starts[i])) {
        return this.#decode(starts, replies.slice(1).map((r) => r[1] as string[]), types, regions)
      }
      if (attempt >= QUERY_ATTEMPTS) throw new Error('redis: the window list kept changing during a query')
      starts = listed
    }
  }

  async seen (keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    const now = this.#now()
    // one round trip, in chunks of ten thousand members
    const pipeline = this.#client.pipeline()
    for (let i = 0; i < keys.length; i += SEEN_CHUNK) pipeline.zmscore(this.#keys.dk, ...keys.slice(i, i + SEEN_CHUNK))
    const replies = await pipeline.exec()
    if (replies === null) throw new Error('redis: seen pipeline aborted')
    const out: boolean[] = []
    for (const [err, scores] of replies) {
      if (err !== null) throw err
      for (const s of scores as Array<string | null>) out.push(s !== null && Number(s) > now)
    }
    return out
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
    const [epoch, newest] = await this.#eval(TOKEN, [this.#keys.idx, this.#keys.st, this.#keys.meta], [min, max]) as [string, string]
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

  #decode (starts: string[], hashes: string[][], types: Set<string> | null, regions: Set<string> | null): PartialRow[] {
    const out: PartialRow[] = []
    for (let i = 0; i < starts.length; i++) {
      const start = Number(starts[i])
      const flat = hashes[i] as string[]
      const byRow = new Map<string, PartialRow | null>()
      for (let f = 0; f < flat.length; f += 2) {
        const field = flat[f] as string
        const cut = field.lastIndexOf('|')
        const prefix = field.slice(0, cut)
        let row = byRow.get(prefix)
        if (row === undefined) {
          const colon = field.indexOf(':')
          const typeStart = colon + 1
          const typeEnd = typeStart + Number(field.slice(0, colon))
          const eventType = field.slice(typeStart, typeEnd)
          const region = field.slice(typeEnd + 1, cut)
          if ((types !== null && !types.has(eventType)) || (regions !== null && !regions.has(region))) {
            row = null
          } else {
            row = { window_start: start, event_type: eventType, region, partials: emptyPartials() }
            out.push(row)
          }
          byRow.set(prefix, row)
        }
        if (row === null) continue
        const value = Number(flat[f + 1])
        const p = row.partials
        const kind = field.charCodeAt(cut + 1)
        if (kind === 98) { // b<bin>
          p.response.set(Number(field.slice(cut + 2)), value)
        } else if (kind === 101) { // e
          p.events = value
        } else if (kind === 108) { // ls, lc
          if (field.charCodeAt(cut + 2) === 115) p.latency_sum = value
          else p.latency_count = value
        } else { // rc
          p.revenue_cents = value
        }
      }
    }
    return out
  }

  /** EVALSHA, and EVAL when Redis does not have the script (yet, or any more). */
  async #eval (s: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      // one array (ioredis flattens it): a batch has tens of thousands of arguments
      return await this.#client.evalsha(s.sha, keys.length, [...keys, ...args])
    } catch (err) {
      if (!isNoScript(err)) throw err
      return await this.#client.eval(s.lua, keys.length, [...keys, ...args])
    }
  }
}
