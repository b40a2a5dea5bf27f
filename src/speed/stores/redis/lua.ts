// Lua scripts of the Redis store, run by their SHA1 (EVALSHA), sent whole only when Redis does not have them.
import { createHash } from 'node:crypto'
import { type Cluster, type Redis } from 'ioredis'

export interface Script { lua: string, sha: string }

export const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })

function isNoScript (err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}

/** EVALSHA, and EVAL when Redis does not have the script (yet, or any more). */
export async function evalScript (client: Redis | Cluster, s: Script, keys: string[], args: Array<string | Buffer>): Promise<unknown> {
  try {
    // one array (ioredis flattens it): a batch has tens of thousands of arguments
    return await client.evalsha(s.sha, keys.length, [...keys, ...args])
  } catch (err) {
    if (!isNoScript(err)) throw err
    return await client.eval(s.lua, keys.length, [...keys, ...args])
  }
}

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

export const TOKEN = script(TOKEN_LUA)

// Which dedup keys are recorded and not expired. KEYS: 1 dk, 2 dk:old. ARGV: 1 now, 2 the keys (8-byte hashes, one
// string: keys.ts, packDedupKeys). Returns 1 or 0 per key.
const SEEN_LUA = `
local blob = ARGV[2]
local keys = {}
for i = 1, #blob, 8 do keys[#keys + 1] = string.sub(blob, i, i + 7) end
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #keys do out[i] = 0 end
for k = 1, 2 do
  if redis.call('TYPE', KEYS[k]).ok == 'hash' then
    for i = 1, #keys, 4000 do
      local got = redis.call('HMGET', KEYS[k], unpack(keys, i, math.min(i + 3999, #keys)))
      for j = 1, #got do
        if got[j] and tonumber(got[j]) > now then out[i + j - 1] = 1 end
      end
    end
  end
end
return out
`

export const SEEN = script(SEEN_LUA)
