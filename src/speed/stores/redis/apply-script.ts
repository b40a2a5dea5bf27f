// The apply script of the Redis store and the encoding of a batch into its KEYS and ARGV. The batch is checked here
// first, so the script (atomic: it reads before it writes) never fails half way. Offsets are compared in Lua as
// int64 decimal strings (sign, length, digits), never as doubles; latency_sum is added as a double and stored with
// 17 significant digits, so it is bit for bit the sum the memory store computes.
import { type ApplyBatch, MINUTE_MS, partitionKey } from '../../../model/index.js'
import { parseOffset } from '../../offsets.js'
import { packDedupKeys, rowField, SENTIMENT_COUNTS, type StoreKeys } from './keys.js'
import { script } from './lua.js'

// KEYS: 1 pos, 2 meta, 3 idx, 4 st, 5 dk, 6 dk:old, then one key per window (in ARGV order).
// ARGV: 1 position field, 2 offset (canonical), 3 now, 4 eviction bound x (windows with start ≤ x
// are past the retention), 5 watermark or '', 6 maxEventTime or '', 7 dedup expiry, 8 dedup TTL,
// 9 call id (random: the epoch if this apply starts one, and kept with the position so that a
// resent call is recognised), 10 window count, 11 the expected stored position ('' any, 'n' none,
// 'v<offset>' exactly that offset), 12 the dedup keys (8-byte hashes in one string), 13 '1': apply only
// when none of the dedup keys is recorded, else return their indexes; then per window: start, TTL (ms),
// the integer parts as a JSON array [field, increment, …], the latency sums as one [field, sum, …].
// Few arguments, decoded by cjson in C: far cheaper in redis-server than one bulk string per value,
// and one HMGET + one HSET per window instead of one HINCRBY per part and bin.
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
-- HMGET / HSET over a long list, in slices (Lua's stack holds about 8000 values)
local function hmget(key, fields, out)
  for i = 1, #fields, 4000 do
    local got = redis.call('HMGET', key, unpack(fields, i, math.min(i + 3999, #fields)))
    for j = 1, #got do out[i + j - 1] = got[j] end
  end
end
local function hset(key, kv)
  for i = 1, #kv, 4000 do redis.call('HSET', key, unpack(kv, i, math.min(i + 3999, #kv))) end
end
local pos, meta, idx, st, dk, dkOld = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local last = redis.call('HGET', pos, ARGV[1])
if last and not newer(ARGV[2], last) then
  -- the same call delivered twice (a client resending after a reconnect) still says it applied
  if last == ARGV[2] and redis.call('HGET', pos, ARGV[1] .. '\\0r') == ARGV[9] then return 1 end
  return 0
end
local previous = ARGV[11]
if previous == 'n' then
  if last then return 0 end
elseif previous ~= '' then
  if last ~= string.sub(previous, 2) then return 0 end
end
local now = tonumber(ARGV[3])
-- every argument is decoded before the first write
local dedupKeys = {}
for i = 1, #ARGV[12], 8 do dedupKeys[#dedupKeys + 1] = string.sub(ARGV[12], i, i + 7) end
local nk = #dedupKeys
local nw = tonumber(ARGV[10])
local windows = {}
for w = 1, nw do
  local a = 14 + 4 * (w - 1)
  windows[w] = { start = ARGV[a], ttl = tonumber(ARGV[a + 1]), cjson.decode(ARGV[a + 2]), cjson.decode(ARGV[a + 3]) }
end
if nk > 0 and redis.call('TYPE', dk).ok ~= 'hash' then redis.call('DEL', dk) end -- a sorted set of an older version
if nk > 0 and ARGV[13] == '1' then
  -- keys recorded within the dedup window (value: their expiry): the caller leaves those events out and applies again
  local seen, out = {}, { 2 }
  for _, key in ipairs({ dk, dkOld }) do
    local got = {}
    hmget(key, dedupKeys, got)
    for i = 1, nk do
      if got[i] and tonumber(got[i]) > now and not seen[i] then seen[i] = true; out[#out + 1] = i - 1 end
    end
  end
  if #out > 1 then return out end
end
local x = ARGV[4]
local old = redis.call('ZRANGEBYSCORE', idx, '-inf', x)
if #old > 0 then
  for i = 1, #old, 1000 do
    redis.call('HDEL', st, unpack(old, i, math.min(i + 999, #old)))
  end
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', x)
end
if nk > 0 then
  -- dedup keys: a hash key → expiry; the whole hash moves to dk:old once a dedup window old, and the one
  -- it replaces holds only expired keys (dropped in the background: UNLINK)
  local since = tonumber(redis.call('HGET', meta, 'dkSince') or '')
  if not since or now - since >= tonumber(ARGV[8]) then
    if since then
      redis.call('UNLINK', dkOld)
      if redis.call('EXISTS', dk) == 1 then redis.call('RENAME', dk, dkOld) end
    end
    redis.call('HSET', meta, 'dkSince', ARGV[3])
  end
  local untilT = ARGV[7]
  local kv = {}
  for i = 1, nk do
    kv[2 * i - 1] = dedupKeys[i]
    kv[2 * i] = untilT
  end
  hset(dk, kv)
  redis.call('PEXPIRE', dk, ARGV[8])
end
if nw > 0 then
  redis.call('HSETNX', meta, 'epoch', ARGV[9])
  local stamp = redis.call('HINCRBY', meta, 'changes', 1)
  local maxTtl = 0
  for w = 1, nw do
    local key = KEYS[6 + w]
    local start, ttl = windows[w].start, windows[w].ttl
    -- the new value of every field: integers exactly (below 2^53), sums as doubles with 17 digits
    for kind = 0, 1 do
      local incs = windows[w][kind + 1]
      local fields, cur, out = {}, {}, {}
      for i = 1, #incs, 2 do fields[#fields + 1] = incs[i] end
      if #fields > 0 then
        hmget(key, fields, cur)
        for i = 1, #fields do
          out[2 * i - 1] = fields[i]
          local v = incs[2 * i] + (tonumber(cur[i]) or 0)
          if kind == 0 then out[2 * i] = string.format('%d', v) else out[2 * i] = string.format('%.17g', v) end
        end
        hset(key, out)
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

export const APPLY = script(APPLY_LUA)

export function assertInteger (what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${what} must be a safe integer, got ${String(v)}`)
}

function assertFinite (what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${what} must be a finite number, got ${String(v)}`)
}

function assertString (what: string, v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${typeof v}`)
}

export interface ApplySettings {
  /** the store clock now */
  now: number
  retentionMs: number
  dedupWindowMs: number
  /** random: tells a resent call from another (and starts the epoch of an empty store) */
  callId: string
  /** apply only when none of the batch's dedup keys is recorded (else the script returns their indexes) */
  unseenOnly?: boolean
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** A JSON array for cjson: a lone surrogate (which cjson refuses) becomes U+FFFD, as UTF-8 encoding would make it anyway. */
export function jsonArray (values: ReadonlyArray<string | number>): string {
  const json = JSON.stringify(values)
  if (!/\\ud[89a-f]/i.test(json)) return json
  return JSON.stringify(values.map((v) => typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v))
}

/** The KEYS and ARGV of the apply script for one batch; throws (TypeError, or from parseOffset) on a malformed batch. */
export function encodeApply (batch: ApplyBatch, layout: StoreKeys, settings: ApplySettings): { keys: string[], args: Array<string | Buffer> } {
  const now = settings.now
  const { topic, partition, offset } = batch.position
  assertString('position.topic', topic)
  assertInteger('position.partition', partition)
  const canonical = parseOffset(offset).toString()
  // compare-and-set: offsets are stored in canonical form, so `previous` is compared in it too
  const previous = batch.previous === undefined || batch.previous === null ? null : parseOffset(batch.previous).toString()
  if (batch.watermark !== undefined) assertInteger('watermark', batch.watermark)
  if (batch.maxEventTime !== undefined) assertInteger('maxEventTime', batch.maxEventTime)
  // a window is past the retention when it ended at or before now − retention: start ≤ x
  const x = now - settings.retentionMs - MINUTE_MS

  // per window: [field, increment, …] of the integer parts and of the latency sums (validated here,
  // so the script never fails half way)
  const windows = new Map<number, { ints: Array<string | number>, sums: Array<string | number> }>()
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
    assertFinite('sentiment_sum', p.sentiment_sum)
    for (const part of SENTIMENT_COUNTS) assertInteger(part[0], p[part[0]])
    if (d.window_start <= x) continue // not brought back
    let w = windows.get(d.window_start)
    if (w === undefined) {
      w = { ints: [], sums: [] }
      windows.set(d.window_start, w)
    }
    const field = rowField(d.event_type, d.region)
    const ints = w.ints
    ints.push(field + 'e', p.events)
    if (p.latency_sum !== 0) w.sums.push(field + 'ls', p.latency_sum)
    if (p.latency_count !== 0) ints.push(field + 'lc', p.latency_count)
    if (p.revenue_cents !== 0) ints.push(field + 'rc', p.revenue_cents)
    if (p.sentiment_sum !== 0) w.sums.push(field + 'ss', p.sentiment_sum)
    for (const [name, part] of SENTIMENT_COUNTS) if (p[name] !== 0) ints.push(field + part, p[name])
    for (const [bin, n] of p.response) {
      assertInteger('sketch bin', bin)
      assertInteger('sketch count', n)
      ints.push(field + 'b' + bin, n)
    }
  }
  const dedupKeys = packDedupKeys(batch.dedupKeys ?? [])

  const keys = [layout.pos, layout.meta, layout.idx, layout.st, layout.dk, layout.dkOld]
  const args: Array<string | Buffer> = [
    partitionKey(topic, partition), canonical, String(now), String(x),
    batch.watermark === undefined ? '' : String(batch.watermark),
    batch.maxEventTime === undefined ? '' : String(batch.maxEventTime),
    String(now + settings.dedupWindowMs), String(settings.dedupWindowMs),
    settings.callId,
    String(windows.size),
    batch.previous === undefined ? '' : batch.previous === null ? 'n' : 'v' + previous,
    dedupKeys,
    settings.unseenOnly === true ? '1' : ''
  ]
  for (const [start, w] of windows) {
    keys.push(layout.window + start)
    // the window expires one retention after it ends, by the store clock
    args.push(String(start), String(start + MINUTE_MS + settings.retentionMs - now), jsonArray(w.ints), jsonArray(w.sums))
  }
  return { keys, args }
}
