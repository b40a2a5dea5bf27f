// The event contract in Avro (docs/design.md, "Event"): the reader schema every Avro record is resolved to, whatever
// schema its producer wrote it with, and the Confluent wire format (magic byte 0, the writer schema's registry id as
// 4 bytes big-endian, then Avro binary). A decoded record becomes the JSON form's object and is validated by the same
// rules (validateEvent). Pure data and logic; the Avro library is used where records are decoded (src/speed/decode-avro.ts).

/** How a topic's record values are written: JSON text, Confluent-framed Avro, or either (told by the first byte). */
export const VALUE_FORMATS = ['json', 'avro', 'auto'] as const
export type ValueFormat = typeof VALUE_FORMATS[number]

export const AVRO_MAGIC = 0
/** magic byte + schema id */
export const AVRO_HEADER_BYTES = 5

/** The reader schema: the JSON contract's fields; the time as epoch milliseconds. */
export const EVENT_AVRO_SCHEMA = {
  type: 'record',
  name: 'Event',
  namespace: 'hourglass',
  fields: [
    { name: 'event_id', type: 'string' },
    { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'event_type', type: 'string' },
    { name: 'region', type: 'string' },
    { name: 'processing_time', type: ['null', 'double'], default: null },
    { name: 'response_time', type: ['null', 'double'], default: null },
    { name: 'revenue', type: ['null', 'double'], default: null },
    { name: 'user_id', type: ['null', 'string'], default: null },
    { name: 'text', type: ['null', 'string'], default: null }
  ]
} as const

/** The Confluent framing's schema id, or null when `bytes` do not start with it (too short, or another first byte). */
export function framedSchemaId (bytes: Uint8Array): number | null {
  if (bytes.byteLength < AVRO_HEADER_BYTES || bytes[0] !== AVRO_MAGIC) return null
  return ((bytes[1] as number) * 2 ** 24) + ((bytes[2] as number) << 16) + ((bytes[3] as number) << 8) + (bytes[4] as number)
}

/** `body` (Avro binary) framed for schema `id`. */
export function frameAvro (id: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(AVRO_HEADER_BYTES + body.byteLength)
  out[0] = AVRO_MAGIC
  out.writeUInt32BE(id, 1)
  out.set(body, AVRO_HEADER_BYTES)
  return out
}

/** Is this record Avro (else JSON) under `format`? On an `auto` topic, a first byte 0 says Avro. */
export function isAvroRecord (format: ValueFormat, bytes: Uint8Array): boolean {
  return format === 'avro' || (format === 'auto' && bytes.byteLength > 0 && bytes[0] === AVRO_MAGIC)
}

/** A record resolved to EVENT_AVRO_SCHEMA, as the JSON form's object (absent optional fields left out). */
export function avroToWire (record: Record<string, unknown>): Record<string, unknown> {
  const w: Record<string, unknown> = {}
  for (const f of EVENT_AVRO_SCHEMA.fields) {
    const v = record[f.name]
    if (v !== null && v !== undefined) w[f.name] = v
  }
  return w
}

/** An event's wire object (toWire) as a record of EVENT_AVRO_SCHEMA: the time in epoch ms, absent fields null. */
export function wireToAvro (wire: Record<string, unknown>): Record<string, unknown> {
  const r: Record<string, unknown> = {}
  for (const f of EVENT_AVRO_SCHEMA.fields) {
    const v = wire[f.name]
    r[f.name] = f.name === 'timestamp' && typeof v === 'string' ? Date.parse(v) : v ?? null
  }
  return r
}

/** The format of each topic from settings such as ['avro'] or ['json', 'clicks=avro'] (a bare format: every other topic). */
export function topicFormats (settings: readonly string[]): (topic: string) => ValueFormat {
  let fallback: ValueFormat = 'json'
  const byTopic = new Map<string, ValueFormat>()
  for (const s of settings) {
    const at = s.lastIndexOf('=')
    if (at < 0) fallback = s as ValueFormat
    else byTopic.set(s.slice(0, at), s.slice(at + 1) as ValueFormat)
  }
  return (topic) => byTopic.get(topic) ?? fallback
}
