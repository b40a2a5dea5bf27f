// Compaction of our gold Delta tables: in each table, every date that is final (wholly before the table's
// hourglass.complete_until) and has two files or more is merged into one file sorted like the batch job's, inside
// the date's folder; one commit per table removes the merged files and adds the new ones, all with
// dataChange=false (the rows are the same), so readers of the change feed see nothing and the built-from tags of
// the merged hourly files carry over united. The batch lock is held throughout, so a batch run never loses its
// commit to compaction; if another writer took the version all the same, nothing is committed and the new files
// are deleted. A checkpoint follows when one is due.
import { randomUUID } from 'node:crypto'
import { access, rm, stat } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { listValue } from '@duckdb/node-api'
import { DAY_MS } from '../../model/time.js'
import { produceFileAtomic } from '../atomic-file.js'
import { type Db, num } from '../duckdb.js'
import { GOLD_ROW_GROUP_SIZE } from '../gold-build-sql.js'
import { acquireLock, batchLockPath, type LockOptions } from '../lock.js'
import { checkpointIfDue } from './checkpoint.js'
import { type AddAction, CommitConflictError, type DeltaAction, type RemoveAction, writeCommit } from './commit.js'
import { dataFilePath } from './gold-table.js'
import { type DeltaFile, readDeltaSnapshot } from './log-replay.js'
import { builtFromOf, builtFromTags, dailyTableDir, hourlyTableDir } from './own-layout.js'
import { COMPLETE_UNTIL_PROPERTY } from './table-checks.js'

// by name: a date may hold files from before the enrichment columns beside newer ones (theirs read as NULL, i.e. 0)
const COPY_MERGED = `COPY (
  SELECT * FROM read_parquet($files::VARCHAR[], hive_partitioning = false, union_by_name = true)
  ORDER BY window_start, event_type, region
) TO $path (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${GOLD_ROW_GROUP_SIZE})`

const ROWS = 'SELECT CAST(coalesce(sum(num_rows), 0) AS BIGINT) AS n FROM parquet_file_metadata($files::VARCHAR[])'

export interface GoldCompactOptions {
  dataDir: string
  db: Db
  /** the checkpoint interval of tables that do not set delta.checkpointInterval */
  checkpointInterval: number
  now?: () => number
  onProgress?: (line: string) => void
  /** the batch lock (gold/_lock); false only in tests */
  lock?: boolean | LockOptions
  /** test seam: after the merged files are written, before the commit */
  beforeCommit?: (table: string, version: number) => void | Promise<void>
}

export interface GoldTableCompaction {
  table: 'hourly_metrics' | 'daily_metrics'
  /** the version committed (null: nothing to do, or another writer won) */
  version: number | null
  dates: string[]
  /** files merged away */
  removed: number
  /** files written */
  added: number
  /** another writer committed the version first: nothing of this compaction is left */
  conflict?: string
  /** the checkpoint written after the commit */
  checkpoint?: number
  /** why the checkpoint due after the commit failed (the commit stands; the next due version writes one) */
  checkpointError?: string
}

export interface GoldCompactSummary {
  tables: GoldTableCompaction[]
  elapsedMs: number
  /** set when another process holds the batch lock */
  busy?: string
}

/** One line saying what a gold compaction did. */
export function describeGoldCompaction (s: GoldCompactSummary): string {
  if (s.busy !== undefined) return `compact gold: ${s.busy}; nothing done`
  const parts = s.tables.map((t) => {
    if (t.conflict !== undefined) return `${t.table}: ${t.conflict}; nothing committed`
    if (t.version === null) return `${t.table}: nothing to merge`
    const cp = t.checkpoint === undefined ? '' : `, checkpoint ${t.checkpoint}`
    const cpFailed = t.checkpointError === undefined ? '' : `, checkpoint failed: ${t.checkpointError}`
    const dates = `${t.dates.length} date${t.dates.length === 1 ? '' : 's'}`
    return `${t.table}: ${dates}, ${t.removed} files merged into ${t.added} (version ${t.version}${cp}${cpFailed})`
  })
  return `compact gold: ${parts.length === 0 ? 'no Delta gold yet' : parts.join('; ')} (${(s.elapsedMs / 1000).toFixed(1)} s)`
}

/** Compact both gold tables of the data folder (a table that is not a Delta table yet is left alone). */
export async function compactGold (options: GoldCompactOptions): Promise<GoldCompactSummary> {
  const started = performance.now()
  const found: Array<[GoldTableCompaction['table'], string]> = []
  for (const [name, dir] of [['hourly_metrics', hourlyTableDir(options.dataDir)], ['daily_metrics', dailyTableDir(options.dataDir)]] as const) {
    if (await access(join(dir, '_delta_log')).then(() => true, () => false)) found.push([name, dir])
  }
  if (found.length === 0) return { tables: [], elapsedMs: performance.now() - started }
  const compactAll = async (): Promise<GoldCompactSummary> => {
    const tables: GoldTableCompaction[] = []
    for (const [name, dir] of found) tables.push(await compactTable(options, name, dir))
    return { tables, elapsedMs: performance.now() - started }
  }
  if (options.lock === false) return await compactAll()
  const lockOptions = typeof options.lock === 'object' ? options.lock : {}
  const r = await acquireLock(batchLockPath(options.dataDir), { purpose: 'compact gold', onProgress: options.onProgress, ...lockOptions })
  if (!r.acquired) return { tables: [], elapsedMs: performance.now() - started, busy: r.reason }
  try {
    return await compactAll()
  } finally {
    await r.lock.release()
  }
}

/** The dates of a snapshot to merge: final (before completeUntil) with two files or more, each with its files. */
export function datesToMerge (files: readonly DeltaFile[], completeUntil: number): Map<string, DeltaFile[]> {
  const byDate = new Map<string, DeltaFile[]>()
  for (const f of files) {
    const date = f.partitionValues.date
    if (date == null || !/^\d{4}-\d{2}-\d{2}$/.test(date) || Date.parse(`${date}T00:00:00Z`) + DAY_MS > completeUntil) continue
    byDate.set(date, [...byDate.get(date) ?? [], f])
  }
  for (const [date, list] of byDate) if (list.length < 2) byDate.delete(date)
  return byDate
}

async function compactTable (options: GoldCompactOptions, name: GoldTableCompaction['table'], table: string): Promise<GoldTableCompaction> {
  const now = options.now ?? Date.now
  const conn = await options.db.connect()
  const written: string[] = []
  try {
    const snapshot = await readDeltaSnapshot(conn, table)
    const until = Date.parse(snapshot.metadata.configuration[COMPLETE_UNTIL_PROPERTY] ?? '')
    const groups = datesToMerge(snapshot.files, Number.isFinite(until) ? until : -Infinity)
    const result: GoldTableCompaction = { table: name, version: null, dates: [...groups.keys()].sort(), removed: 0, added: 0 }
    if (groups.size === 0) return result
    const removes: DeltaAction[] = []
    const adds: DeltaAction[] = []
    const deletedAt = now()
    for (const date of result.dates) {
      const group = groups.get(date) as DeltaFile[]
      const inputs = group.map((f) => dataFilePath(table, f.path))
      // the new file's URI sits beside the merged ones (they share the date's folder)
      const uri = posix.join(posix.dirname(group[0]?.path ?? `date=${date}/x`), `part-${randomUUID()}-compacted.parquet`)
      const path = dataFilePath(table, uri)
      written.push(path)
      await produceFileAtomic(path, async (tmp) => { await conn.run(COPY_MERGED, { files: listValue(inputs), path: tmp }) })
      const [before, after] = await Promise.all([inputs, [path]].map(async (f) => num((await conn.rows(ROWS, { files: listValue(f) }))[0]?.n)))
      if (before !== after) throw new Error(`${table}: merging ${date} wrote ${after} rows, not ${before}`)
      const st = await stat(path)
      const hours = builtFromOf(group)[date] ?? {}
      const add: AddAction = {
        path: uri,
        partitionValues: { ...group[0]?.partitionValues },
        size: st.size,
        modificationTime: Math.floor(st.mtimeMs),
        dataChange: false,
        stats: JSON.stringify({ numRecords: after }),
        ...(Object.keys(hours).length > 0 ? { tags: builtFromTags(hours) } : {})
      }
      adds.push({ add })
      for (const f of group) {
        const size = Number(f.action.size)
        const remove: RemoveAction = {
          path: f.path, deletionTimestamp: deletedAt, dataChange: false, extendedFileMetadata: true, partitionValues: f.partitionValues,
          ...(Number.isFinite(size) ? { size } : {})
        }
        removes.push({ remove })
      }
      result.removed += group.length
      result.added += 1
    }
    const version = snapshot.version + 1
    await options.beforeCommit?.(table, version)
    const commitInfo: DeltaAction = {
      commitInfo: {
        timestamp: deletedAt, operation: 'OPTIMIZE', operationParameters: { predicate: '[]', targetSize: 'one file per date' },
        isBlindAppend: false, engineInfo: 'hourglass'
      }
    }
    try {
      await writeCommit(table, version, [commitInfo, ...removes, ...adds])
    } catch (err) {
      if (!(err instanceof CommitConflictError)) throw err
      return { ...result, version: null, removed: 0, added: 0, conflict: `version ${version} was committed by another writer` }
    }
    written.length = 0 // committed: the files are the table's now
    result.version = version
    try {
      const cp = await checkpointIfDue(conn, table, version, options.checkpointInterval, now())
      if (cp !== null) result.checkpoint = cp.version
    } catch (err) {
      result.checkpointError = (err as Error).message
    }
    return result
  } finally {
    await Promise.all(written.map((p) => rm(p, { force: true })))
    options.db.release(conn)
  }
}
