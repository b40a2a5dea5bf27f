// Our own gold's state as the tests look at it: the hourly and daily Delta tables' files (relative to the data
// folder), rows (from the adds' stats), properties and built-from tags; and the raw text of both logs (to check
// that a run published nothing).
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Db } from '../../src/batch/duckdb.js'
import { dataRelative, readOwnGold, rowsOf } from '../../src/batch/delta/own-gold.js'
import { dailyTableDir, hourlyTableDir } from '../../src/batch/delta/own-layout.js'

export interface GoldState {
  /** the hourly table's version */
  version: number
  complete_until: string | null
  complete_from: string | null
  hourly: { files: string[], rows: number }
  daily: { files: string[], rows: number }
  built_from: Record<string, Record<string, string>>
  daily_version: number | null
}

/** The published state (null: nothing published yet). */
export async function goldState (db: Db, dataDir: string): Promise<GoldState | null> {
  const conn = await db.connect()
  try {
    const s = await readOwnGold(conn, dataDir)
    if (s.version === null || s.hourly === null) return null
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString())
    const dailyFiles = s.daily?.files ?? []
    return {
      version: s.version,
      complete_until: iso(s.completeUntil),
      complete_from: iso(s.completeFrom),
      hourly: { files: s.hourly.files.map((f) => dataRelative(dataDir, hourlyTableDir(dataDir), f)).sort(), rows: rowsOf(s.hourly.files) },
      daily: { files: dailyFiles.map((f) => dataRelative(dataDir, dailyTableDir(dataDir), f)).sort(), rows: rowsOf(dailyFiles) },
      built_from: s.builtFrom,
      daily_version: s.daily?.version ?? null
    }
  } finally {
    db.release(conn)
  }
}

/** Every file the published state names (hourly and daily, relative to the data folder). */
export function listedFiles (s: GoldState): string[] {
  return [...s.hourly.files, ...s.daily.files]
}

/**
 * The names and text of the tables' logs: equal before and after a run that published nothing (only the hourly
 * table's when `hourlyOnly`: a run killed between its two commits leaves a daily commit no one reads).
 */
export async function logText (dataDir: string, hourlyOnly = false): Promise<string> {
  const out: string[] = []
  for (const table of hourlyOnly ? [hourlyTableDir(dataDir)] : [hourlyTableDir(dataDir), dailyTableDir(dataDir)]) {
    let names: string[] = []
    try {
      names = (await readdir(join(table, '_delta_log'))).sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const n of names) out.push(`${table} ${n}\n${n.endsWith('.json') ? await readFile(join(table, '_delta_log', n), 'utf8') : ''}`)
  }
  return out.join('\n')
}
