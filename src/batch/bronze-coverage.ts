// What a bronze hour holds, read from its file names: the source offset ranges it covers. A sink file
// <topicSafe>-p<partition>-<first>-<last>.parquet holds the events of those offsets whose event time falls in its hour,
// so an hour's content is a function of the union of its files' ranges, however they are cut: replays and compaction
// leave the union, hence the fingerprint, unchanged; a late file changes it. A compacted file names every range it
// covers: <seg>+<seg>+….c.parquet (ranges of one partition merged when they touch).
import { createHash } from 'node:crypto'
import { basename } from 'node:path'
import { compareOffsets } from './bronze-layout.js'

export interface OffsetRange {
  /** topicSafe form of the topic, as in file names */
  topic: string
  partition: number
  /** decimal strings */
  first: string
  last: string
}

const SEG = /^([A-Za-z0-9._~]+)-p(\d{1,9})-(0|[1-9]\d{0,18})-(0|[1-9]\d{0,18})$/
/** Longest compacted file name we produce (NAME_MAX is 255 on the usual filesystems). */
const MAX_NAME = 200

/** The offset ranges a bronze file name says it covers; null for a name not of ours. */
export function parseBronzeName (path: string): OffsetRange[] | null {
  const name = basename(path)
  if (!name.endsWith('.parquet')) return null
  let stem = name.slice(0, -'.parquet'.length)
  const compacted = stem.endsWith('.c')
  if (compacted) stem = stem.slice(0, -2)
  const segs = stem.split('+')
  if (!compacted && segs.length > 1) return null
  const out: OffsetRange[] = []
  for (const s of segs) {
    const m = SEG.exec(s)
    if (m === null) return null
    const r = { topic: m[1] as string, partition: Number(m[2]), first: m[3] as string, last: m[4] as string }
    if (compareOffsets(r.first, r.last) > 0) return null
    out.push(r)
  }
  return out
}

/** Is this a compacted file's name? */
export function isCompactedName (path: string): boolean {
  return basename(path).endsWith('.c.parquet') && parseBronzeName(path) !== null
}

function succ (offset: string): string {
  return (BigInt(offset) + 1n).toString()
}

/** Union of ranges: per (topic, partition), sorted, ranges that overlap or touch merged. */
export function unionRanges (ranges: Iterable<OffsetRange>): OffsetRange[] {
  const sorted = [...ranges].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || compareOffsets(a.first, b.first)))
  const out: OffsetRange[] = []
  for (const r of sorted) {
    const top = out[out.length - 1]
    if (top !== undefined && top.topic === r.topic && top.partition === r.partition && compareOffsets(r.first, succ(top.last)) <= 0) {
      if (compareOffsets(r.last, top.last) > 0) top.last = r.last
    } else {
      out.push({ ...r })
    }
  }
  return out
}

/** Does `outer` (a union) contain every offset of `inner`? */
export function covers (outer: readonly OffsetRange[], inner: readonly OffsetRange[]): boolean {
  return inner.every((r) => outer.some((o) => o.topic === r.topic && o.partition === r.partition &&
    compareOffsets(o.first, r.first) <= 0 && compareOffsets(r.last, o.last) <= 0))
}

function segName (r: OffsetRange): string {
  return `${r.topic}-p${r.partition}-${r.first}-${r.last}`
}

/** The name of a compacted file covering `union` (already a union). */
export function compactedName (union: readonly OffsetRange[]): string {
  return union.map(segName).join('+') + '.c.parquet'
}

/**
 * Split a union into groups whose compacted names fit in a file name. Usually one group (one file
 * per hour); many partitions or many late stragglers can need more.
 */
export function packCompacted (union: readonly OffsetRange[]): OffsetRange[][] {
  const groups: OffsetRange[][] = []
  let cur: OffsetRange[] = []
  let len = '.c.parquet'.length
  for (const r of union) {
    const add = segName(r).length + (cur.length > 0 ? 1 : 0)
    if (cur.length > 0 && len + add > MAX_NAME) {
      groups.push(cur)
      cur = []
      len = '.c.parquet'.length
    }
    cur.push(r)
    len += segName(r).length + (cur.length > 1 ? 1 : 0)
  }
  if (cur.length > 0) groups.push(cur)
  return groups
}

/**
 * Fingerprint of an hour's bronze: a hash of the union of its files' offset ranges (plus, for
 * files whose names are not of ours, their names and sizes). Equal before and after compaction
 * or a replay; different once a late file adds offsets. '' for an hour with no files.
 */
export function bronzeFingerprint (files: ReadonlyArray<{ path: string, size?: number }>): string {
  if (files.length === 0) return ''
  const ranges: OffsetRange[] = []
  const foreign: string[] = []
  for (const f of files) {
    const r = parseBronzeName(f.path)
    if (r === null) foreign.push(`${basename(f.path)}:${f.size ?? '?'}`)
    else ranges.push(...r)
  }
  const text = unionRanges(ranges).map(segName).join('+') + '|' + foreign.sort().join('|')
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}
