// The most frequent entities of hourly gold over a range: each row keeps its own top entities (top_entities, at most
// TOP_ENTITIES), summed here per entity over the rows in [from, to) that pass the filters. Files (and the columns a
// table keeps in partition values) are bound parameters; only our own column names and placeholders reach SQL text.
import { type DuckDBValue, listValue } from '@duckdb/node-api'
import type { EntityCount } from '../model/entities.js'
import type { Filters } from '../model/query.js'
import type { Conn } from './duckdb.js'
import { partitionColumns, withEnrichmentColumns } from './gold-file-cache.js'

export interface EntityFile {
  path: string
  /** gold columns the table keeps in partition values rather than in the file, as text */
  partitionValues?: Record<string, string | null> | undefined
}

const KEYS = ['window_start', 'event_type', 'region'] as const

function hasKeyPartition (file: EntityFile): boolean {
  return KEYS.some((k) => file.partitionValues?.[k] !== undefined)
}

/** One file's rows as (window_start, event_type, region, top_entities), a key column from its partition value where it has one. */
function fileSelect (i: number, file: EntityFile, params: Record<string, DuckDBValue>): string {
  params[`f${i}`] = file.path
  const { col, params: bound } = partitionColumns(file.partitionValues, `p${i}_`)
  Object.assign(params, bound)
  const rows = withEnrichmentColumns(`read_parquet($f${i}, hive_partitioning = false)`)
  return `SELECT ${KEYS.map((k) => `${col(k)} AS ${k}`).join(', ')}, top_entities FROM ${rows}`
}

/** The statement and its parameters: entities by total n, then by name; at most `limit`. */
export function topEntitiesStatement (
  files: readonly EntityFile[], from: number, to: number, filters: Filters, limit: number
): { sql: string, params: Record<string, DuckDBValue> } {
  const params: Record<string, DuckDBValue> = {
    from,
    to,
    types: filters.event_type !== undefined && filters.event_type.length > 0 ? listValue(filters.event_type) : null,
    regions: filters.region !== undefined && filters.region.length > 0 ? listValue(filters.region) : null,
    k: limit
  }
  // files without partition values are read as one list (by column name: older files lack top_entities), the others one by one
  const plain = files.filter((f) => !hasKeyPartition(f)).map((f) => f.path)
  const selects = files.filter(hasKeyPartition).map((f, i) => fileSelect(i, f, params))
  if (plain.length > 0) {
    params.files = listValue(plain)
    const list = 'read_parquet($files::VARCHAR[], hive_partitioning = false, union_by_name = true)'
    selects.push(`SELECT ${KEYS.join(', ')}, top_entities FROM ${withEnrichmentColumns(list)}`)
  }
  const rows = selects.join('\nUNION ALL\n')
  const sql = `SELECT e.entity AS entity, CAST(sum(e.n) AS DOUBLE) AS n FROM (
  SELECT unnest(top_entities) AS e FROM (${rows})
  WHERE epoch_ms(window_start) >= $from AND epoch_ms(window_start) < $to
    AND ($types IS NULL OR list_contains($types::VARCHAR[], event_type))
    AND ($regions IS NULL OR list_contains($regions::VARCHAR[], region))
) GROUP BY e.entity ORDER BY n DESC, entity LIMIT $k`
  return { sql, params }
}

/** The top `limit` entities of the files' rows in [from, to) that pass the filters (none: no files, or gold without the column). */
export async function readTopEntities (
  conn: Conn, files: readonly EntityFile[], from: number, to: number, filters: Filters, limit: number
): Promise<EntityCount[]> {
  if (files.length === 0 || !(from < to) || limit < 1) return []
  const { sql, params } = topEntitiesStatement(files, from, to, filters, limit)
  const rows = await conn.exclusive(async (raw) => (await raw.runAndReadAll(sql, params)).getRowsJS())
  return rows.map((r) => ({ entity: r[0] as string, n: r[1] as number }))
}
