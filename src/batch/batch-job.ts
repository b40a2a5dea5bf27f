// The batch job: gold for every complete hour not yet built, published as a new manifest.
//
// An hour [h, h+1h) is complete when h + 1h + allowedLateness ≤ the bronze watermark. A run builds
// the hours from the manifest's complete_until (or, on the first run, the first hour holding bronze
// data) up to the end of the last complete hour, one date at a time: dedup, hourly rollup, one new
// gold file per date, then a new manifest listing the old files plus the new ones. Hours with no
// events are complete too, so complete_until moves over them. A run that fails before the
// manifest is written publishes nothing: its files are listed nowhere, and readers ignore them.
//
// Later (rebuilding hours whose bronze changed after they were built): the same per-date build
// can replace a date's files in the next manifest instead of adding to them; the manifest already
// carries everything a reader needs, so only this job would change.
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { listValue, timestampTZValue } from '@duckdb/node-api'
import { GOLD_FORMAT, type GoldManifest } from '../model/gold.js'
import { binValue } from '../model/sketch.js'
import { DAY_MS, HOUR_MS, iso, utcDate } from '../model/time.js'
import { produceFileAtomic } from './atomic-file.js'
import { bronzeWatermark, listBronzeHours } from './bronze-layout.js'
import { type Conn, type Db, num } from './duckdb.js'
import { BUILD_GOLD, COPY_GOLD, CREATE_P95_VALUES, GOLD_BUILD_P95_BINS, GOLD_BUILD_TOTALS } from './gold-build-sql.js'
import { readManifest, writeManifest } from './manifest.js'
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
  const next = prev.catch(() => undefined).then(() => runBatchNow(options))
  const tail = next.catch(() => undefined)
  running.set(key, tail)
  void tail.then(() => { if (running.get(key) === tail) running.delete(key) })
  return next
}

async function runBatchNow (options: BatchOptions): Promise<BatchSummary> {
  const { dataDir, db, now, allowedLatenessMs, onProgress } = options
  const started = performance.now()
  const base = await readManifest(dataDir)
  const nothing = (): BatchSummary => ({
    published: false,
    version: base?.version ?? null,
    hoursBuilt: 0,
    events: 0,
    rows: 0,
    files: [],
    completeUntil: base?.complete_until == null ? null : Date.parse(base.complete_until),
    elapsedMs: performance.now() - started
  })

  const watermark = await bronzeWatermark(dataDir)
  if (watermark === null) return nothing()
  const end = completeEnd(watermark, allowedLatenessMs)
  let start: number
  let completeFrom: string | null
  if (base?.complete_until != null) {
    start = Date.parse(base.complete_until)
    completeFrom = base.complete_from ?? null
  } else {
    const hours = await listBronzeHours(dataDir, -Infinity, end)
    const first = Math.min(...hours.keys())
    if (!Number.isFinite(first)) return nothing()
    start = first
    completeFrom = iso(first)
  }
  if (start >= end) return nothing()

  const bronze = await listBronzeHours(dataDir, start, end)
  const version = (base?.version ?? 0) + 1
  const runId = randomBytes(4).toString('hex')
  const written: string[] = []
  let events = 0
  let rows = 0
  const conn = await db.connect()
  try {
    for (let day = Math.floor(start / DAY_MS) * DAY_MS; day < end; day += DAY_MS) {
      const from = Math.max(day, start)
      const to = Math.min(day + DAY_MS, end)
      const hours = (to - from) / HOUR_MS
      const files: string[] = []
      for (let h = from; h < to; h += HOUR_MS) files.push(...(bronze.get(h) ?? []))
      let dayEvents = 0
      if (files.length > 0) {
        const rel = join('gold', 'hourly_metrics', `date=${utcDate(day)}`, `part-v${String(version).padStart(6, '0')}-${runId}.parquet`)
        const out = await buildDate(conn, { files, from, to, path: join(dataDir, rel) })
        if (out.rows > 0) written.push(rel.split('\\').join('/'))
        dayEvents = out.events
        events += out.events
        rows += out.rows
      }
      onProgress?.(`batch: ${utcDate(day)} ${hours}/24 hours, ${dayEvents.toLocaleString('en-US')} events`)
    }
  } finally {
    db.release(conn)
  }

  await options.beforePublish?.(written)
  const current = await readManifest(dataDir)
  if ((current?.version ?? 0) !== (base?.version ?? 0)) {
    throw new Error(`gold manifest moved from version ${base?.version ?? 0} to ${current?.version ?? 0} during this run; nothing published`)
  }
  const prevTable = base?.tables.hourly_metrics ?? { files: [], rows: 0 }
  const manifest: GoldManifest = {
    format: GOLD_FORMAT,
    version,
    published_at: iso(now),
    complete_until: iso(end),
    complete_from: completeFrom,
    sketch: { ...SKETCH_BLOCK },
    tables: {
      ...(base?.tables ?? {}),
      hourly_metrics: { files: [...prevTable.files, ...written], rows: prevTable.rows + rows }
    }
  }
  await writeManifest(dataDir, manifest)
  const elapsedMs = performance.now() - started
  const hoursBuilt = (end - start) / HOUR_MS
  onProgress?.(`batch: published gold v${version}: ${hoursBuilt} hours to ${iso(end)}, ${events.toLocaleString('en-US')} events, ${rows.toLocaleString('en-US')} rows in ${(elapsedMs / 1000).toFixed(1)} s`)
  return { published: true, version, hoursBuilt, events, rows, files: written, completeUntil: end, elapsedMs }
}

/** Roll up one date's bronze files into one gold file; returns its row and event counts. */
async function buildDate (conn: Conn, job: { files: string[], from: number, to: number, path: string }): Promise<{ rows: number, events: number }> {
  return await conn.exclusive(async (raw) => {
    await raw.run(BUILD_GOLD, {
      files: listValue(job.files),
      from: timestampTZValue(BigInt(job.from) * 1000n),
      to: timestampTZValue(BigInt(job.to) * 1000n)
    })
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
    await produceFileAtomic(job.path, async (tmp) => { await raw.run(COPY_GOLD, { path: tmp }) })
    return { rows, events }
  })
}
