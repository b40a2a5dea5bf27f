// Publishing Hourglass's own gold as Delta commits: each table is created by its commit 0 (protocol and
// metaData) when it has none; then the daily table's commit (its files made what the run wants: removes and
// adds against its newest version), then the hourly table's commit, which is the publish: removes of the
// replaced files, the new files with their row counts and built-from tags, and the metaData with the
// properties, hourglass.daily_version naming the daily commit just made. Readers pin the daily table to that
// property, so a run killed before the hourly commit changes nothing that is served.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { iso } from '../../model/time.js'
import { type AddAction, type CommitInfoAction, type DeltaAction, type MetaDataAction, type RemoveAction, writeCommit } from './commit.js'
import { GOLD_PARTITION_COLUMNS, GOLD_SCHEMA_STRING } from './gold-schema.js'
import type { DeltaFile, DeltaSnapshot } from './log-replay.js'
import { dailyTableDir, DAILY_VERSION_PROPERTY, hourlyTableDir } from './own-layout.js'
import { COMPLETE_FROM_PROPERTY, COMPLETE_UNTIL_PROPERTY } from './table-checks.js'

let engine: string | undefined

/** commitInfo.engineInfo: hourglass/<package version>. */
export function engineInfo (): string {
  engine ??= `hourglass/${(JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version}`
  return engine
}

/** The add action of a data file written under `table` at `rel` (a path relative to the table, '/'-separated). */
export async function addActionFor (
  table: string, rel: string, date: string, rows: number, tags?: Record<string, string>
): Promise<AddAction> {
  const s = await stat(join(table, ...rel.split('/')))
  return {
    path: encodeURI(rel),
    partitionValues: { date },
    size: s.size,
    modificationTime: Math.floor(s.mtimeMs),
    dataChange: true,
    stats: JSON.stringify({ numRecords: rows }),
    ...(tags !== undefined ? { tags } : {})
  }
}

/** The remove action of a file of a snapshot. */
export function removeActionOf (file: DeltaFile, now: number): RemoveAction {
  const size = Number(file.action.size)
  return {
    path: file.path,
    deletionTimestamp: now,
    dataChange: true,
    extendedFileMetadata: true,
    partitionValues: file.partitionValues,
    ...(Number.isFinite(size) ? { size } : {})
  }
}

function metaData (base: DeltaSnapshot | null, id: string, configuration: Record<string, string>, now: number): MetaDataAction {
  const kept: Record<string, string> = {}
  for (const [k, v] of Object.entries(base?.metadata.configuration ?? {})) if (v !== null) kept[k] = v
  return {
    id,
    format: { provider: 'parquet', options: {} },
    schemaString: GOLD_SCHEMA_STRING,
    partitionColumns: GOLD_PARTITION_COLUMNS,
    configuration: { ...kept, ...configuration },
    // the table's creation; later metaData actions leave it out
    ...(base === null ? { createdTime: now } : {})
  }
}

function commitInfo (now: number, operation: string, parameters: Record<string, string> = {}): CommitInfoAction {
  return { timestamp: now, operation, operationParameters: parameters, engineInfo: engineInfo(), isBlindAppend: false }
}

/** Commit 0 of a table that has none: the protocol and the metaData. Returns the table's id. */
async function createTable (table: string, now: number): Promise<{ version: number, id: string }> {
  const id = randomUUID()
  await writeCommit(table, 0, [
    { commitInfo: commitInfo(now, 'CREATE TABLE', { partitionBy: JSON.stringify(GOLD_PARTITION_COLUMNS) }) },
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    { metaData: metaData(null, id, {}, now) }
  ])
  return { version: 0, id }
}

async function tableBase (table: string, latest: DeltaSnapshot | null, now: number): Promise<{ version: number, id: string }> {
  if (latest === null) return await createTable(table, now)
  return { version: latest.version, id: latest.metadata.id ?? randomUUID() }
}

export interface OwnPublish {
  dataDir: string
  /** wall clock: commit timestamps and the removes' deletionTimestamp */
  now: number
  /** the hourly table's newest snapshot the run built on (null: no table yet) */
  hourly: DeltaSnapshot | null
  /** the daily table's newest snapshot (null: no table yet) */
  dailyLatest: DeltaSnapshot | null
  completeUntil: number
  completeFrom: number
  /** hourly files replaced (from the hourly snapshot) and the new ones */
  hourlyRemove: readonly DeltaFile[]
  hourlyAdd: readonly AddAction[]
  /** every file the daily table holds after this publish: kept ones (their add actions as written) and new ones */
  dailyWanted: ReadonlyArray<AddAction | Record<string, unknown>>
  /** commitInfo.operation of both commits */
  operation?: string
}

/** Create the tables if needed, commit daily then hourly; the versions published. Throws CommitConflictError when another writer won a version. */
export async function publishOwnGold (p: OwnPublish): Promise<{ version: number, dailyVersion: number }> {
  const hourlyDir = hourlyTableDir(p.dataDir)
  const dailyDir = dailyTableDir(p.dataDir)
  const operation = p.operation ?? 'WRITE'
  const properties = { [COMPLETE_UNTIL_PROPERTY]: iso(p.completeUntil), [COMPLETE_FROM_PROPERTY]: iso(p.completeFrom) }
  const hourlyBase = await tableBase(hourlyDir, p.hourly, p.now)
  const dailyBase = await tableBase(dailyDir, p.dailyLatest, p.now)

  const wanted = new Map(p.dailyWanted.map((a) => [String(a.path), a]))
  const have = new Map((p.dailyLatest?.files ?? []).map((f) => [f.path, f]))
  const dailyActions: DeltaAction[] = [{ commitInfo: commitInfo(p.now, operation) }]
  for (const [path, f] of have) if (!wanted.has(path)) dailyActions.push({ remove: removeActionOf(f, p.now) })
  for (const [path, a] of wanted) if (!have.has(path)) dailyActions.push({ add: { ...(a as unknown as AddAction), dataChange: true } })
  dailyActions.push({ metaData: metaData(p.dailyLatest, dailyBase.id, properties, p.now) })
  const dailyVersion = dailyBase.version + 1
  await writeCommit(dailyDir, dailyVersion, dailyActions)

  const version = hourlyBase.version + 1
  await writeCommit(hourlyDir, version, [
    { commitInfo: commitInfo(p.now, operation) },
    ...p.hourlyRemove.map((f): DeltaAction => ({ remove: removeActionOf(f, p.now) })),
    ...p.hourlyAdd.map((a): DeltaAction => ({ add: a })),
    { metaData: metaData(p.hourly, hourlyBase.id, { ...properties, [DAILY_VERSION_PROPERTY]: String(dailyVersion) }, p.now) }
  ])
  return { version, dailyVersion }
}
