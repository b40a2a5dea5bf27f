// Gold Delta tables of Hourglass's own layout, made the way its batch job writes them: gold Parquet files written
// with DuckDB in the gold contract's columns under date=YYYY-MM-DD/, each publish one commit (writeCommit) with the
// metaData carrying the properties, adds with partitionValues {date}, stats {"numRecords": n} and, on hourly files,
// the built-from tags; a rebuilt date removes the files it replaces in the same commit.
import { randomUUID } from 'node:crypto'
import { access, mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import type { Conn } from '../../src/batch/duckdb.js'
import { type AddAction, type DeltaAction, type MetaDataAction, writeCommit } from '../../src/batch/delta/commit.js'
import { builtFromTags } from '../../src/batch/delta/own-layout.js'
import { readDeltaSnapshot } from '../../src/batch/delta/log-replay.js'
import { COMPLETE_FROM_PROPERTY, COMPLETE_UNTIL_PROPERTY } from '../../src/batch/delta/table-checks.js'
import { type GoldRow, goldRow } from './delta-rs.js'

const field = (name: string, type: unknown): object => ({ name, type, nullable: true, metadata: {} })
export const GOLD_SCHEMA_STRING = JSON.stringify({
  type: 'struct',
  fields: [
    field('window_start', 'timestamp'), field('event_type', 'string'), field('region', 'string'), field('total_events', 'long'),
    field('latency_sum', 'double'), field('latency_count', 'long'), field('revenue_cents', 'long'),
    field('response_bins', { type: 'array', containsNull: true, elementType: { type: 'struct', fields: [field('bin', 'integer'), field('n', 'long')] } }),
    field('date', 'string')
  ]
})

const WRITE_GOLD = `COPY (
  SELECT CAST(j.window_start AS TIMESTAMPTZ) AS window_start, j.event_type AS event_type, j.region AS region, j.total_events, j.latency_sum, j.latency_count,
         j.revenue_cents, list_transform(j.response_bins, x -> {'bin': CAST(x[1] AS INTEGER), 'n': CAST(x[2] AS BIGINT)}) AS response_bins
  FROM (SELECT json_transform(unnest($rows::VARCHAR[]),
    '{"window_start": "VARCHAR", "event_type": "VARCHAR", "region": "VARCHAR", "total_events": "BIGINT", "latency_sum": "DOUBLE",
      "latency_count": "BIGINT", "revenue_cents": "BIGINT", "response_bins": "BIGINT[][]"}') AS j)
  ORDER BY window_start, event_type, region
) TO $path (FORMAT parquet, COMPRESSION zstd)`

export interface OwnProperties { completeUntil: string, completeFrom?: string, extra?: Record<string, string> }

function metaData (p: OwnProperties): MetaDataAction {
  return {
    id: '5eed0000-0000-4000-8000-000000000001',
    format: { provider: 'parquet', options: {} },
    schemaString: GOLD_SCHEMA_STRING,
    partitionColumns: ['date'],
    configuration: { [COMPLETE_UNTIL_PROPERTY]: p.completeUntil, ...(p.completeFrom === undefined ? {} : { [COMPLETE_FROM_PROPERTY]: p.completeFrom }), ...p.extra },
    createdTime: 1_767_225_600_000
  }
}

/** Write one gold file of `rows` under date=<date>/ in the table; its add action. */
export async function writeGoldFile (conn: Conn, table: string, date: string, rows: GoldRow[], hours?: Record<string, string>): Promise<AddAction> {
  const rel = `date=${date}/part-${randomUUID()}.parquet`
  const path = join(table, rel)
  await mkdir(join(table, `date=${date}`), { recursive: true })
  await conn.run(WRITE_GOLD, { rows: listValue(rows.map((r) => JSON.stringify(r))), path })
  const st = await stat(path)
  return {
    path: rel,
    partitionValues: { date },
    size: st.size,
    modificationTime: Math.floor(st.mtimeMs),
    dataChange: true,
    stats: JSON.stringify({ numRecords: rows.length }),
    ...(hours === undefined ? {} : { tags: builtFromTags(hours) })
  }
}

export interface Publish {
  /** files to add: a date's rows, and (hourly) the hours' fingerprints */
  files: Array<{ date: string, rows: GoldRow[], hours?: Record<string, string> }>
  /** dates whose files in force are replaced (removed in the same commit) */
  replaceDates?: string[]
  properties: OwnProperties
}

/** One publish as the next version of the table (version 0 also writes the protocol); the version. */
export async function publishOwn (conn: Conn, table: string, p: Publish, now = Date.now()): Promise<number> {
  let version = 0
  const actions: DeltaAction[] = [{ commitInfo: { timestamp: now, operation: 'WRITE', operationParameters: { mode: 'Append' } } }]
  const exists = await access(join(table, '_delta_log')).then(() => true, () => false)
  if (!exists) {
    actions.push({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } })
  } else {
    const s = await readDeltaSnapshot(conn, table)
    version = s.version + 1
    for (const f of s.files) {
      const date = f.partitionValues.date
      if (date == null || !(p.replaceDates ?? []).includes(date)) continue
      const a = f.action as unknown as AddAction
      actions.push({ remove: { path: f.path, deletionTimestamp: now, dataChange: true, extendedFileMetadata: true, partitionValues: a.partitionValues, size: a.size } })
    }
  }
  actions.push({ metaData: metaData(p.properties) })
  for (const f of p.files) actions.push({ add: await writeGoldFile(conn, table, f.date, f.rows, f.hours) })
  await writeCommit(table, version, actions)
  return version
}

const HOUR = 3_600_000
export const DAY1 = Date.parse('2026-01-01T00:00:00Z')
const TYPES = ['click', 'purchase']
const REGIONS = ['eu-west', 'us-east']

/** gold rows of `count` hours from `fromMs` (every event type and region) */
export function goldHours (fromMs: number, count: number, salt = 0): GoldRow[] {
  const out: GoldRow[] = []
  for (let h = 0; h < count; h++) for (const e of TYPES) for (const r of REGIONS) out.push(goldRow(fromMs + h * HOUR, e, r, salt))
  return out
}

const dateOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10)
const hourOf = (ms: number): string => new Date(ms).toISOString().slice(11, 13)

/**
 * An hourly table of `publishes` versions (0…publishes-1), each adding the next `hoursPer` hours from DAY1 as a file of
 * its own (so a date gathers several files); version 2 rebuilds the first date (its files removed, one file of new
 * rows added). complete_until is the end of the last hour. The rows in force and the last version.
 */
export async function ownHistory (conn: Conn, table: string, publishes: number, hoursPer = 4, extra?: Record<string, string>): Promise<{ rows: GoldRow[], version: number, completeUntil: string }> {
  const byDate = new Map<string, GoldRow[]>()
  let version = -1
  let completeUntil = ''
  for (let i = 0; i < publishes; i++) {
    const start = DAY1 + i * hoursPer * HOUR
    completeUntil = new Date(start + hoursPer * HOUR).toISOString()
    const properties = { completeUntil, completeFrom: new Date(DAY1).toISOString(), ...(extra === undefined ? {} : { extra }) }
    const files: Publish['files'] = []
    const replaceDates: string[] = []
    if (i === 2) {
      // the rebuild of the first date: its hours so far again, with other values
      const first = dateOf(DAY1)
      const rows = goldHours(DAY1, Math.min(24, i * hoursPer), 1).filter((r) => r.window_start.startsWith(first))
      byDate.set(first, rows)
      replaceDates.push(first)
      files.push({ date: first, rows, hours: Object.fromEntries(rows.map((r) => [hourOf(Date.parse(r.window_start)), 'rebuilt'])) })
    }
    for (const date of new Set(goldHours(start, hoursPer).map((r) => r.window_start.slice(0, 10)))) {
      const rows = goldHours(start, hoursPer).filter((r) => r.window_start.startsWith(date))
      byDate.set(date, [...byDate.get(date) ?? [], ...rows])
      files.push({ date, rows, hours: Object.fromEntries(rows.map((r) => [hourOf(Date.parse(r.window_start)), `fp${i}`])) })
    }
    version = await publishOwn(conn, table, { files, replaceDates, properties })
  }
  return { rows: [...byDate.values()].flat(), version, completeUntil }
}
