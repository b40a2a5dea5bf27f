// What a Delta snapshot must be for Hourglass to read it as gold: a protocol whose reader features
// we implement, no column mapping, the gold contract's columns, and the batch boundary in the table
// property `hourglass.complete_until`. Pure: works on the decoded protocol and metaData actions.
import { DeltaError } from './log-plan.js'

export const COMPLETE_UNTIL_PROPERTY = 'hourglass.complete_until'
/** optional: the first hour the table covers */
export const COMPLETE_FROM_PROPERTY = 'hourglass.complete_from'

export interface DeltaProtocol {
  minReaderVersion: number
  readerFeatures?: string[] | null
}

export interface DeltaMetadata {
  /** the table's id (kept by a writer's later metaData actions) */
  id?: string
  schemaString: string
  partitionColumns: string[]
  configuration: Record<string, string | null>
}

/**
 * Reader features that need nothing of a reader that only reads the newest snapshot's data files and only the
 * contract's columns, whose types are checked (so a variant column may exist, just not among them).
 */
const HARMLESS_FEATURES = new Set(['timestampNtz', 'vacuumProtocolCheck', 'variantType', 'appendOnly', 'invariants', 'checkConstraints', 'generatedColumns'])

/** The gold contract: column → the Delta types accepted for it (wider integer types read the same). */
const CONTRACT: Record<string, (type: unknown) => boolean> = {
  window_start: (t) => t === 'timestamp' || t === 'timestamp_ntz',
  event_type: (t) => t === 'string',
  region: (t) => t === 'string',
  total_events: (t) => t === 'long' || t === 'integer',
  latency_sum: (t) => t === 'double' || t === 'float',
  latency_count: (t) => t === 'long' || t === 'integer',
  revenue_cents: (t) => t === 'long' || t === 'integer',
  response_bins: isBinsType
}

function isBinsType (t: unknown): boolean {
  const a = t as { type?: string, elementType?: { type?: string, fields?: Array<{ name: string, type: unknown }> } } | null
  if (a?.type !== 'array' || a.elementType?.type !== 'struct') return false
  const fields = new Map((a.elementType.fields ?? []).map((f) => [f.name, f.type]))
  return (fields.get('bin') === 'integer' || fields.get('bin') === 'long') && (fields.get('n') === 'long' || fields.get('n') === 'integer')
}

/** Refuse a protocol with reader features we do not implement, naming them. */
export function checkProtocol (p: DeltaProtocol, table: string): void {
  if (p.minReaderVersion > 3) throw new DeltaError(`${table}: Delta reader version ${p.minReaderVersion} is not supported (at most 3)`)
  const unsupported = (p.readerFeatures ?? []).filter((f) => !HARMLESS_FEATURES.has(f))
  if (unsupported.length > 0) {
    throw new DeltaError(`${table}: the table uses the Delta reader feature(s) ${unsupported.join(', ')}, which Hourglass does not read ` +
      '(supported: ' + [...HARMLESS_FEATURES].join(', ') + ')')
  }
}

export interface GoldTableInfo {
  completeUntil: number
  completeFrom: number | null
  partitionColumns: string[]
}

/** Check the metadata against the gold contract; the boundary and partitioning it gives. */
export function checkGoldMetadata (m: DeltaMetadata, table: string): GoldTableInfo {
  const mode = m.configuration['delta.columnMapping.mode']
  if (mode !== undefined && mode !== null && mode !== 'none') {
    throw new DeltaError(`${table}: the table uses the Delta reader feature columnMapping (delta.columnMapping.mode=${mode}), which Hourglass does not read`)
  }
  const dv = m.configuration['delta.enableDeletionVectors']
  if (dv === 'true') throw new DeltaError(`${table}: the table sets delta.enableDeletionVectors=true; Hourglass does not read deletionVectors`)
  let schema: { fields?: Array<{ name: string, type: unknown }> }
  try {
    schema = JSON.parse(m.schemaString) as typeof schema
  } catch {
    throw new DeltaError(`${table}: the table's schemaString is not JSON`)
  }
  const types = new Map((schema.fields ?? []).map((f) => [f.name, f.type]))
  const wrong = Object.entries(CONTRACT).filter(([name, ok]) => !ok(types.get(name)))
    .map(([name]) => `${name} (${JSON.stringify(types.get(name) ?? null)})`)
  if (wrong.length > 0) throw new DeltaError(`${table}: columns missing or not of the gold contract's type: ${wrong.join(', ')}`)
  if (m.partitionColumns.includes('response_bins')) throw new DeltaError(`${table}: response_bins cannot be a partition column`)
  const until = instantProperty(m, COMPLETE_UNTIL_PROPERTY, table)
  if (until === null) {
    throw new DeltaError(`${table}: the table property ${COMPLETE_UNTIL_PROPERTY} is not set; the writer must set it (ISO-8601 UTC, e.g. ` +
      `ALTER TABLE … SET TBLPROPERTIES ('${COMPLETE_UNTIL_PROPERTY}' = '2026-01-01T00:00:00Z')) to say which hours are final`)
  }
  return { completeUntil: until, completeFrom: instantProperty(m, COMPLETE_FROM_PROPERTY, table), partitionColumns: m.partitionColumns }
}

function instantProperty (m: DeltaMetadata, name: string, table: string): number | null {
  const v = m.configuration[name]
  if (v === undefined || v === null || v === '') return null
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN
  if (!Number.isFinite(t)) throw new DeltaError(`${table}: the table property ${name} = ${JSON.stringify(v)} is not an ISO-8601 instant with a zone`)
  return t
}
