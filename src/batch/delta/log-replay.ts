// Replay of a Delta table's log through DuckDB SQL: the newest checkpoint and the JSON commits after
// it (log-plan.ts) read in one statement, the newest file action per path kept (a later version
// wins; within one commit an add wins over a remove of the same path), and the table's newest
// protocol and metaData. The result is the snapshot: its version and its active data files.
// Checkpoint columns are turned into JSON text so that checkpoints and commits read alike.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import type { Conn } from '../duckdb.js'
import { DeltaError, planReplay, type ReplayPlan } from './log-plan.js'
import type { DeltaMetadata, DeltaProtocol } from './table-checks.js'

export interface DeltaFile {
  /** as written in the add action (a URI relative to the table, or absolute) */
  path: string
  partitionValues: Record<string, string | null>
  /** the add action carries a deletion vector */
  deletionVector: boolean
  /** the add action's tags (a writer's own per-file notes) */
  tags: Record<string, string>
  /** the add action as written (size, modificationTime, stats…), for a checkpoint writer */
  action: Record<string, unknown>
}

/** A file the snapshot no longer holds: the newest remove action of its path (vacuum goes by deletionTimestamp). */
export interface DeltaTombstone {
  path: string
  deletionTimestamp: number | null
  /** the remove action as written */
  action: Record<string, unknown>
}

export interface DeltaSnapshot {
  version: number
  protocol: DeltaProtocol
  metadata: DeltaMetadata
  /** the newest metaData action as written (id, format, createdTime…), for a checkpoint writer */
  metaDataAction: Record<string, unknown>
  files: DeltaFile[]
  /** removed files whose newest action is their remove */
  tombstones: DeltaTombstone[]
  /** when the snapshot's commit was written (its file's mtime), epoch ms */
  committedAt: number
}

export function deltaLogDir (table: string): string {
  return join(table, '_delta_log')
}

/** The names in `_delta_log` (ENOENT: a DeltaError saying the folder is not a Delta table). */
export async function listDeltaLog (table: string): Promise<string[]> {
  try {
    return await readdir(deltaLogDir(table))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DeltaError(`${table} is not a Delta table: it has no _delta_log folder`)
    throw err
  }
}

const CHECKPOINT_ACTIONS = ['add', 'remove', 'metaData', 'protocol'] as const

/** The checkpoint's rows as (version, add, remove, metaData, protocol) JSON text; a column it lacks reads as NULL. */
async function checkpointSelect (conn: Conn, files: string[]): Promise<string> {
  const described = await conn.rows('DESCRIBE SELECT * FROM read_parquet($files::VARCHAR[], union_by_name = true)', { files: listValue(files) })
  const cols = new Set(described.map((r) => r.column_name))
  const parts = CHECKPOINT_ACTIONS.map((a) => (cols.has(a) ? `to_json("${a}")` : 'CAST(NULL AS JSON)') + ` AS "${a}"`)
  return `SELECT CAST($cpVersion AS BIGINT) AS version, ${parts.join(', ')} FROM read_parquet($cpFiles::VARCHAR[], union_by_name = true)`
}

const COMMITS_SELECT = `SELECT CAST(regexp_extract(filename, '(\\d{20})\\.json$', 1) AS BIGINT) AS version, "add", "remove", "metaData", "protocol"
FROM read_json($commits::VARCHAR[], format = 'newline_delimited', filename = true,
  columns = {add: 'JSON', remove: 'JSON', metaData: 'JSON', protocol: 'JSON'})`

/** Newest action per path (adds only survive), plus the newest metaData and protocol, as (kind, text) rows. */
function replaySql (actions: string): string {
  return `WITH actions AS (${actions}),
files AS (
  SELECT "add"->>'path' AS path, version * 2 + 1 AS rank, "add" AS action FROM actions WHERE "add" IS NOT NULL
  UNION ALL
  SELECT "remove"->>'path', version * 2, "remove" FROM actions WHERE "remove" IS NOT NULL
),
latest AS (SELECT path, arg_max(action, rank) AS action, max(rank) % 2 AS added FROM files GROUP BY path)
SELECT 'add' AS kind, json_object('path', path, 'partitionValues', action->'partitionValues',
  'dv', coalesce(json_type(action, '$.deletionVector'), 'NULL') <> 'NULL', 'action', action)::VARCHAR AS body FROM latest WHERE added = 1
UNION ALL
SELECT 'remove', json_object('path', path, 'action', action)::VARCHAR FROM latest WHERE added = 0
UNION ALL (SELECT 'metaData', "metaData"::VARCHAR FROM actions WHERE "metaData" IS NOT NULL ORDER BY version DESC LIMIT 1)
UNION ALL (SELECT 'protocol', "protocol"::VARCHAR FROM actions WHERE "protocol" IS NOT NULL ORDER BY version DESC LIMIT 1)`
}

/**
 * Replay the log up to the plan's version. The connection runs with preserve_insertion_order off
 * (nothing here depends on row order; with it on, reading many small commit files is twice as slow).
 */
export async function replayDeltaLog (conn: Conn, table: string, plan: ReplayPlan): Promise<DeltaSnapshot> {
  const logDir = deltaLogDir(table)
  const selects: string[] = []
  const params: Record<string, ReturnType<typeof listValue> | number> = {}
  if (plan.checkpoint !== null) {
    const files = plan.checkpoint.files.map((f) => join(logDir, f))
    selects.push(await checkpointSelect(conn, files))
    params.cpFiles = listValue(files)
    params.cpVersion = plan.checkpoint.version
  }
  if (plan.commits.length > 0) {
    selects.push(COMMITS_SELECT)
    params.commits = listValue(plan.commits.map((f) => join(logDir, f)))
  }
  const rows = await conn.rows(replaySql(selects.map((s) => `(${s})`).join(' UNION ALL BY NAME ')), params)
  let protocol: DeltaProtocol | null = null
  let metadata: DeltaMetadata | null = null
  let metaDataAction: Record<string, unknown> = {}
  const files: DeltaFile[] = []
  const tombstones: DeltaTombstone[] = []
  for (const r of rows) {
    const body = JSON.parse(r.body as string) as Record<string, unknown>
    if (r.kind === 'protocol') {
      protocol = body as unknown as DeltaProtocol
    } else if (r.kind === 'metaData') {
      metadata = normalMetadata(body)
      metaDataAction = body
    } else if (r.kind === 'remove') {
      const action = body.action as Record<string, unknown>
      const ts = Number(action.deletionTimestamp)
      tombstones.push({ path: body.path as string, deletionTimestamp: Number.isFinite(ts) && action.deletionTimestamp !== null ? ts : null, action })
    } else {
      const partitionValues = (body.partitionValues ?? {}) as Record<string, string | null>
      const action = body.action as Record<string, unknown>
      const tags = (action.tags ?? {}) as Record<string, string>
      files.push({ path: body.path as string, partitionValues, deletionVector: body.dv === true, tags, action })
    }
  }
  if (protocol === null) throw new DeltaError(`${table}: the log up to version ${plan.version} holds no protocol action`)
  if (metadata === null) throw new DeltaError(`${table}: the log up to version ${plan.version} holds no metaData action`)
  const last = plan.commits[plan.commits.length - 1] ?? plan.checkpoint?.files[0]
  const committedAt = last === undefined ? Date.now() : (await stat(join(logDir, last))).mtimeMs
  return { version: plan.version, protocol, metadata, metaDataAction, files, tombstones, committedAt: Math.floor(committedAt) }
}

function normalMetadata (m: Record<string, unknown>): DeltaMetadata {
  // a checkpoint's MAP columns read back (to_json) as JSON objects, like the commits' own
  const configuration = (m.configuration ?? {}) as Record<string, string | null>
  const id = typeof m.id === 'string' ? { id: m.id } : {}
  return { ...id, schemaString: String(m.schemaString ?? ''), partitionColumns: (m.partitionColumns ?? []) as string[], configuration }
}

/**
 * The newest snapshot of the table at `table` (a local folder). The folder's listing decides which
 * checkpoint is newest (`_last_checkpoint` only saves a listing, which is cheap on a local disk).
 */
export async function readDeltaSnapshot (conn: Conn, table: string): Promise<DeltaSnapshot> {
  return await replayDeltaLog(conn, table, planReplay(await listDeltaLog(table)))
}
