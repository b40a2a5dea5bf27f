// Migration of a data folder whose gold is still published by `gold/_manifest.json` (the format before the
// Delta tables): the files it lists, which already lie under gold/hourly_metrics/date=…/ and
// gold/daily_metrics/date=…/, are added to the two tables in one publish (row counts from their Parquet
// footers, the manifest's built_from as the hourly files' tags, its boundary as the properties); then the
// manifest is renamed to `_manifest.migrated.json` and its history `_manifest.v<N>.json` removed.
// Idempotent: with no manifest there is nothing to do; a migration killed after its hourly commit only renames.
import { readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import { type Db, num } from '../duckdb.js'
import { acquireLock, batchLockPath, type LockOptions } from '../lock.js'
import { goldDir, manifestPath, parseManifest, readManifestText, resolveListed } from '../manifest.js'
import type { AddAction } from './commit.js'
import { DeltaError } from './log-plan.js'
import { addActionFor, publishOwnGold } from './own-commit.js'
import { readOwnGold } from './own-gold.js'
import { builtFromTags, dailyTableDir, hourlyTableDir } from './own-layout.js'

export interface MigrateOptions {
  dataDir: string
  db: Db
  /** wall clock of the commits */
  now: number
  onProgress?: (line: string) => void
  /** the batch lock (false: the caller holds it) */
  lock?: boolean | LockOptions
}

export interface MigrateSummary {
  /** whether a manifest was migrated by this call */
  migrated: boolean
  /** the hourly table's version after the call (null: no gold) */
  version: number | null
  hourlyFiles: number
  dailyFiles: number
  busy?: string
}

export const MIGRATED_MANIFEST = '_manifest.migrated.json'

/** Migrate the manifest-based gold of a data folder to the Delta tables, if it has any. */
export async function migrateManifestGold (options: MigrateOptions): Promise<MigrateSummary> {
  const none: MigrateSummary = { migrated: false, version: null, hourlyFiles: 0, dailyFiles: 0 }
  if (await readManifestText(options.dataDir) === null) return none
  if (options.lock === false) return await migrateNow(options)
  const lockOptions = typeof options.lock === 'object' ? options.lock : {}
  const r = await acquireLock(batchLockPath(options.dataDir), { purpose: 'migrate', onProgress: options.onProgress, ...lockOptions })
  if (!r.acquired) {
    options.onProgress?.(`migrate: ${r.reason}; not migrating`)
    return { ...none, busy: r.reason }
  }
  try {
    return await migrateNow(options)
  } finally {
    await r.lock.release()
  }
}

/** A listed file's path inside its table ("date=…/name.parquet"), and its date. */
function inTable (rel: string, table: string): { rel: string, date: string } {
  const prefix = `gold/${table}/`
  const m = /^date=(\d{4}-\d{2}-\d{2})\/[^/]+$/.exec(rel.startsWith(prefix) ? rel.slice(prefix.length) : '')
  if (m === null) throw new DeltaError(`migrate: ${rel} is not a file of ${prefix}date=YYYY-MM-DD/; cannot add it to the ${table} Delta table`)
  return { rel: rel.slice(prefix.length), date: m[1] as string }
}

async function migrateNow (options: MigrateOptions): Promise<MigrateSummary> {
  const { dataDir, db, now, onProgress } = options
  const text = await readManifestText(dataDir)
  if (text === null) return { migrated: false, version: null, hourlyFiles: 0, dailyFiles: 0 }
  const manifest = parseManifest(text)
  const conn = await db.connect()
  try {
    await conn.run('SET SESSION preserve_insertion_order = false')
    const state = await readOwnGold(conn, dataDir)
    let summary: MigrateSummary = { migrated: true, version: state.version, hourlyFiles: 0, dailyFiles: 0 }
    if (state.version !== null) {
      onProgress?.(`migrate: gold is already in the Delta tables (version ${state.version}); retiring the manifest`)
    } else if (manifest.complete_until !== null) {
      const hourly = manifest.tables.hourly_metrics.files.map((f) => ({ ...inTable(f, 'hourly_metrics'), abs: resolveListed(dataDir, f) }))
      const daily = (manifest.tables.daily_metrics?.files ?? []).map((f) => ({ ...inTable(f, 'daily_metrics'), abs: resolveListed(dataDir, f) }))
      const all = [...hourly, ...daily]
      onProgress?.(`migrate: gold manifest v${manifest.version}: ${hourly.length} hourly and ${daily.length} daily files to the Delta tables`)
      const counted = all.length === 0
        ? []
        : await conn.rows('SELECT file_name AS f, sum(num_rows) AS n FROM parquet_file_metadata($files::VARCHAR[]) GROUP BY file_name',
          { files: listValue(all.map((f) => f.abs)) })
      const rowsOf = new Map(counted.map((r) => [String(r.f), num(r.n)]))
      const hourlyAdd: AddAction[] = []
      for (const f of hourly) {
        const built = manifest.built_from?.[f.date]
        const tags = built === undefined ? undefined : builtFromTags(built)
        hourlyAdd.push(await addActionFor(hourlyTableDir(dataDir), f.rel, f.date, rowsOf.get(f.abs) ?? 0, tags))
      }
      const dailyWanted: AddAction[] = []
      for (const f of daily) dailyWanted.push(await addActionFor(dailyTableDir(dataDir), f.rel, f.date, rowsOf.get(f.abs) ?? 0))
      const until = Date.parse(manifest.complete_until)
      const firstDate = [...hourly.map((f) => f.date)].sort()[0]
      const from = manifest.complete_from != null ? Date.parse(manifest.complete_from) : firstDate !== undefined ? Date.parse(`${firstDate}T00:00:00Z`) : until
      const published = await publishOwnGold({
        dataDir,
        now,
        hourly: state.hourly,
        dailyLatest: state.dailyLatest,
        completeUntil: until,
        completeFrom: Math.min(from, until),
        hourlyRemove: state.hourly?.files ?? [],
        hourlyAdd,
        dailyWanted,
        operation: 'CONVERT'
      })
      summary = { migrated: true, version: published.version, hourlyFiles: hourly.length, dailyFiles: daily.length }
      onProgress?.(`migrate: committed hourly_metrics v${published.version} and daily_metrics v${published.dailyVersion}`)
    } else {
      onProgress?.('migrate: the gold manifest lists nothing built yet; retiring it')
    }
    await rename(manifestPath(dataDir), join(goldDir(dataDir), MIGRATED_MANIFEST))
    for (const name of await readdir(goldDir(dataDir))) {
      if (/^_manifest\.v\d+\.json$/.test(name)) await rm(join(goldDir(dataDir), name), { force: true })
    }
    onProgress?.(`migrate: gold/_manifest.json renamed to gold/${MIGRATED_MANIFEST}; gold is read from the Delta tables`)
    return summary
  } finally {
    db.release(conn)
  }
}
