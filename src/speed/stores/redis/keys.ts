// Key layout of the Redis store. Every key carries the hash tag `{<keyPrefix>}`, so all of a store's keys live in one
// hash slot and one Lua script may touch them all, on Redis Cluster too (one shard per store: a deployment that
// outgrows it runs one store, i.e. key prefix, per group of partitions). Windows expire one retention after they end;
// positions never expire.
//   {p}:w:<window_start>  hash per minute window; fields `<len(event_type)>:<event_type>|<region>|<part>`, part e (events),
//                         ls (latency_sum), lc (latency_count), rc (revenue_cents), b<bin> (sketch bin counts), ss (sentiment_sum),
//                         sc, sp, su, sn (sentiment_count, _positive, _neutral, _negative); a part that is 0 has no field
//   {p}:idx, {p}:st       window starts (sorted set), and window_start → change stamp of the last apply that touched it
//   {p}:pos               `<topic>\0<partition>` → last applied offset, `…\0r` → id of the call that applied it
//   {p}:meta              watermark, maxEventTime, coveredFrom, changes (stamp counter), epoch, dkSince
//   {p}:dk, {p}:dk:old    hashes 64-bit hash of a dedup key (8 bytes) → expiry (store clock): dk takes the keys since dkSince; once that is one dedup
//                         window ago, dk becomes dk:old (the dk:old it replaces holds only expired keys) and a new dk begins
import { emptyPartials, type PartialRow, type Partials } from '../../../model/index.js'
import { writeHash64 } from '../../dedup.js'

export interface StoreKeys { pos: string, meta: string, idx: string, st: string, dk: string, dkOld: string, /** prefix of window keys */ window: string }

/** the keys of a store with hash tag `{keyPrefix}` */
export function storeKeys (keyPrefix: string): StoreKeys {
  const tag = `{${keyPrefix}}`
  return { pos: `${tag}:pos`, meta: `${tag}:meta`, idx: `${tag}:idx`, st: `${tag}:st`, dk: `${tag}:dk`, dkOld: `${tag}:dk:old`, window: `${tag}:w:` }
}

/**
 * The dedup keys as one string of 8-byte hashes, their fields in {p}:dk: small and of one size, so cheap to send, split
 * and keep (two keys of a dedup window collide with probability ~n/2^64, as in the pipeline's own dedup).
 */
export function packDedupKeys (keys: readonly string[]): Buffer {
  const out = Buffer.allocUnsafe(8 * keys.length)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    if (typeof k !== 'string') throw new TypeError(`dedup key must be a string, got ${typeof k}`)
    writeHash64(k, out, 8 * i)
  }
  return out
}

/** the integer sentiment partials and their parts */
export const SENTIMENT_COUNTS = [
  ['sentiment_count', 'sc'], ['sentiment_positive', 'sp'], ['sentiment_neutral', 'su'], ['sentiment_negative', 'sn']
] as const satisfies ReadonlyArray<readonly [keyof Partials, string]>
const SENTIMENT_PART = new Map<string, keyof Partials>(SENTIMENT_COUNTS.map(([name, part]) => [part, name]))

/** the hash field prefix of a row in its window */
export const rowField = (eventType: string, region: string): string => `${eventType.length}:${eventType}|${region}|`

/** The rows of windows read with HGETALL (flat field, value arrays), filtered by event type and region. */
export function decodeWindows (starts: string[], hashes: string[][], types: Set<string> | null, regions: Set<string> | null): PartialRow[] {
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
      } else if (kind === 115) { // ss, sc, sp, su, sn
        const part = field.slice(cut + 1)
        if (part === 'ss') p.sentiment_sum = value
        else {
          const name = SENTIMENT_PART.get(part)
          if (name !== undefined) (p[name] as number) = value
        }
      } else { // rc
        p.revenue_cents = value
      }
    }
  }
  return out
}
