// The state of Hourglass's own gold, read from its two Delta tables (own-layout.ts): the hourly table's newest
// snapshot is what is published (its version is the gold version; nothing is published until it carries
// hourglass.complete_until), and the daily table is read at the version the hourly table names in
// hourglass.daily_version (a run killed between its daily and hourly commits leaves a daily version no one reads).
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import type { Conn } from '../duckdb.js'
import { dataFilePath } from './gold-table.js'
import { commitName, holdsVersions, planReplay } from './log-plan.js'
import { type DeltaFile, type DeltaSnapshot, deltaLogDir, replayDeltaLog } from './log-replay.js'
import { builtFromOf, dailyTableDir, DAILY_VERSION_PROPERTY, hourlyTableDir } from './own-layout.js'
import { COMPLETE_FROM_PROPERTY, COMPLETE_UNTIL_PROPERTY } from './table-checks.js'

export interface OwnGoldState {
  /** the hourly table's newest snapshot (null: no table yet) */
  hourly: DeltaSnapshot | null
  /** the daily table at the hourly table's hourglass.daily_version (null: none) */
  daily: DeltaSnapshot | null
  /** the daily table's newest snapshot (a killed run may have committed past the pinned version) */
  dailyLatest: DeltaSnapshot | null
  /** the daily state a run builds on: the pinned one, or the newest when every commit after the pin changed no data (compaction) */
  dailyBase: DeltaSnapshot | null
  /** the published gold version: the hourly table's version once it carries complete_until, else null */
  version: number | null
  completeUntil: number | null
  completeFrom: number | null
  /** date → "HH" → bronze fingerprint, from the hourly files' tags */
  builtFrom: Record<string, Record<string, string>>
}

/** The log's file names, null when the table has no version yet (no folder, or no commit or checkpoint in `_delta_log`). */
async function logNames (table: string): Promise<string[] | null> {
  let names: string[]
  try {
    names = await readdir(deltaLogDir(table))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  return holdsVersions(names) ? names : null
}

/** A table's snapshot at `upTo` (default: the newest); null when the table has no commit yet. */
export async function readOwnTable (conn: Conn, table: string, upTo = Infinity): Promise<DeltaSnapshot | null> {
  const names = await logNames(table)
  return names === null ? null : await replayDeltaLog(conn, table, planReplay(names, upTo))
}

/** An instant table property (null: unset). */
export function instantOf (snapshot: DeltaSnapshot | null, name: string): number | null {
  const v = snapshot?.metadata.configuration[name]
  if (v === undefined || v === null || v === '') return null
  const t = Date.parse(v)
  return Number.isFinite(t) ? t : null
}

/** Read our gold's state from its tables. */
export async function readOwnGold (conn: Conn, dataDir: string): Promise<OwnGoldState> {
  const hourly = await readOwnTable(conn, hourlyTableDir(dataDir))
  const pinned = hourly?.metadata.configuration[DAILY_VERSION_PROPERTY]
  const dailyVersion = pinned === undefined || pinned === null || !/^\d+$/.test(pinned) ? null : Number(pinned)
  const dailyLatest = await readOwnTable(conn, dailyTableDir(dataDir))
  const daily = dailyVersion === null || dailyLatest === null
    ? null
    : dailyVersion === dailyLatest.version ? dailyLatest : await readOwnTable(conn, dailyTableDir(dataDir), dailyVersion)
  const completeUntil = instantOf(hourly, COMPLETE_UNTIL_PROPERTY)
  const rearranged = daily !== null && dailyLatest !== null && await onlyRearranged(dailyTableDir(dataDir), daily.version, dailyLatest.version)
  return {
    hourly,
    daily,
    dailyLatest,
    dailyBase: rearranged ? dailyLatest : daily,
    version: hourly === null || completeUntil === null ? null : hourly.version,
    completeUntil,
    completeFrom: instantOf(hourly, COMPLETE_FROM_PROPERTY),
    // by date (a snapshot's files come in no order)
    builtFrom: Object.fromEntries(Object.entries(hourly === null ? {} : builtFromOf(hourly.files)).sort(([a], [b]) => (a < b ? -1 : 1)))
  }
}

/** Whether every commit in (from, to] only rearranges files (adds and removes with dataChange false: compaction). */
async function onlyRearranged (table: string, from: number, to: number): Promise<boolean> {
  if (to <= from) return true
  for (let v = from + 1; v <= to; v++) {
    let text: string
    try {
      text = await readFile(join(deltaLogDir(table), commitName(v)), 'utf8')
    } catch {
      return false // only in a checkpoint: not known
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      const a = JSON.parse(line) as { add?: { dataChange?: boolean }, remove?: { dataChange?: boolean } }
      if ((a.add ?? a.remove)?.dataChange !== false && (a.add !== undefined || a.remove !== undefined)) return false
    }
  }
  return true
}

/** A file's path relative to the data folder ('/'-separated), e.g. gold/hourly_metrics/date=…/part-….parquet. */
export function dataRelative (dataDir: string, table: string, file: Pick<DeltaFile, 'path'>): string {
  return relative(dataDir, dataFilePath(table, file.path)).split(sep).join('/')
}

/** The rows of a snapshot's files, from their add actions' stats (numRecords). */
export function rowsOf (files: readonly DeltaFile[]): number {
  let n = 0
  for (const f of files) {
    try {
      const stats = JSON.parse(String(f.action.stats ?? '{}')) as { numRecords?: unknown }
      if (typeof stats.numRecords === 'number') n += stats.numRecords
    } catch {
      // no stats: counted as 0
    }
  }
  return n
}
