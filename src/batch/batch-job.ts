// The batch job: gold for every complete hour not yet built (complete: its end + allowed lateness ≤ the bronze
// watermark; empty hours too), one date at a time (dedup, hourly rollup, one new gold file per date), a rebuild of every
// built date whose bronze fingerprint changed since (a late file), and daily gold for the complete dates it touched,
// published as one commit of each gold Delta table per run (delta/own-commit.ts: the daily table's, then the hourly
// table's, which is the publish). Hours before the bronze retention mark are frozen. A run that fails before the hourly
// commit publishes nothing; runs never overlap (queued in a process, the batch lock across processes).
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { type DuckDBConnection, listValue, timestampTZValue } from '@duckdb/node-api'
import { binValue } from '../model/sketch.js'
import { DAY_MS, HOUR_MS, iso, utcDate, utcHour } from '../model/time.js'
import { produceFileAtomic } from './atomic-file.js'
import { bronzeFingerprint } from './bronze-coverage.js'
import { bronzeWatermark, listBronzeHours, readBronzeRetention } from './bronze-layout.js'
import { type AddAction, CommitConflictError } from './delta/commit.js'
import { dataFilePath } from './delta/gold-table.js'
import type { DeltaFile } from './delta/log-replay.js'
import { migrateManifestGold } from './delta/migrate.js'
import { checkpointIfDue } from './delta/checkpoint.js'
import { addActionFor, publishOwnGold } from './delta/own-commit.js'
import { dataRelative, type OwnGoldState, readOwnGold } from './delta/own-gold.js'
import { builtFromTags, dailyTableDir, hourlyTableDir } from './delta/own-layout.js'
import { type Conn, type Db, num } from './duckdb.js'
import { BUILD_DAILY, BUILD_GOLD, COPY_GOLD, CREATE_P95_VALUES, GOLD_BUILD_P95_BINS, GOLD_BUILD_TOTALS } from './gold-build-sql.js'
import { acquireLock, batchLockPath, type LockOptions } from './lock.js'

export interface BatchOptions {
  dataDir: string
  db: Db
  /** wall-clock time of the run (published_at) */
  now: number
  /** how long after an hour ends late events may still arrive (config allowedLatenessMs) */
  allowedLatenessMs: number
  onProgress?: (line: string) => void
  /** test seam: called after the gold files are written, before the commits */
  beforePublish?: (files: string[]) => void | Promise<void>
  /** the cross-process batch lock (gold/_lock); false only for tests of the job itself */
  lock?: boolean | LockOptions
  /** a checkpoint of each gold table every this many commits (config deltaCheckpointInterval; a table's delta.checkpointInterval wins) */
  checkpointInterval?: number
}

export interface BatchSummary {
  /** whether this run published a new version */
  published: boolean
  /** the gold version in force after the run: the hourly table's Delta version (null: none yet) */
  version: number | null
  hoursBuilt: number
  /** deduplicated events rolled up */
  events: number
  /** gold rows written */
  rows: number
  /** files written (relative to dataDir) */
  files: string[]
  /** complete_until in force after the run (epoch ms; null: nothing built) */
  completeUntil: number | null
  elapsedMs: number
  /** built hours built again because their bronze changed (late files) */
  hoursRebuilt: number
  /** dates (YYYY-MM-DD) rebuilt from bronze */
  datesRebuilt: string[]
  /** daily gold files written (relative to dataDir; also in `files`) */
  dailyFiles: string[]
  /** files the previous version held and this one removes (left for vacuum) */
  superseded: string[]
  /** set when nothing ran because another process holds the batch lock */
  busy?: string
}

/** End (exclusive) of the last complete hour for a bronze watermark. */
export function completeEnd (watermark: number, allowedLatenessMs: number): number {
  return Math.floor((watermark - allowedLatenessMs) / HOUR_MS) * HOUR_MS
}

const running = new Map<string, Promise<unknown>>()

/** Build and publish gold for the new complete hours. Runs on one data folder queue up. */
export function runBatch (options: BatchOptions): Promise<BatchSummary> {
  const key = resolve(options.dataDir)
  const prev = running.get(key) ?? Promise.resolve()
  const next = prev.catch(() => undefined).then(() => runLocked(options))
  const tail = next.catch(() => undefined)
  running.set(key, tail)
  void tail.then(() => { if (running.get(key) === tail) running.delete(key) })
  return next
}

async function runLocked (options: BatchOptions): Promise<BatchSummary> {
  if (options.lock === false) return await runBatchNow(options)
  const lockOptions = typeof options.lock === 'object' ? options.lock : {}
  const r = await acquireLock(batchLockPath(options.dataDir), { purpose: 'batch', onProgress: options.onProgress, ...lockOptions })
  if (!r.acquired) {
    options.onProgress?.(`batch: ${r.reason}; not building`)
    return { ...emptySummary(await readState(options.db, options.dataDir), 0), busy: r.reason }
  }
  try {
    return await runBatchNow(options)
  } finally {
    await r.lock.release()
  }
}

function emptySummary (base: OwnGoldState, elapsedMs: number): BatchSummary {
  return {
    published: false,
    version: base.version,
    hoursBuilt: 0,
    events: 0,
    rows: 0,
    files: [],
    completeUntil: base.completeUntil,
    elapsedMs,
    hoursRebuilt: 0,
    datesRebuilt: [],
    dailyFiles: [],
    superseded: []
  }
}

interface DatePlan {
  day: number
  /** hours [from, to) to build from bronze into one new file */
  from: number
  to: number
  /** rebuild: the new file replaces every file of the date */
  rebuild: boolean
}

/** Our gold's state, read on a connection of its own (the replay runs without insertion order). */
async function readState (db: Db, dataDir: string): Promise<OwnGoldState> {
  const conn = await db.connect()
  try {
    await conn.run('SET SESSION preserve_insertion_order = false')
    return await readOwnGold(conn, dataDir)
  } finally {
    db.release(conn)
  }
}

const dateOf = (f: { partitionValues: Record<string, string | null> }): string | null => f.partitionValues.date ?? null

async function runBatchNow (options: BatchOptions): Promise<BatchSummary> {
  const { dataDir, db, now, allowedLatenessMs, onProgress } = options
  const started = performance.now()
  await migrateManifestGold({ dataDir, db, now, onProgress, lock: false })
  const base = await readState(db, dataDir)
  const nothing = (): BatchSummary => emptySummary(base, performance.now() - started)

  const watermark = await bronzeWatermark(dataDir)
  if (watermark === null) return nothing()
  const frozenBefore = (await readBronzeRetention(dataDir)) ?? -Infinity
  const prevUntil = base.completeUntil
  const end = Math.max(completeEnd(watermark, allowedLatenessMs), prevUntil ?? -Infinity) // complete_until never goes back
  const bronze = await listBronzeHours(dataDir, Number.isFinite(frozenBefore) ? frozenBefore : -Infinity, end)
  const firstBronze = Math.min(...bronze.keys())
  if (prevUntil === null && !Number.isFinite(firstBronze)) return nothing()
  // new hours start at complete_until; history that turns up before complete_from is built too
  const start = prevUntil ?? firstBronze
  const prevFrom = base.completeFrom ?? start
  const completeFrom = Math.min(prevFrom, Number.isFinite(firstBronze) ? firstBronze : prevFrom)

  // dates whose built hours' bronze changed since they were built (a file without built-from tags, e.g.
  // from another writer, records nothing: its hours count as changed)
  const changed = new Set<number>()
  if (prevUntil !== null) {
    for (let h = Math.max(completeFrom, frozenBefore); h < prevUntil; h += HOUR_MS) {
      const files = bronze.get(h) ?? []
      const recorded = base.builtFrom[utcDate(h)]?.[utcHour(h)] ?? ''
      if (recorded !== bronzeFingerprint(files.map((path) => ({ path })))) changed.add(Math.floor(h / DAY_MS) * DAY_MS)
    }
  }
  const plans: DatePlan[] = []
  for (let day = Math.floor(completeFrom / DAY_MS) * DAY_MS; day < end; day += DAY_MS) {
    if (changed.has(day)) plans.push({ day, from: Math.max(day, completeFrom), to: Math.min(day + DAY_MS, end), rebuild: true })
    else if (day + DAY_MS > start) {
      const from = Math.max(day, start)
      const to = Math.min(day + DAY_MS, end)
      if (from < to) plans.push({ day, from, to, rebuild: false })
    }
  }

  const hourlyDir = hourlyTableDir(dataDir)
  const dailyDir = dailyTableDir(dataDir)
  const prevHourly = base.version === null ? [] : base.hourly?.files ?? []
  const prevDaily = base.version === null ? [] : base.dailyBase?.files ?? []
  const dailyDates = new Set(prevDaily.map(dateOf))
  const hourlyDates = new Set(prevHourly.map(dateOf))
  // complete dates with hourly gold but no daily gold yet (e.g. gold from before daily existed)
  const dailyMissing = [...hourlyDates].filter((d): d is string => d !== null && !dailyDates.has(d) && Date.parse(d + 'T00:00:00Z') + DAY_MS <= end)
  if (plans.length === 0 && dailyMissing.length === 0) return nothing()

  const version = (base.hourly?.version ?? 0) + 1
  const runId = randomBytes(4).toString('hex')
  const partName = `part-v${String(version).padStart(6, '0')}-${runId}.parquet`
  const written: string[] = []
  const dailyWritten: string[] = []
  const superseded: string[] = []
  const hourlyRemove: DeltaFile[] = []
  const hourlyAdd: AddAction[] = []
  /** the hourly files of each date after this run (absolute paths) */
  const hourlyPaths = new Map<string, string[]>()
  for (const f of prevHourly) {
    const d = dateOf(f)
    if (d !== null) hourlyPaths.set(d, [...(hourlyPaths.get(d) ?? []), dataFilePath(hourlyDir, f.path)])
  }
  let events = 0
  let rows = 0
  let hoursRebuilt = 0
  const datesRebuilt: string[] = []
  const touched = new Set<string>()
  const dailyReplaced = new Set<string>()
  const dailyAdd: AddAction[] = []
  const conn = await db.connect()
  try {
    for (const plan of plans) {
      const date = utcDate(plan.day)
      const rel = `date=${date}/${partName}`
      const out = await buildDateFromBronze(conn, dataDir, plan, bronze, join(hourlyDir, `date=${date}`, partName))
      if (plan.rebuild) {
        const old = prevHourly.filter((f) => dateOf(f) === date)
        hourlyRemove.push(...old)
        superseded.push(...old.map((f) => dataRelative(dataDir, hourlyDir, f)))
        hourlyPaths.delete(date)
        hoursRebuilt += (Math.min(plan.to, prevUntil ?? plan.from) - plan.from) / HOUR_MS
        datesRebuilt.push(date)
      }
      if (out.rows > 0) {
        const hours = Object.fromEntries([...out.fingerprints].map(([h, fp]) => [utcHour(h), fp]))
        hourlyAdd.push(await addActionFor(hourlyDir, rel, date, out.rows, builtFromTags(hours)))
        written.push(`gold/hourly_metrics/${rel}`)
        hourlyPaths.set(date, [...(hourlyPaths.get(date) ?? []), join(hourlyDir, `date=${date}`, partName)])
      }
      touched.add(date)
      events += out.events
      rows += out.rows
      onProgress?.(`batch: ${date} ${(plan.to - plan.from) / HOUR_MS}/24 hours${plan.rebuild ? ' (rebuilt: bronze changed)' : ''}, ` +
        `${out.events.toLocaleString('en-US')} events`)
    }

    for (const date of [...new Set([...touched, ...dailyMissing])].sort()) {
      const day = Date.parse(date + 'T00:00:00Z')
      if (day + DAY_MS > end) continue
      dailyReplaced.add(date)
      superseded.push(...prevDaily.filter((f) => dateOf(f) === date).map((f) => dataRelative(dataDir, dailyDir, f)))
      const hourly = hourlyPaths.get(date) ?? []
      if (hourly.length === 0) continue
      const rel = `date=${date}/${partName}`
      const n = await conn.exclusive(async (raw) => {
        await raw.run(BUILD_DAILY, { files: listValue(hourly), from: tsValue(day), to: tsValue(day + DAY_MS) })
        return await writeBuilt(raw, join(dailyDir, `date=${date}`, partName))
      })
      if (n.rows > 0) {
        dailyAdd.push(await addActionFor(dailyDir, rel, date, n.rows))
        dailyWritten.push(`gold/daily_metrics/${rel}`)
      }
    }
  } finally {
    db.release(conn)
  }

  await options.beforePublish?.([...written, ...dailyWritten])
  let published: { version: number, dailyVersion: number }
  try {
    const kept = prevDaily.filter((f) => !dailyReplaced.has(dateOf(f) ?? '')).map((f) => f.action)
    published = (await publishOwnGold({
      dataDir,
      now,
      hourly: base.hourly,
      dailyLatest: base.dailyLatest,
      completeUntil: end,
      completeFrom,
      hourlyRemove,
      hourlyAdd,
      dailyWanted: [...kept, ...dailyAdd]
    }))
  } catch (err) {
    if (err instanceof CommitConflictError) throw new CommitConflictError(`gold: ${err.message} during this run; nothing published`)
    throw err
  }
  const checkpoints = await checkpointTables(db, dataDir, published, options.checkpointInterval, now)
  const elapsedMs = performance.now() - started
  const hoursBuilt = Math.max(0, (end - start) / HOUR_MS)
  onProgress?.(`batch: published gold v${published.version}${checkpoints}: ${hoursBuilt} new hours to ${iso(end)}` +
    `${hoursRebuilt > 0 ? `, ${hoursRebuilt} rebuilt (${datesRebuilt.join(', ')})` : ''}, ` +
    `${events.toLocaleString('en-US')} events, ${rows.toLocaleString('en-US')} rows in ${(elapsedMs / 1000).toFixed(1)} s`)
  return {
    published: true,
    version: published.version,
    hoursBuilt,
    events,
    rows,
    files: [...written, ...dailyWritten],
    completeUntil: end,
    elapsedMs,
    hoursRebuilt,
    datesRebuilt,
    dailyFiles: dailyWritten,
    superseded
  }
}

/**
 * Checkpoints of the tables just committed, where due; a failed one is reported in the progress line (the commits stand,
 * readers replay the JSON commits). Returns the line's note.
 */
async function checkpointTables (
  db: Db, dataDir: string, v: { version: number, dailyVersion: number }, interval: number | undefined, now: number
): Promise<string> {
  const notes: string[] = []
  const conn = await db.connect()
  try {
    for (const [name, table, version] of [['hourly', hourlyTableDir(dataDir), v.version], ['daily', dailyTableDir(dataDir), v.dailyVersion]] as const) {
      try {
        const cp = await checkpointIfDue(conn, table, version, interval ?? Infinity, now)
        if (cp !== null) notes.push(`${name} checkpoint v${cp.version}`)
      } catch (err) {
        notes.push(`${name} checkpoint failed (${(err as Error).message})`)
      }
    }
  } finally {
    db.release(conn)
  }
  return notes.length === 0 ? '' : ` (${notes.join(', ')})`
}

function tsValue (ms: number): ReturnType<typeof timestampTZValue> {
  return timestampTZValue(BigInt(ms) * 1000n)
}

const MISSING_FILE = /no such file|no files found|cannot open file|could not open/i
/** How long a build keeps listing again the hours whose files compaction replaced under it. */
const RELIST_FOR_MS = 30_000

/**
 * Roll up one date's hours [from, to) from bronze into one gold file. When a file listed for it
 * has vanished by the time DuckDB opens it (compaction replaced it: the compacted file was renamed
 * into place before the small files were removed), the hours are listed again and the build
 * retried, which then reads the compacted file. Returns the fingerprints of what was read.
 */
async function buildDateFromBronze (
  conn: Conn, dataDir: string, plan: DatePlan, listed: Map<number, string[]>, path: string
): Promise<{ rows: number, events: number, fingerprints: Map<number, string> }> {
  let hours = listed
  const deadline = Date.now() + RELIST_FOR_MS
  for (let attempt = 1; ; attempt++) {
    const files: string[] = []
    const fingerprints = new Map<number, string>()
    for (let h = plan.from; h < plan.to; h += HOUR_MS) {
      const fs = hours.get(h) ?? []
      files.push(...fs)
      if (fs.length > 0) fingerprints.set(h, bronzeFingerprint(fs.map((p) => ({ path: p }))))
    }
    if (files.length === 0) return { rows: 0, events: 0, fingerprints }
    try {
      const out = await conn.exclusive(async (raw) => {
        await raw.run(BUILD_GOLD, { files: listValue(files), from: tsValue(plan.from), to: tsValue(plan.to) })
        return await writeBuilt(raw, path)
      })
      return { ...out, fingerprints }
    } catch (err) {
      // compaction works hour by hour, so a date may need several tries, for longer on a loaded machine
      if (Date.now() >= deadline || !MISSING_FILE.test((err as Error).message)) throw err
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * attempt, 500)))
      hours = await listBronzeHours(dataDir, plan.from, plan.to)
    }
  }
}

/** Write TEMP TABLE gold_build to a gold file (p95 values from model binValue); its row and event counts. */
async function writeBuilt (raw: DuckDBConnection, path: string): Promise<{ rows: number, events: number }> {
  const totals = (await raw.runAndReadAll(GOLD_BUILD_TOTALS)).getRowObjectsJS()[0] ?? {}
  const rows = num(totals.rows)
  const events = num(totals.events)
  if (rows === 0) return { rows, events }
  // p95 values come from model binValue, so gold p95_response equals sketchQuantile exactly.
  const bins = (await raw.runAndReadAll(GOLD_BUILD_P95_BINS)).getRowObjectsJS().map((r) => num(r.bin))
  await raw.run(CREATE_P95_VALUES)
  const a = await raw.createAppender('p95_values')
  try {
    for (const b of bins) {
      a.appendInteger(b)
      a.appendDouble(binValue(b))
      a.endRow()
    }
  } finally {
    a.closeSync()
  }
  await produceFileAtomic(path, async (tmp) => { await raw.run(COPY_GOLD, { path: tmp }) })
  return { rows, events }
}
