// Avro on the wire: a table of writer schemas against the contract's reader schema (decoded, or dead-lettered with the
// reason Avro's resolution rules give), framing faults with their own reasons, and a decoded Avro event validated
// exactly like its JSON form, in this thread and in the decode threads alike.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import avro from 'avsc'
import { EVENT_AVRO_SCHEMA, frameAvro, parseEvent, topicFormats, toWire, type Validation, type ValueFormat, wireToAvro } from '../src/model/index.js'
import { decodeValue, type WriterSchemas } from '../src/speed/decode-avro.js'
import { DecodePool, InThreadDecoder } from '../src/speed/decode-pool.js'

const NOW = Date.UTC(2026, 0, 5, 12)
const TS = NOW - 60_000

type Field = { name: string, type: unknown, default?: unknown }
const CONTRACT = EVENT_AVRO_SCHEMA.fields as unknown as Field[]
const record = (fields: Field[], name = 'Event', namespace = 'hourglass'): Record<string, unknown> => ({ type: 'record', name, namespace, fields })
const without = (...names: string[]): Field[] => CONTRACT.filter((f) => !names.includes(f.name))
const replaced = (name: string, type: unknown, extra: Partial<Field> = {}): Field[] => CONTRACT.map((f) => f.name === name ? { name, type, ...extra } : f)

const FULL = { event_id: 'e1', timestamp: TS, event_type: 'click', region: 'eu', processing_time: 3.5, response_time: 120, revenue: 12.34, user_id: 'u1' }

/** `value` written with `schema` under id 7, decoded against the contract (writer schemas: id 7 only). */
function roundTrip (schema: Record<string, unknown>, value: Record<string, unknown>, format: ValueFormat = 'avro'): Validation {
  const body = avro.Type.forSchema(schema as avro.Schema).toBuffer(value)
  return decodeValue(frameAvro(7, body), NOW, { format, schemas: new Map([[7, JSON.stringify(schema)]]) })
}

interface Row { what: string, schema: Record<string, unknown>, value: Record<string, unknown>, expect: Validation | string }
const evt = (extra: Record<string, unknown> = {}): Validation => ({ ok: true, event: { event_id: 'e1', ts: TS, event_type: 'click', region: 'eu', ...extra } })

const TABLE: Row[] = [
  { what: 'the contract itself', schema: record(CONTRACT), value: FULL,
    expect: evt({ processing_time: 3.5, response_time: 120, revenue_cents: 1234, user_id: 'u1' }) },
  { what: 'v1 without user_id (the reader fills its default)', schema: record(without('user_id')), value: { ...FULL, user_id: undefined },
    expect: evt({ processing_time: 3.5, response_time: 120, revenue_cents: 1234 }) },
  { what: 'v2 with text', schema: record(CONTRACT), value: { ...FULL, text: 'Great service' },
    expect: evt({ processing_time: 3.5, response_time: 120, revenue_cents: 1234, user_id: 'u1', text: 'Great service' }) },
  { what: 'v1 without text (the reader fills its default)', schema: record(without('text')), value: FULL,
    expect: evt({ processing_time: 3.5, response_time: 120, revenue_cents: 1234, user_id: 'u1' }) },
  { what: 'only the required fields', schema: record(without('processing_time', 'response_time', 'revenue', 'user_id', 'text')),
    value: { event_id: 'e1', timestamp: TS, event_type: 'click', region: 'eu' }, expect: evt() },
  { what: 'a newer writer with a field the reader does not know (dropped)', schema: record([...CONTRACT, { name: 'browser', type: 'string', default: '' }]),
    value: { ...FULL, browser: 'firefox' }, expect: evt({ processing_time: 3.5, response_time: 120, revenue_cents: 1234, user_id: 'u1' }) },
  { what: 'int promoted to double (processing_time)', schema: record(replaced('processing_time', ['null', 'int'], { default: null })),
    value: { ...FULL, processing_time: 42 }, expect: evt({ processing_time: 42, response_time: 120, revenue_cents: 1234, user_id: 'u1' }) },
  { what: 'a plain long promoted into the reader\'s union (response_time)', schema: record(replaced('response_time', 'long')),
    value: { ...FULL, response_time: 250 }, expect: evt({ processing_time: 3.5, response_time: 250, revenue_cents: 1234, user_id: 'u1' }) },
  { what: 'int promoted to long (timestamp as seconds would be out of the contract: validated after)', schema: record(replaced('timestamp', 'int')),
    value: { ...FULL, timestamp: 1000 }, expect: 'bad_timestamp_or_valid' },
  { what: 'float revenue promoted to double, then judged like JSON (12.34 as a float is within the 2-decimal rule\'s tolerance)',
    schema: record(replaced('revenue', ['null', 'float'], { default: null })), value: { ...FULL, revenue: 12.34 },
    expect: evt({ processing_time: 3.5, response_time: 120, revenue_cents: 1234, user_id: 'u1' }) },
  { what: 'float revenue with 3 decimals: bad_revenue, as in JSON', schema: record(replaced('revenue', ['null', 'float'], { default: null })),
    value: { ...FULL, revenue: 1.125 }, expect: 'bad_revenue' },
  { what: 'a required field missing, no default in the reader (region)', schema: record(without('region')),
    value: { ...FULL, region: undefined }, expect: 'schema_not_resolvable' },
  { what: 'string written as int (event_id)', schema: record(replaced('event_id', 'int')), value: { ...FULL, event_id: 5 }, expect: 'schema_not_resolvable' },
  { what: 'timestamp written as an ISO string', schema: record(replaced('timestamp', 'string')),
    value: { ...FULL, timestamp: new Date(TS).toISOString() }, expect: 'schema_not_resolvable' },
  { what: 'double cannot narrow to long (timestamp)', schema: record(replaced('timestamp', 'double')), value: { ...FULL, timestamp: TS }, expect: 'schema_not_resolvable' },
  { what: 'a record of another name', schema: record(CONTRACT, 'Other', 'elsewhere'), value: FULL, expect: 'schema_not_resolvable' },
  { what: 'decoded but invalid by the contract (empty event_id)', schema: record(CONTRACT), value: { ...FULL, event_id: '' }, expect: 'bad_event_id' },
  { what: 'decoded but in the future', schema: record(CONTRACT), value: { ...FULL, timestamp: NOW + 3_600_000 }, expect: 'future_timestamp' }
]

describe('Avro writer schemas against the contract\'s reader schema', () => {
  for (const row of TABLE) {
    it(row.what, () => {
      const got = roundTrip(row.schema, row.value)
      if (row.expect === 'bad_timestamp_or_valid') {
        // 1000 ms after the epoch: a valid instant by the JSON rules too, so Avro gives what JSON gives
        assert.deepEqual(got, parseEvent(JSON.stringify({ ...FULL, timestamp: 1000 }), NOW))
      } else if (typeof row.expect === 'string') {
        assert.equal(got.ok, false, JSON.stringify(got))
        assert.equal(!got.ok && got.reason, row.expect, JSON.stringify(got))
      } else {
        assert.deepEqual(got, row.expect)
      }
    })
  }
})

describe('framing faults and formats', () => {
  it('formats per topic: a bare format for every topic, TOPIC=FORMAT for one', () => {
    const f = topicFormats(['auto', 'clicks=avro', 'legacy=json'])
    assert.deepEqual(['events', 'clicks', 'legacy'].map(f), ['auto', 'avro', 'json'])
    assert.equal(topicFormats(['clicks=avro'])('events'), 'json')
  })

  const schemas: WriterSchemas = new Map([[7, JSON.stringify(EVENT_AVRO_SCHEMA)], [8, null]])
  const body = avro.Type.forSchema(EVENT_AVRO_SCHEMA as unknown as avro.Schema).toBuffer(wireToAvro(FULL))
  const framed = frameAvro(7, body)
  const json = Buffer.from(JSON.stringify(FULL))
  const reason = (v: Validation): string => v.ok ? 'ok' : v.reason
  const cases: Array<[string, ValueFormat, Uint8Array, string]> = [
    ['framed Avro on an avro topic', 'avro', framed, 'ok'],
    ['framed Avro on an auto topic', 'auto', framed, 'ok'],
    ['JSON on an auto topic', 'auto', json, 'ok'],
    ['JSON on an avro topic', 'avro', json, 'not_avro'],
    ['framed Avro on a json topic', 'json', framed, 'not_json'],
    ['an unknown schema id', 'avro', frameAvro(8, body), 'unknown_schema_id'],
    ['an id never fetched', 'avro', frameAvro(9, body), 'unknown_schema_id'],
    ['cut in the middle', 'avro', framed.subarray(0, framed.length - 4), 'truncated_avro'],
    ['cut inside the framing', 'auto', framed.subarray(0, 3), 'truncated_avro'],
    ['trailing bytes', 'avro', Buffer.concat([framed, Buffer.from([1, 2])]), 'truncated_avro'],
    ['the framing alone', 'avro', framed.subarray(0, 5), 'truncated_avro'],
    ['empty', 'avro', Buffer.alloc(0), 'not_avro']
  ]
  for (const [what, format, bytes, expect] of cases) {
    it(`${what}: ${expect}`, () => assert.equal(reason(decodeValue(bytes, NOW, { format, schemas })), expect))
  }

  it('an Avro event validates to exactly what its JSON form does', () => {
    const events = Array.from({ length: 50 }, (_, i) => ({
      event_id: `e${i}`, timestamp: TS + i, event_type: `t${i % 3}`, region: `r${i % 2}`,
      ...(i % 2 === 0 ? { processing_time: i * 1.5, revenue: i / 4 } : {}), ...(i % 3 === 0 ? { user_id: `u${i}` } : {}),
      ...(i % 5 === 0 ? { text: `text ${i} ✓` } : {})
    }))
    const type = avro.Type.forSchema(EVENT_AVRO_SCHEMA as unknown as avro.Schema)
    for (const e of events) {
      const fromJson = parseEvent(JSON.stringify(e), NOW)
      assert.ok(fromJson.ok)
      assert.deepEqual(decodeValue(frameAvro(7, type.toBuffer(wireToAvro(toWire(fromJson.event)))), NOW, { format: 'avro', schemas }), fromJson)
    }
  })
})

describe('decoders fetch the writer schemas a batch names, once per batch, and decode alike in threads', () => {
  const type = avro.Type.forSchema(EVENT_AVRO_SCHEMA as unknown as avro.Schema)
  const values: Uint8Array[] = Array.from({ length: 1200 }, (_, i) => {
    if (i % 10 === 3) return Buffer.from(JSON.stringify({ ...FULL, event_id: `j${i}` }))
    if (i % 50 === 7) return frameAvro(99, type.toBuffer(wireToAvro({ ...FULL, event_id: `x${i}` })))
    return frameAvro(1 + (i % 2), type.toBuffer(wireToAvro({ ...FULL, event_id: `a${i}` })))
  })
  const asked: number[][] = []
  const formats = {
    formatOf: (topic: string): ValueFormat => topic === 'mixed' ? 'auto' : 'json',
    writerSchemas: async (ids: number[]): Promise<WriterSchemas> => {
      asked.push([...ids].sort((a, b) => a - b))
      return new Map(ids.map((id) => [id, id === 99 ? null : JSON.stringify(EVENT_AVRO_SCHEMA)]))
    }
  }

  it('in this thread and in a pool of threads', async () => {
    const inThread = await new InThreadDecoder(1 << 20, formats).decode(values, NOW, 'mixed')
    const pool = new DecodePool({ threads: 2, maxRecordBytes: 1 << 20, ...formats })
    try {
      const pooled = await pool.decode(values, NOW, 'mixed')
      assert.deepEqual(pooled, inThread)
    } finally {
      await pool.close()
    }
    assert.deepEqual(asked, [[1, 2, 99], [1, 2, 99]])
    const reasons = inThread.filter((v) => !v.ok).map((v) => !v.ok && v.reason)
    assert.equal(reasons.length, values.filter((_, i) => i % 50 === 7 && i % 10 !== 3).length)
    assert.ok(reasons.every((r) => r === 'unknown_schema_id'))
    assert.equal(inThread.filter((v) => v.ok).length, values.length - reasons.length)
    // a json topic does not ask the registry, and takes framed Avro for bad JSON
    const onJson = await new InThreadDecoder(1 << 20, formats).decode(values.slice(0, 4), NOW, 'plain')
    assert.equal(asked.length, 2)
    assert.deepEqual(onJson.map((v) => v.ok ? 'ok' : v.reason), ['not_json', 'not_json', 'not_json', 'ok'])
  })
})
