// The batch job: gold for every complete hour not yet built (complete: its end + allowed lateness ≤ the bronze
// watermark; empty hours too), one date at a time (dedup, hourly rollup, one new gold file per date), a rebuild of every
// built date whose bronze fingerprint changed since (a late file), and daily gold for the complete dates it touched,
// published as one new manifest per run. Hours before the bronze retention mark are frozen. A run that fails before
// the manifest is written publishes nothing; runs never overlap (queued in a process, the batch lock across processes).
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { type DuckDBConnection, listValue, timestampTZValue } from '@duckdb/node-api'
import { GOLD_FORMAT, type GoldManifest } from '../model/gold.js'
import { binValue } from '../model/sketch.js'
import { DAY_MS, HOUR_MS, iso, utcDate, utcHour } from '../model/time.js'
import { produceFileAtomic } from './atomic-file.js'
import { bronzeFingerprint } from './bronze-coverage.js'
import { bronzeWatermark, listBronzeHours, readBronzeRetention } from './bronze-layout.js'
import { type Conn, type Db, num } from './duckdb.js'
import { BUILD_DAILY, BUILD_GOLD, COPY_GOLD, CREATE_P95_VALUES, GOLD_BUILD_P95_BINS, GOLD_BUILD_TOTALS } from './gold-build-sql.js'
import { acquireLock, batchLockPath, type LockOptions } from './lock.js'
import { readManifest, resolveListed, writeManifest } from './manifest.js'
import { SKETCH_BLOCK } from './sql.js'

export interface BatchOptions {
  dataDir: string
  db: Db
  /** wall-clock time of the run (published_at) */
  now: number
  /** how long after an hour ends late events may still arrive (config allowedLatenessMs) */
  allowedLatenessMs: number
  onProgress?: (line: string) => void
  /** test seam: called after the gold files are written, before the manifest is published */
  beforePublish?: (files: string[]) => void | Promise<void>
  /** the cross-process batch lock (gold/_lock); false only for tests of the job itself */
  lock?: boolean | LockOptions
}

export interface BatchSummary {
  /** whether this run published a new manifest */
  published: boolean
  /** the manifest version in force after the run (null: none yet) */
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
  /** files the previous manifest listed and this one no longer does (left for vacuum) */
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
    const base = await readManifest(options.dataDir)
    return { ...emptySummary(base, 0), busy: r.reason }
  }
  try {
    return await runBatchNow(options)
  } finally {
    await r.lock.release()
  }
}

function emptySummary (base: GoldManifest | null, elapsedMs: number): BatchSummary {
  return {
    published: false,
    version: base?.version ?? null,
    hoursBuilt: 0,
    events: 0,
    rows: 0,
    files: [],
    completeUntil: base?.complete_until == null ? null : Date.parse(base.complete_until),
    elapsedMs,
    hoursRebuilt: 0,
    datesRebuilt: [],
    dailyFiles: [],
    superseded: []
  }
}

const DATE_OF = /(?:^|\/)date=(\d{4}-\d{2}-\d{2})\//

function dateOf (rel: string): string | null {
  return DATE_OF.exec(rel)?.[1] ?? null
}

interface DatePlan {
  day: number
  /** hours [from, to) to build from bronze into one new file */
  from: number
  to: number
  /** rebuild: the new file replaces every file of the date */
  rebuild: boolean
}

async function runBatchNow (options: BatchOptions): Promise<BatchSummary> {
  const { dataDir, db, now, allowedLatenessMs, onProgress } = options
  const started = performance.now()
  const base = await readManifest(dataDir)
  const nothing = (): BatchSummary => emptySummary(base, performance.now() - started)

  const watermark = await bronzeWatermark(dataDir)
  if (watermark === null) return nothing()
  const frozenBefore = (await readBronzeRetention(dataDir)) ?? -Infinity
  const prevUntil = base?.complete_until == null ? null : Date.parse(base.complete_until)
  const end = Math.max(completeEnd(watermark, allowedLatenessMs), prevUntil ?? -Infinity) // complete_until never goes back
  const bronze = await listBronzeHours(dataDir, Number.isFinite(frozenBefore) ? frozenBefore : -Infinity, end)
  const firstBronze = Math.min(...bronze.keys())
  if (prevUntil === null && !Number.isFinite(firstBronze)) return nothing()
  // new hours start at complete_until; history that turns up before complete_from is built too
  const start = prevUntil ?? firstBronze
  const prevFrom = base?.complete_from == null ? start : Date.parse(base.complete_from)
  const completeFrom = Math.min(prevFrom, Number.isFinite(firstBronze) ? firstBronze : prevFrom)

  // dates whose built hours' bronze changed since they were built (no record at all: a manifest
  // from before fingerprints, or from another writer: every built hour counts as changed)
  const built = base?.built_from
  const changed = new Set<number>()
  if (prevUntil !== null) {
    for (let h = Math.max(completeFrom, frozenBefore); h < prevUntil; h += HOUR_MS) {
      const files = bronze.get(h) ?? []
      const recorded = built === undefined ? undefined : (built[utcDate(h)]?.[utcHour(h)] ?? '')
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

  const prevHourly = base?.tables.hourly_metrics ?? { files: [], rows: 0 }
  const prevDaily = base?.tables.daily_metrics ?? { files: [], rows: 0 }
  const dailyDates = new Set(prevDaily.files.map(dateOf))
  const hourlyDates = new Set(prevHourly.files.map(dateOf))
  // complete dates with hourly gold but no daily gold yet (e.g. gold from before daily existed)
  const dailyMissing = [...hourlyDates].filter((d): d is string => d !== null && !dailyDates.has(d) && Date.parse(d + 'T00:00:00Z') + DAY_MS <= end)
  if (plans.length === 0 && dailyMissing.length === 0) return nothing()

  const version = (base?.version ?? 0) + 1
  const runId = randomBytes(4).toString('hex')
  const partName = `part-v${String(version).padStart(6, '0')}-${runId}.parquet`
  const written: string[] = []
  const dailyWritten: string[] = []
  const superseded: string[] = []
  const builtFrom: Record<string, Record<string, string>> = {}
  for (const [date, hours] of Object.entries(built ?? {})) {
    if (Date.parse(date + 'T00:00:00Z') >= frozenBefore) builtFrom[date] = { ...hours }
  }
  let hourlyFiles = [...prevHourly.files]
  let hourlyRows = prevHourly.rows
  let dailyFiles = [...prevDaily.files]
  let dailyRows = prevDaily.rows
  let events = 0
  let rows = 0
  let hoursRebuilt = 0
  const datesRebuilt: string[] = []
  const touched = new Set<string>()
  const conn = await db.connect()
  try {
    for (const plan of plans) {
      const date = utcDate(plan.day)
      const rel = join('gold', 'hourly_metrics', `date=${date}`, partName).split('\\').join('/')
      const out = await buildDateFromBronze(conn, dataDir, plan, bronze, join(dataDir, rel))
      if (plan.rebuild) {
        const old = hourlyFiles.filter((f) => dateOf(f) === date)
        hourlyRows -= await rowsOf(conn, dataDir, old)
        hourlyFiles = hourlyFiles.filter((f) => dateOf(f) !== date)
        superseded.push(...old)
        builtFrom[date] = {}
        hoursRebuilt += (Math.min(plan.to, prevUntil ?? plan.from) - plan.from) / HOUR_MS
        datesRebuilt.push(date)
      }
      const fps = (builtFrom[date] ??= {})
      for (const [h, fp] of out.fingerprints) fps[utcHour(h)] = fp
      if (Object.keys(fps).length === 0) delete builtFrom[date]
      if (out.rows > 0) {
        written.push(rel)
        hourlyFiles.push(rel)
        hourlyRows += out.rows
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
      const old = dailyFiles.filter((f) => dateOf(f) === date)
      dailyRows -= await rowsOf(conn, dataDir, old)
      dailyFiles = dailyFiles.filter((f) => dateOf(f) !== date)
      superseded.push(...old)
      const hourly = hourlyFiles.filter((f) => dateOf(f) === date)
      if (hourly.length === 0) continue
      const rel = join('gold', 'daily_metrics', `date=${date}`, partName).split('\\').join('/')
      const n = await conn.exclusive(async (raw) => {
        await raw.run(BUILD_DAILY, { files: listValue(hourly.map((f) => resolveListed(dataDir, f))), from: tsValue(day), to: tsValue(day + DAY_MS) })
        return await writeBuilt(raw, join(dataDir, rel))
      })
      if (n.rows > 0) {
        dailyWritten.push(rel)
        dailyFiles.push(rel)
        dailyRows += n.rows
      }
    }
  } finally {
    db.release(conn)
  }

  await options.beforePublish?.([...written, ...dailyWritten])
  const current = await readManifest(dataDir)
  if ((current?.version ?? 0) !== (base?.version ?? 0)) {
    throw new Error(`gold manifest moved from version ${base?.version ?? 0} to ${current?.version ?? 0} during this run; nothing published`)
  }
  const manifest: GoldManifest = {
    format: GOLD_FORMAT,
    version,
    published_at: iso(now),
    complete_until: iso(end),
    complete_from: iso(completeFrom),
    sketch: { ...SKETCH_BLOCK },
    tables: {
      ...(base?.tables ?? {}),
      hourly_metrics: { files: hourlyFiles, rows: hourlyRows },
      daily_metrics: { files: dailyFiles, rows: dailyRows }
    },
    built_from: Object.fromEntries(Object.entries(builtFrom).sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  await writeManifest(dataDir, manifest)
  const elapsedMs = performance.now() - started
  const hoursBuilt = Math.max(0, (end - start) / HOUR_MS)
  onProgress?.(`batch: published gold v${version}: ${hoursBuilt} new hours to ${iso(end)}` +
    `${hoursRebuilt > 0 ? `, ${hoursRebuilt} rebuilt (${datesRebuilt.join(', ')})` : ''}, ` +
    `${events.toLocaleString('en-US')} events, ${rows.toLocaleString('en-US')} rows in ${(elapsedMs / 1000).toFixed(1)} s`)
  return {
    published: true,
    version,
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

function tsValue (ms: number): ReturnType<typeof timestampTZValue> {
  return timestampTZValue(BigInt(ms) * 1000n)
}

/** Rows of listed gold files, from their Parquet footers. */
async function rowsOf (conn: Conn, dataDir: string, rels: string[]): Promise<number> {
  if (rels.length === 0) return 0
  const r = await conn.rows('SELECT coalesce(sum(num_rows), 0) AS n FROM parquet_file_metadata($files::VARCHAR[])',
    { files: listValue(rels.map((f) => resolveListed(dataDir, f))) })
  return num(r[0]?.n)
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
