// Checkpoints of the Delta tables Hourglass writes: `<version>.checkpoint.parquet` (classic, one file) holding
// the snapshot's protocol, metaData, every active add and the tombstones still within the table's retention, in
// the column types of the protocol's checkpoint schema (Spark reads them strictly: longs are BIGINT, maps are
// MAP(VARCHAR, VARCHAR)). The file is written to a temp name and renamed; then `_last_checkpoint` is replaced
// atomically. A reader never needs the checkpoint (the commits stay until they are cleaned up), so a crash
// anywhere leaves the table readable. Transaction identifiers and domain metadata are not kept: our writer
// makes neither, and a log that holds one is refused rather than checkpointed without it.
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import { DAY_MS, HOUR_MS } from '../../model/time.js'
import { produceFileAtomic, writeFileAtomic } from '../atomic-file.js'
import type { Conn } from '../duckdb.js'
import { checkpoints, DeltaError, planReplay } from './log-plan.js'
import { type DeltaSnapshot, deltaLogDir, listDeltaLog, replayDeltaLog } from './log-replay.js'

/** the table property that overrides the checkpoint interval */
export const CHECKPOINT_INTERVAL_PROPERTY = 'delta.checkpointInterval'
/** the table property saying how long removed files stay recoverable (Delta's default: a week) */
export const DELETED_FILE_RETENTION_PROPERTY = 'delta.deletedFileRetentionDuration'
const DEFAULT_DELETED_FILE_RETENTION_MS = 7 * DAY_MS

const STRING_MAP = 'MAP(VARCHAR, VARCHAR)'
/** The checkpoint's columns (the protocol's "Checkpoint Schema"), as json_transform's structure. */
const CHECKPOINT_STRUCTURE = {
  protocol: { minReaderVersion: 'INTEGER', minWriterVersion: 'INTEGER', readerFeatures: 'VARCHAR[]', writerFeatures: 'VARCHAR[]' },
  metaData: {
    id: 'VARCHAR',
    name: 'VARCHAR',
    description: 'VARCHAR',
    format: { provider: 'VARCHAR', options: STRING_MAP },
    schemaString: 'VARCHAR',
    partitionColumns: 'VARCHAR[]',
    configuration: STRING_MAP,
    createdTime: 'BIGINT'
  },
  add: {
    path: 'VARCHAR',
    partitionValues: STRING_MAP,
    size: 'BIGINT',
    modificationTime: 'BIGINT',
    dataChange: 'BOOLEAN',
    stats: 'VARCHAR',
    tags: STRING_MAP
  },
  remove: {
    path: 'VARCHAR',
    deletionTimestamp: 'BIGINT',
    dataChange: 'BOOLEAN',
    extendedFileMetadata: 'BOOLEAN',
    partitionValues: STRING_MAP,
    size: 'BIGINT'
  }
} as const

const WRITE_CHECKPOINT = `COPY (
  SELECT a.protocol, a.metaData, a."add", a."remove"
  FROM (SELECT json_transform(unnest($actions::VARCHAR[]), '${JSON.stringify(CHECKPOINT_STRUCTURE)}') AS a)
) TO $path (FORMAT parquet, COMPRESSION snappy)`

/** The name of the classic checkpoint of a version. */
export function checkpointName (version: number): string {
  return `${String(version).padStart(20, '0')}.checkpoint.parquet`
}

/** `delta.deletedFileRetentionDuration` ("interval 7 days", "interval 1 week"…) in ms; the default when unset. */
export function deletedFileRetentionMs (configuration: Record<string, string | null>): number {
  const v = configuration[DELETED_FILE_RETENTION_PROPERTY]
  if (v === undefined || v === null) return DEFAULT_DELETED_FILE_RETENTION_MS
  const m = /^\s*interval\s+(\d+)\s+(second|minute|hour|day|week)s?\s*$/i.exec(v)
  if (m === null) throw new DeltaError(`the table property ${DELETED_FILE_RETENTION_PROPERTY} = ${JSON.stringify(v)} is not "interval N unit"`)
  const unit = { second: 1000, minute: 60_000, hour: HOUR_MS, day: DAY_MS, week: 7 * DAY_MS }[(m[2] as string).toLowerCase() as 'day']
  return Number(m[1]) * unit
}

/** what a checkpoint may drop: copies of other fields (another engine's checkpoint may hold them) */
const DERIVED = new Set(['stats_parsed', 'partitionValues_parsed'])

/** Keys of an action our checkpoint columns keep; any other key would be lost, so it is refused. */
function checkKeys (action: Record<string, unknown>, kind: 'add' | 'remove', table: string): void {
  const known = Object.keys(CHECKPOINT_STRUCTURE[kind])
  const lost = Object.keys(action).filter((k) => !known.includes(k) && action[k] !== null && !DERIVED.has(k))
  if (lost.length > 0) {
    throw new DeltaError(`${table}: cannot checkpoint ${kind} ${String(action.path)}: it holds ${lost.join(', ')}, which the checkpoint does not keep`)
  }
}

export interface CheckpointWritten {
  version: number
  /** the checkpoint's file */
  path: string
  /** actions in it */
  size: number
  numOfAddFiles: number
  sizeInBytes: number
}

/**
 * Write the checkpoint of `snapshot` (the table's state at its version) and point `_last_checkpoint` at it
 * (unless that already names a newer checkpoint). Tombstones older than the table's deleted-file retention are
 * left out, as the protocol allows (vacuum may already have removed their files).
 */
export async function writeCheckpoint (conn: Conn, table: string, snapshot: DeltaSnapshot, now = Date.now()): Promise<CheckpointWritten> {
  const keepSince = now - deletedFileRetentionMs(snapshot.metadata.configuration)
  const actions: string[] = [
    JSON.stringify({ protocol: snapshot.protocol }),
    JSON.stringify({ metaData: snapshot.metaDataAction })
  ]
  for (const f of snapshot.files) {
    checkKeys(f.action, 'add', table)
    actions.push(JSON.stringify({ add: f.action }))
  }
  for (const t of snapshot.tombstones) {
    if (t.deletionTimestamp !== null && t.deletionTimestamp < keepSince) continue
    // a remove in a checkpoint is a tombstone for vacuum: it carries no stats or tags
    const { stats: _s, tags: _t, ...rest } = t.action
    checkKeys(rest, 'remove', table)
    actions.push(JSON.stringify({ remove: rest }))
  }
  const path = join(deltaLogDir(table), checkpointName(snapshot.version))
  await produceFileAtomic(path, async (tmp) => { await conn.run(WRITE_CHECKPOINT, { actions: listValue(actions), path: tmp }) })
  const sizeInBytes = (await stat(path)).size
  const written = { version: snapshot.version, path, size: actions.length, numOfAddFiles: snapshot.files.length, sizeInBytes }
  const last = await readLastCheckpoint(table)
  if (last === null || last.version <= snapshot.version) {
    await writeFileAtomic(join(deltaLogDir(table), '_last_checkpoint'),
      JSON.stringify({ version: written.version, size: written.size, sizeInBytes, numOfAddFiles: written.numOfAddFiles }))
  }
  return written
}

/** `_delta_log/_last_checkpoint`'s version and size (null: absent or unreadable; readers then list the folder). */
export async function readLastCheckpoint (table: string): Promise<{ version: number, size: number } | null> {
  let text: string
  try {
    text = await readFile(join(deltaLogDir(table), '_last_checkpoint'), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    const v = JSON.parse(text) as { version?: unknown, size?: unknown }
    return Number.isSafeInteger(v.version) ? { version: v.version as number, size: Number(v.size) } : null
  } catch {
    return null
  }
}

/**
 * After committing `version`: write its checkpoint when version % interval is 0 (the table's
 * delta.checkpointInterval, else `defaultInterval`) and it has none yet. Returns the checkpoint written, or null.
 */
export async function checkpointIfDue (
  conn: Conn, table: string, version: number, defaultInterval: number, now = Date.now()
): Promise<CheckpointWritten | null> {
  if (version <= 0) return null
  const names = await listDeltaLog(table)
  if (checkpoints(names).some((c) => c.version === version)) return null
  const plan = planReplay(names, version)
  if (plan.version !== version) throw new DeltaError(`${table}: version ${version} is not in the log (newest: ${plan.version})`)
  const snapshot = await replayDeltaLog(conn, table, plan)
  const own = snapshot.metadata.configuration[CHECKPOINT_INTERVAL_PROPERTY]
  const interval = own != null && /^\d+$/.test(own) && Number(own) > 0 ? Number(own) : defaultInterval
  if (version % interval !== 0) return null
  return await writeCheckpoint(conn, table, snapshot, now)
}
