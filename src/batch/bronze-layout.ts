// Where bronze lives on disk (docs/design.md, "Bronze"), the sink's state file and the bronze watermark.
//
//   <dataDir>/bronze/events/date=YYYY-MM-DD/hour=HH/<topicSafe>-p<partition>-<first>-<last>.parquet
//   <dataDir>/bronze/_state.json   max flushed event time and last flushed offset per (topic, partition),
//                                  and the partitions being read that bronze holds nothing of yet
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { partitionKey } from '../model/source-position.js'
import { HOUR_MS, utcDate, utcHour } from '../model/time.js'
import { isTempName, writeFileAtomic } from './atomic-file.js'

export const BRONZE_STATE_FORMAT = 'hourglass-bronze-state/1'

export function bronzeEventsDir (dataDir: string): string {
  return join(dataDir, 'bronze', 'events')
}

export function bronzeStatePath (dataDir: string): string {
  return join(dataDir, 'bronze', '_state.json')
}

/** The folder of the UTC hour holding `hourStart`. */
export function bronzeHourDir (dataDir: string, hourStart: number): string {
  return join(bronzeEventsDir(dataDir), `date=${utcDate(hourStart)}`, `hour=${utcHour(hourStart)}`)
}

const SAFE_TOPIC = /^[A-Za-z0-9._]{1,64}$/

/**
 * A filesystem-safe, collision-free form of a topic name: plain Kafka names stay as they are;
 * anything else (`file:/some/path.jsonl`) is sanitised, shortened and suffixed with a hash of the
 * original, so two topics never share a file name.
 */
export function topicSafe (topic: string): string {
  if (SAFE_TOPIC.test(topic)) return topic
  const hash = createHash('sha256').update(topic).digest('hex').slice(0, 10)
  const clean = topic.replace(/[^A-Za-z0-9._]+/g, '_').replace(/^[._]+/, '').slice(0, 40)
  return `${clean === '' ? 'topic' : clean}~${hash}`
}

/** The bronze file name for one (hour, topic, partition) slice of a flush. */
export function bronzeFileName (topic: string, partition: number, firstOffset: string, lastOffset: string): string {
  return `${topicSafe(topic)}-p${partition}-${firstOffset}-${lastOffset}.parquet`
}

const DATE_DIR = /^date=(\d{4}-\d{2}-\d{2})$/
const HOUR_DIR = /^hour=(\d{2})$/

/** The names of the folders in `dir` (none when it does not exist). */
export async function dirNames (dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/**
 * Bronze Parquet files by hour (hour start, epoch ms → absolute paths, sorted), for hours in
 * [fromHour, toHour) when given. Only the date folders that can hold such hours are opened.
 */
export async function listBronzeHours (dataDir: string, fromHour = -Infinity, toHour = Infinity): Promise<Map<number, string[]>> {
  const root = bronzeEventsDir(dataDir)
  const out = new Map<number, string[]>()
  const firstDate = Number.isFinite(fromHour) ? utcDate(fromHour) : ''
  const lastDate = Number.isFinite(toHour) ? utcDate(toHour - 1) : '9999-99-99'
  for (const dateDir of (await dirNames(root)).sort()) {
    const d = DATE_DIR.exec(dateDir)
    if (d === null) continue
    const date = d[1] as string
    if (date < firstDate || date > lastDate) continue
    const dayStart = Date.parse(date + 'T00:00:00Z')
    if (!Number.isFinite(dayStart)) continue
    for (const hourDir of (await dirNames(join(root, dateDir))).sort()) {
      const h = HOUR_DIR.exec(hourDir)
      if (h === null) continue
      const hour = dayStart + Number(h[1]) * HOUR_MS
      if (hour < fromHour || hour >= toHour) continue
      const dir = join(root, dateDir, hourDir)
      const files = (await readdir(dir)).filter((n) => n.endsWith('.parquet') && !isTempName(n)).sort().map((n) => join(dir, n))
      if (files.length > 0) out.set(hour, files)
    }
  }
  return out
}

export interface PartitionState {
  topic: string
  partition: number
  /** the latest event time flushed to bronze from this partition (ISO-8601) */
  max_event_time: string
  /** the highest offset flushed from this partition (decimal string) */
  last_offset: string
  /**
   * the source ended (seeded history, a file read to its end): everything it will send is in
   * bronze, so it no longer holds the watermark back. A later flush from it clears the flag.
   */
  finished?: boolean
}

export interface BronzeState {
  format: typeof BRONZE_STATE_FORMAT
  partitions: PartitionState[]
  /**
   * partitions a reader (the bronze Kafka consumer) has records to read from but nothing flushed
   * of yet: bronze is complete up to no event time for them, so the watermark waits (is null) until
   * each has flushed events, or was read to its end without a valid one (settlePending)
   */
  pending?: PartitionRef[]
}

export interface PartitionRef {
  topic: string
  partition: number
}

export function emptyBronzeState (): BronzeState {
  return { format: BRONZE_STATE_FORMAT, partitions: [] }
}

function isPartitionState (p: unknown): p is PartitionState {
  if (typeof p !== 'object' || p === null) return false
  const r = p as Record<string, unknown>
  return typeof r.topic === 'string' && Number.isInteger(r.partition) && typeof r.max_event_time === 'string' &&
    Number.isFinite(Date.parse(r.max_event_time)) && typeof r.last_offset === 'string' && /^\d+$/.test(r.last_offset) &&
    (r.finished === undefined || typeof r.finished === 'boolean')
}

function isPartitionRef (p: unknown): p is PartitionRef {
  if (typeof p !== 'object' || p === null) return false
  const r = p as Record<string, unknown>
  return typeof r.topic === 'string' && Number.isInteger(r.partition)
}

/** The bronze state on disk; an empty state when there is none yet. Throws when it is corrupt. */
export async function readBronzeState (dataDir: string): Promise<BronzeState> {
  let text: string
  try {
    text = await readFile(bronzeStatePath(dataDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyBronzeState()
    throw err
  }
  const value = JSON.parse(text) as Record<string, unknown>
  if (value.format !== BRONZE_STATE_FORMAT || !Array.isArray(value.partitions) || !value.partitions.every(isPartitionState) ||
    (value.pending !== undefined && (!Array.isArray(value.pending) || !value.pending.every(isPartitionRef)))) {
    throw new Error(`${bronzeStatePath(dataDir)} is not a valid ${BRONZE_STATE_FORMAT} file`)
  }
  return value as unknown as BronzeState
}

export async function writeBronzeState (dataDir: string, state: BronzeState): Promise<void> {
  await writeFileAtomic(bronzeStatePath(dataDir), JSON.stringify(state, null, 2) + '\n')
}

/** Compare non-negative decimal integer strings without leading zeros. */
export function compareOffsets (a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0
}

const refKey = (p: PartitionRef): string => partitionKey(p.topic, p.partition)
const byTopicPartition = (a: PartitionRef, b: PartitionRef): number => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition)

/** The state with `pending` set to `refs` (sorted; the field left out when empty). */
function withPending (state: BronzeState, refs: Iterable<PartitionRef>): BronzeState {
  const unique = new Map<string, PartitionRef>()
  for (const r of refs) unique.set(refKey(r), { topic: r.topic, partition: r.partition })
  const { pending: _old, ...rest } = state
  return unique.size === 0 ? rest : { ...rest, pending: [...unique.values()].sort(byTopicPartition) }
}

/**
 * Fold what a flush wrote into the state: per (topic, partition) the max event time and the
 * highest offset only ever move forward; a flushed partition is no longer pending.
 */
export function advanceBronzeState (
  state: BronzeState, flushed: Iterable<{ topic: string, partition: number, maxEventTime: number, lastOffset: string }>
): BronzeState {
  const byKey = new Map(state.partitions.map((p) => [refKey(p), { ...p }]))
  for (const f of flushed) {
    const key = refKey(f)
    const cur = byKey.get(key)
    if (cur === undefined) {
      byKey.set(key, { topic: f.topic, partition: f.partition, max_event_time: new Date(f.maxEventTime).toISOString(), last_offset: f.lastOffset })
      continue
    }
    if (f.maxEventTime > Date.parse(cur.max_event_time)) cur.max_event_time = new Date(f.maxEventTime).toISOString()
    if (compareOffsets(f.lastOffset, cur.last_offset) > 0) cur.last_offset = f.lastOffset
    delete cur.finished
  }
  const partitions = [...byKey.values()].sort(byTopicPartition)
  return withPending({ format: BRONZE_STATE_FORMAT, partitions }, (state.pending ?? []).filter((p) => !byKey.has(refKey(p))))
}

/**
 * Say which partitions of `topics` a reader has records to read from that bronze holds nothing of
 * (they hold the watermark back until settled); pending partitions of other topics are kept.
 */
export function setPending (state: BronzeState, topics: Iterable<string>, pending: Iterable<PartitionRef>): BronzeState {
  const mine = new Set(topics)
  const known = new Set(state.partitions.map(refKey))
  return withPending(state, [...(state.pending ?? []).filter((p) => !mine.has(p.topic)), ...[...pending].filter((p) => !known.has(refKey(p)))])
}

/** A pending partition was read to its end without a valid event: it no longer holds the watermark back. */
export function settlePending (state: BronzeState, ref: PartitionRef): BronzeState {
  return withPending(state, (state.pending ?? []).filter((p) => refKey(p) !== refKey(ref)))
}

/**
 * min over the partitions still sending of their max flushed event time (when every source has
 * finished: the max over all); null when nothing was flushed, or while a partition is pending.
 */
export function watermarkOf (state: BronzeState): number | null {
  if (state.partitions.length === 0 || (state.pending?.length ?? 0) > 0) return null
  const live = state.partitions.filter((p) => p.finished !== true)
  if (live.length === 0) return Math.max(...state.partitions.map((p) => Date.parse(p.max_event_time)))
  return Math.min(...live.map((p) => Date.parse(p.max_event_time)))
}

/** The state with these partitions marked finished (those not in it yet are left out). */
export function markFinishedIn (state: BronzeState, finished: Iterable<{ topic: string, partition: number }>): BronzeState {
  const marks = [...finished]
  if (marks.length === 0) return state
  return {
    ...state,
    partitions: state.partitions.map((p) => marks.some((m) => m.topic === p.topic && m.partition === p.partition) ? { ...p, finished: true } : p)
  }
}

const stateQueues = new Map<string, Promise<unknown>>()

/**
 * Read-modify-write of bronze/_state.json, one at a time per data folder in this process: every
 * writer (each bronze sink's flush, a finished mark) goes through here, so none of them writes back
 * a state read before another's write (a lost update would move the watermark back, or drop a
 * finished mark). `change` returns the new state, or null to leave the file as it is.
 */
export function updateBronzeState (dataDir: string, change: (state: BronzeState) => BronzeState | null | Promise<BronzeState | null>): Promise<BronzeState> {
  const key = resolve(dataDir)
  const next = (stateQueues.get(key) ?? Promise.resolve()).then(async () => {
    const state = await readBronzeState(dataDir)
    const updated = await change(state)
    if (updated === null) return state
    await writeBronzeState(dataDir, updated)
    return updated
  })
  const tail = next.catch(() => undefined)
  stateQueues.set(key, tail)
  void tail.then(() => { if (stateQueues.get(key) === tail) stateQueues.delete(key) })
  return next
}

/**
 * Mark a source partition finished (call after its last events were flushed). A bronze sink's
 * markFinished does the same after flushing what it holds; both go through updateBronzeState.
 */
export async function markPartitionFinished (dataDir: string, topic: string, partition: number): Promise<void> {
  await updateBronzeState(dataDir, (state) => {
    const p = state.partitions.find((x) => x.topic === topic && x.partition === partition)
    return p === undefined || p.finished === true ? null : markFinishedIn(state, [{ topic, partition }])
  })
}

/** The bronze watermark of a data folder (epoch ms), null when bronze is empty or a partition is pending. */
export async function bronzeWatermark (dataDir: string): Promise<number | null> {
  return watermarkOf(await readBronzeState(dataDir))
}

export const BRONZE_RETENTION_FORMAT = 'hourglass-bronze-retention/1'

export function bronzeRetentionPath (dataDir: string): string {
  return join(dataDir, 'bronze', '_retention.json')
}

/**
 * The instant (UTC midnight, epoch ms) before which vacuum has removed bronze, or null when it
 * never has. Hours before it are frozen: their gold is final and never rebuilt (their bronze is
 * gone, so a rebuild would lose them).
 */
export async function readBronzeRetention (dataDir: string): Promise<number | null> {
  let text: string
  try {
    text = await readFile(bronzeRetentionPath(dataDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const v = JSON.parse(text) as Record<string, unknown>
  const t = typeof v.removed_before === 'string' ? Date.parse(v.removed_before) : NaN
  if (v.format !== BRONZE_RETENTION_FORMAT || !Number.isFinite(t)) {
    throw new Error(`${bronzeRetentionPath(dataDir)} is not a valid ${BRONZE_RETENTION_FORMAT} file`)
  }
  return t
}

export async function writeBronzeRetention (dataDir: string, removedBefore: number): Promise<void> {
  const retention = { format: BRONZE_RETENTION_FORMAT, removed_before: new Date(removedBefore).toISOString() }
  await writeFileAtomic(bronzeRetentionPath(dataDir), JSON.stringify(retention, null, 2) + '\n')
}
