// Retention: bronze past its retention, and gold files no recent manifest lists, removed.
// Bronze goes by whole UTC dates, oldest first, and only while every hour of the date is settled in the live manifest
// (built, with the bronze fingerprint it was built from); bronze/_retention.json is written first, and the batch job
// never rebuilds a date before it. Gold stays while the live manifest or one of the last keepVersions lists it.
// Vacuum holds the batch lock (no run writes unlisted files) and the compaction lock (no compaction writes into a date).
import { readdir, rm, rmdir } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { DAY_MS, HOUR_MS, utcDate, utcHour } from '../model/time.js'
import { isTempName } from './atomic-file.js'
import { bronzeFingerprint } from './bronze-coverage.js'
import { bronzeEventsDir, listBronzeHours, readBronzeRetention, writeBronzeRetention } from './bronze-layout.js'
import { acquireLock, batchLockPath, compactionLockPath, type LockOptions } from './lock.js'
import { goldDir, listedFiles, listManifestHistory, manifestHistoryPath, readManifest, readManifestVersion } from './manifest.js'

export interface VacuumOptions {
  dataDir: string
  /** bronze older than this (ms) is removed, by whole UTC dates */
  retainMs: number
  /** keep gold files listed by the last N manifest versions (the live one included) */
  keepVersions: number
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
  /** history manifests removed (versions) */
  manifests: number[]
  /** bronze/_retention.json after the run (epoch ms) */
  removedBefore: number | null
  elapsedMs: number
  busy?: string
}

/** One line saying what a vacuum did (the CLI's and serve's progress line). */
export function describeVacuum (s: VacuumSummary, dryRun = false): string {
  if (s.busy !== undefined) return `vacuum: ${s.busy}; nothing removed`
  return `vacuum${dryRun ? ' (dry run)' : ''}: bronze ${s.bronzeDates.length} dates (${s.bronzeFiles} files), ` +
    `gold ${s.goldFiles.length} files, ${s.manifests.length} old manifests removed` +
    (s.bronzeKept === null ? '' : `; kept ${s.bronzeKept.date} on: ${s.bronzeKept.reason}`)
}

export async function vacuum (options: VacuumOptions): Promise<VacuumSummary> {
  const started = performance.now()
  const busy = (reason: string): VacuumSummary => {
    options.onProgress?.(`vacuum: ${reason}; not vacuuming`)
    return {
      bronzeDates: [], bronzeFiles: 0, bronzeKept: null, goldFiles: [], manifests: [], removedBefore: null, elapsedMs: performance.now() - started, busy: reason
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
  const { dataDir, now, onProgress } = options
  const dry = options.dryRun === true
  const keepVersions = Math.max(1, options.keepVersions)
  const summary: VacuumSummary = {
    bronzeDates: [], bronzeFiles: 0, bronzeKept: null, goldFiles: [], manifests: [], removedBefore: await readBronzeRetention(dataDir), elapsedMs: 0
  }
  const live = await readManifest(dataDir)
  if (live === null) {
    onProgress?.('vacuum: no gold manifest yet; nothing is settled, nothing removed')
    summary.elapsedMs = performance.now() - started
    return summary
  }

  // bronze: whole dates past retention, oldest first, while settled in the live manifest
  const retainBefore = Math.floor((now - options.retainMs) / DAY_MS) * DAY_MS
  const completeUntil = live.complete_until === null ? -Infinity : Date.parse(live.complete_until)
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
      const recorded = live.built_from?.[date]
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

  // gold: files no manifest among the last keepVersions versions lists
  const keep = new Set(listedFiles(live))
  const history = await listManifestHistory(dataDir)
  const oldestKept = live.version - keepVersions + 1
  for (const v of history) {
    if (v < oldestKept || v > live.version) continue
    const m = await readManifestVersion(dataDir, v)
    if (m !== null) for (const f of listedFiles(m)) keep.add(f)
  }
  for (const table of ['hourly_metrics', 'daily_metrics']) {
    const root = join(goldDir(dataDir), table)
    for (const abs of await walk(root)) {
      const rel = relative(dataDir, abs).split(sep).join('/')
      const name = abs.slice(abs.lastIndexOf(sep) + 1)
      // temp files: we hold the batch lock, so no run is writing; these are left by crashes
      if (keep.has(rel) || (!rel.endsWith('.parquet') && !isTempName(name))) continue
      if (!dry) await rm(abs, { force: true })
      summary.goldFiles.push(rel)
    }
    if (!dry) await removeEmptyDirs(root)
  }
  for (const v of history) {
    if (v >= oldestKept) continue
    if (!dry) await rm(manifestHistoryPath(dataDir, v), { force: true })
    summary.manifests.push(v)
  }
  if (summary.goldFiles.length > 0 || summary.manifests.length > 0) {
    onProgress?.(`vacuum: ${dry ? 'would remove' : 'removed'} ${summary.goldFiles.length} gold file(s) no manifest from v${Math.max(1, oldestKept)} ` +
      `to v${live.version} lists, and ${summary.manifests.length} old manifest(s)`)
  }
  summary.elapsedMs = performance.now() - started
  return summary
}

async function walk (dir: string): Promise<string[]> {
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
    if (e.isDirectory()) out.push(...await walk(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

async function removeEmptyDirs (root: string): Promise<void> {
  let entries
  try {
    entries = await readdir(root, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue
    const p = join(root, e.name)
    await removeEmptyDirs(p)
    try {
      await rmdir(p)
    } catch {
      // not empty
    }
  }
}
