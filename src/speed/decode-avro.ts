// Decoding a Confluent-framed Avro record into the event contract: its writer schema (fetched by the caller, by id)
// resolved to the contract's reader schema by Avro's rules (avsc: fields added with a default, fields removed, int →
// long → float → double promoted), then validated by the JSON form's rules. Pure logic; resolvers are cached per writer
// schema (an id's schema never changes).
import avro from 'avsc'
import {
  avroToWire, EVENT_AVRO_SCHEMA, framedSchemaId, type InvalidReason, isAvroRecord, parseEvent, validateEvent, type Validation, type ValueFormat
} from '../model/index.js'

/** Writer schemas by registry id (JSON text), null where the registry has no such id. */
export type WriterSchemas = ReadonlyMap<number, string | null>

const READER = avro.Type.forSchema(EVENT_AVRO_SCHEMA as unknown as avro.Schema)

/** per writer schema text: its resolver, or why it cannot be resolved */
const resolvers = new Map<string, avro.Resolver | string>()
const MAX_RESOLVERS = 1000

function resolverFor (schema: string): avro.Resolver | string {
  let r = resolvers.get(schema)
  if (r !== undefined) return r
  try {
    r = READER.createResolver(avro.Type.forSchema(JSON.parse(schema) as avro.Schema))
  } catch (err) {
    r = err instanceof Error ? err.message : String(err)
  }
  if (resolvers.size >= MAX_RESOLVERS) resolvers.clear()
  resolvers.set(schema, r)
  return r
}

const bad = (reason: InvalidReason, detail: string): Validation => ({ ok: false, reason, detail })

/** Decode and validate one framed Avro record at wall-clock time `now`. */
export function decodeAvroEvent (bytes: Uint8Array, schemas: WriterSchemas, now: number): Validation {
  const id = framedSchemaId(bytes)
  if (id === null) {
    if (bytes.byteLength > 0 && bytes[0] === 0) return bad('truncated_avro', `the record has ${bytes.byteLength} bytes, fewer than the Avro framing's 5`)
    return bad('not_avro', 'the record is not Confluent-framed Avro (its first byte is not 0)')
  }
  const schema = schemas.get(id)
  if (schema === undefined || schema === null) return bad('unknown_schema_id', `the schema registry has no schema with id ${id}`)
  const resolver = resolverFor(schema)
  if (typeof resolver === 'string') return bad('schema_not_resolvable', `writer schema ${id} cannot be read as the event contract: ${resolver}`)
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let decoded: { value: unknown, offset: number }
  try {
    decoded = READER.decode(buf, 5, resolver)
  } catch (err) {
    return bad('truncated_avro', `the record is not Avro of writer schema ${id}: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (decoded.offset < 0) return bad('truncated_avro', `the record ends before its Avro data does (writer schema ${id})`)
  if (decoded.offset !== buf.byteLength) {
    return bad('truncated_avro', `the record has ${buf.byteLength - decoded.offset} bytes after its Avro data (writer schema ${id})`)
  }
  return validateEvent(avroToWire(decoded.value as Record<string, unknown>), now)
}

/** How a batch's records are decoded: its topic's value format and, for Avro, the writer schemas its records name. */
export interface ValueDecoding {
  format: ValueFormat
  schemas: WriterSchemas
}

export const JSON_VALUES: ValueDecoding = { format: 'json', schemas: new Map() }

/** Decode and validate one record (JSON or Avro, as its topic's format says) at wall-clock time `now`. */
export function decodeValue (value: string | Uint8Array, now: number, d: ValueDecoding): Validation {
  if (typeof value === 'string' || !isAvroRecord(d.format, value)) {
    if (d.format === 'avro') return bad('not_avro', 'the record is not Confluent-framed Avro (its first byte is not 0)')
    return parseEvent(value, now)
  }
  return decodeAvroEvent(value, d.schemas, now)
}

/** The schema ids a batch's framed Avro records name, to fetch before decoding. */
export function schemaIdsOf (values: ReadonlyArray<string | Uint8Array>): number[] {
  const ids = new Set<number>()
  for (const v of values) {
    if (typeof v === 'string') continue
    const id = framedSchemaId(v)
    if (id !== null) ids.add(id)
  }
  return [...ids]
}

/** How a decoder learns a batch's format and writer schemas. */
export interface ValueFormats {
  /** a topic's value format (default: every topic JSON) */
  formatOf?: (topic: string) => ValueFormat
  /** writer schemas by id; retries while the registry does not answer (never resolves a valid id as unknown for that) */
  writerSchemas?: (ids: number[]) => Promise<WriterSchemas>
}

/** The decoding of a batch of `topic`: its format, and the writer schemas its Avro records name, fetched first. */
export async function decodingFor (values: ReadonlyArray<string | Uint8Array>, topic: string | undefined, f: ValueFormats): Promise<ValueDecoding> {
  const format = topic === undefined || f.formatOf === undefined ? 'json' : f.formatOf(topic)
  if (format === 'json') return JSON_VALUES
  const ids = schemaIdsOf(values)
  const schemas = ids.length === 0 || f.writerSchemas === undefined ? new Map<number, string | null>() : await f.writerSchemas(ids)
  return { format, schemas }
}
