// Retention: bronze past its retention, and gold files the Delta tables no longer hold, removed.
// Bronze goes by whole UTC dates, oldest first, and only while every hour of the date is settled in the hourly gold
// table (built, with the bronze fingerprint it was built from in its files' tags); bronze/_retention.json is written
// first, and the batch job never rebuilds a date before it. A gold file a table removed goes once its remove's
// deletionTimestamp is older than the retention (the table's delta.deletedFileRetentionDuration, else goldRetentionMs),
// so a reader still on an older version keeps its files; a file no version names (a killed run's) once its mtime is.
// `_delta_log` is never touched. Vacuum holds the batch lock (no run writes files) and the compaction lock.
import { readdir, rm, rmdir, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { DAY_MS, HOUR_MS, utcDate, utcHour } from '../model/time.js'
import { isTempName } from './atomic-file.js'
import { bronzeFingerprint } from './bronze-coverage.js'
import { bronzeEventsDir, listBronzeHours, readBronzeRetention, writeBronzeRetention } from './bronze-layout.js'
import { acquireLock, batchLockPath, compactionLockPath, type LockOptions } from './lock.js'
import { dataFilePath } from './delta/gold-table.js'
import type { DeltaSnapshot } from './delta/log-replay.js'
import { type OwnGoldState, readOwnGold } from './delta/own-gold.js'
import { dailyTableDir, hourlyTableDir } from './delta/own-layout.js'
import { Db } from './duckdb.js'

export interface VacuumOptions {
  dataDir: string
  /** bronze older than this (ms) is removed, by whole UTC dates */
  retainMs: number
  /** a gold file removed from its table stays this long (a table's delta.deletedFileRetentionDuration wins) */
  goldRetentionMs: number
  /** DuckDB for replaying the tables' logs (default: an instance of its own for the call) */
  db?: Db
  /** wall clock (epoch ms) */
  now: number
  /** report what would go, remove nothing */
  dryRun?: boolean
  onProgress?: (line: string) => void
  /** the batch and compaction locks; false only in tests */
  lock?: boolean | LockOptions
}

export interface VacuumSummary {
  /** bronze dates removed (YYYY-MM-DD) */
  bronzeDates: string[]
  bronzeFiles: number
  /** the first date past retention that had to stay, and why */
  bronzeKept: { date: string, reason: string } | null
  /** gold files removed (relative to dataDir) */
  goldFiles: string[]
  /** bronze/_retention.json after the run (epoch ms) */
  removedBefore: number | null
  elapsedMs: number
  busy?: string
}

/** One line saying what a vacuum did (the CLI's and serve's progress line). */
export function describeVacuum (s: VacuumSummary, dryRun = false): string {
  if (s.busy !== undefined) return `vacuum: ${s.busy}; nothing removed`
  return `vacuum${dryRun ? ' (dry run)' : ''}: bronze ${s.bronzeDates.length} dates (${s.bronzeFiles} files), ` +
    `gold ${s.goldFiles.length} files removed` +
    (s.bronzeKept === null ? '' : `; kept ${s.bronzeKept.date} on: ${s.bronzeKept.reason}`)
}

export async function vacuum (options: VacuumOptions): Promise<VacuumSummary> {
  const started = performance.now()
  const busy = (reason: string): VacuumSummary => {
    options.onProgress?.(`vacuum: ${reason}; not vacuuming`)
    return {
      bronzeDates: [], bronzeFiles: 0, bronzeKept: null, goldFiles: [], removedBefore: null, elapsedMs: performance.now() - started, busy: reason
    }
  }
  if (options.lock === false) return await vacuumNow(options, started)
  const lockOptions = typeof options.lock === 'object' ? options.lock : {}
  const batch = await acquireLock(batchLockPath(options.dataDir), { purpose: 'vacuum', onProgress: options.onProgress, ...lockOptions })
  if (!batch.acquired) return busy(batch.reason)
  try {
    const compact = await acquireLock(compactionLockPath(options.dataDir), { purpose: 'vacuum', onProgress: options.onProgress, ...lockOptions })
    if (!compact.acquired) return busy(compact.reason)
    try {
      return await vacuumNow(options, started)
    } finally {
      await compact.lock.release()
    }
  } finally {
    await batch.lock.release()
  }
}

async function vacuumNow (options: VacuumOptions, started: number): Promise<VacuumSummary> {
  const own = options.db === undefined ? await Db.open({ threads: 1 }) : null
  const db = options.db ?? (own as Db)
  const conn = await db.connect()
  try {
    await conn.run('SET SESSION preserve_insertion_order = false')
    const state = await readOwnGold(conn, options.dataDir)
    return await vacuumState(options, started, state)
  } finally {
    db.release(conn)
    own?.close()
  }
}

async function vacuumState (options: VacuumOptions, started: number, state: OwnGoldState): Promise<VacuumSummary> {
  const { dataDir, now, onProgress } = options
  const dry = options.dryRun === true
  const summary: VacuumSummary = {
    bronzeDates: [], bronzeFiles: 0, bronzeKept: null, goldFiles: [], removedBefore: await readBronzeRetention(dataDir), elapsedMs: 0
  }
  if (state.version === null) {
    onProgress?.('vacuum: no gold published yet; nothing is settled, nothing removed')
    summary.elapsedMs = performance.now() - started
    return summary
  }

  // bronze: whole dates past retention, oldest first, while settled in the hourly table
  const retainBefore = Math.floor((now - options.retainMs) / DAY_MS) * DAY_MS
  const completeUntil = state.completeUntil ?? -Infinity
  const frozen = summary.removedBefore ?? -Infinity
  const byDate = new Map<string, Map<number, string[]>>()
  for (const [hour, files] of await listBronzeHours(dataDir, -Infinity, retainBefore)) {
    const date = utcDate(hour)
    if (!byDate.has(date)) byDate.set(date, new Map())
    byDate.get(date)!.set(hour, files)
  }
  let removedBefore = summary.removedBefore
  const remove: string[] = []
  for (const date of [...byDate.keys()].sort()) {
    const day = Date.parse(date + 'T00:00:00Z')
    const hours = byDate.get(date)!
    let reason: string | null = null
    if (day + DAY_MS > completeUntil) reason = 'not yet built into gold'
    else if (day >= frozen) {
      const recorded = state.builtFrom[date]
      for (let h = day; h < day + DAY_MS && reason === null; h += HOUR_MS) {
        const fp = bronzeFingerprint((hours.get(h) ?? []).map((path) => ({ path })))
        if ((recorded?.[utcHour(h)] ?? '') !== fp) {
          reason = `bronze of ${utcHour(h)}:00 changed since gold was built (a late file); the next batch run rebuilds it`
        }
      }
    }
    // before the retention mark: gold for it is final; whatever arrived since is past retention
    if (reason !== null) {
      summary.bronzeKept = { date, reason }
      onProgress?.(`vacuum: keeping bronze from ${date} on: ${reason}`)
      break
    }
    remove.push(date)
    summary.bronzeFiles += [...hours.values()].reduce((n, f) => n + f.length, 0)
    removedBefore = Math.max(removedBefore ?? -Infinity, day + DAY_MS)
  }
  if (remove.length > 0 && !dry) {
    // the mark first: a crash halfway leaves dates that the batch job already treats as frozen
    await writeBronzeRetention(dataDir, removedBefore as number)
    for (const date of remove) await rm(join(bronzeEventsDir(dataDir), `date=${date}`), { recursive: true, force: true })
  }
  summary.bronzeDates = remove
  summary.removedBefore = removedBefore
  if (remove.length > 0) {
    onProgress?.(`vacuum: ${dry ? 'would remove' : 'removed'} bronze of ${remove.length} date(s) (${remove[0]} … ${remove[remove.length - 1]}), ` +
      `${summary.bronzeFiles} files`)
  }

  // gold: files the tables no longer hold, past the retention
  const tables: Array<[string, Array<DeltaSnapshot | null>]> = [
    [hourlyTableDir(dataDir), [state.hourly]],
    [dailyTableDir(dataDir), [state.dailyLatest, state.daily, state.dailyBase]]
  ]
  for (const [table, snapshots] of tables) {
    const latest = snapshots[0] ?? null
    const retention = tableRetention(latest, options.goldRetentionMs)
    const keep = new Set(snapshots.flatMap((s) => s?.files ?? []).map((f) => dataFilePath(table, f.path)))
    const removedAt = new Map((latest?.tombstones ?? []).map((t) => [dataFilePath(table, t.path), t.deletionTimestamp]))
    for (const abs of await walk(table, '_delta_log')) {
      if (keep.has(abs)) continue
      const name = abs.slice(abs.lastIndexOf(sep) + 1)
      if (!name.endsWith('.parquet') && !isTempName(name)) continue
      // a temp file: no run is writing (we hold the batch lock), so a crash left it
      const since = isTempName(name) ? -Infinity : removedAt.get(abs) ?? (await stat(abs)).mtimeMs
      if (since !== null && since > now - retention) continue
      if (!dry) await rm(abs, { force: true })
      summary.goldFiles.push(relative(dataDir, abs).split(sep).join('/'))
    }
    if (!dry) await removeEmptyDirs(table, '_delta_log')
  }
  if (summary.goldFiles.length > 0) {
    onProgress?.(`vacuum: ${dry ? 'would remove' : 'removed'} ${summary.goldFiles.length} gold file(s) the tables removed (or never held) ` +
      `longer ago than the retention`)
  }
  summary.elapsedMs = performance.now() - started
  return summary
}

const RETENTION_UNITS: Record<string, number> = { millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 }

/** A table's delta.deletedFileRetentionDuration ("interval 7 days"), else the setting. */
export function tableRetention (snapshot: DeltaSnapshot | null, fallbackMs: number): number {
  const v = snapshot?.metadata.configuration['delta.deletedFileRetentionDuration']
  const m = /^\s*interval\s+(\d+)\s+(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(v ?? '')
  return m === null ? fallbackMs : Number(m[1]) * (RETENTION_UNITS[(m[2] as string).toLowerCase()] as number)
}

/** Files under `dir`, not descending into a folder named `skip`. */
async function walk (dir: string, skip: string): Promise<string[]> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: string[] = []
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== skip) out.push(...await walk(p, skip))
    }
    else if (e.isFile()) out.push(p)
  }
  return out
}

async function removeEmptyDirs (root: string, skip: string): Promise<void> {
  let entries
  try {
    entries = await readdir(root, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name === skip) continue
    const p = join(root, e.name)
    await removeEmptyDirs(p, skip)
    try {
      await rmdir(p)
    } catch {
      // not empty
    }
  }
}
