// The apply script of the Redis store and the encoding of a batch into its KEYS and ARGV. The batch is checked here
// first, so the script (atomic: it reads before it writes) never fails half way. Offsets are compared in Lua as
// int64 decimal strings (sign, length, digits), never as doubles; latency_sum is added as a double and stored with
// 17 significant digits, so it is bit for bit the sum the memory store computes.
import { type ApplyBatch, MINUTE_MS, partitionKey } from '../../../model/index.js'
import { parseOffset } from '../../offsets.js'
import { rowField, type StoreKeys } from './keys.js'
import { script } from './lua.js'

// KEYS: 1 pos, 2 meta, 3 idx, 4 st, 5 dk, then one key per window (in ARGV order).
// ARGV: 1 position field, 2 offset (canonical), 3 now, 4 eviction bound x (windows with start ≤ x
// are past the retention), 5 watermark or '', 6 maxEventTime or '', 7 dedup expiry, 8 dedup TTL,
// 9 call id (random: the epoch if this apply starts one, and kept with the position so that a
// resent call is recognised), 10 window count, 11 dedup key count, 12 the expected stored position
// ('' any, 'n' none, 'v<offset>' exactly that offset), then the dedup keys, then per window:
// start, TTL (ms), row count, and per row: field prefix, events, latency_sum, latency_count,
// revenue_cents, bin count, then bin, n pairs (flat strings: faster in the script than one JSON argument).
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
}

/** The KEYS and ARGV of the apply script for one batch; throws (TypeError, or from parseOffset) on a malformed batch. */
export function encodeApply (batch: ApplyBatch, layout: StoreKeys, settings: ApplySettings): { keys: string[], args: string[] } {
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
    args.push(rowField(d.event_type, d.region),
      String(p.events), String(p.latency_sum), String(p.latency_count), String(p.revenue_cents), String(p.response.size))
    for (const [bin, n] of p.response) {
      assertInteger('sketch bin', bin)
      assertInteger('sketch count', n)
      args.push(String(bin), String(n))
    }
  }
  const dedupKeys = batch.dedupKeys ?? []
  for (const k of dedupKeys) assertString('dedup key', k)

  const keys = [layout.pos, layout.meta, layout.idx, layout.st, layout.dk]
  const args: string[] = [
    partitionKey(topic, partition), canonical, String(now), String(x),
    batch.watermark === undefined ? '' : String(batch.watermark),
    batch.maxEventTime === undefined ? '' : String(batch.maxEventTime),
    String(now + settings.dedupWindowMs), String(settings.dedupWindowMs),
    settings.callId,
    String(windows.size), String(dedupKeys.length),
    batch.previous === undefined ? '' : batch.previous === null ? 'n' : 'v' + previous,
    ...dedupKeys
  ]
  for (const [start, rowArgs] of windows) {
    keys.push(layout.window + start)
    // the window expires one retention after it ends, by the store clock
    args.push(String(start), String(start + MINUTE_MS + settings.retentionMs - now), String(rows.get(start)))
    for (const a of rowArgs) args.push(a)
  }
  return { keys, args }
}
