// Avro decoding against JSON.parse on the same events, in one run (bench:ingest --format avro): the same synthetic
// records as JSON text and as Confluent-framed Avro, each decoded and validated by the speed layer's decode step
// (decodeRecord: parseEvent, or the Avro reader resolving the writer schema and the same validation), alternating
// rounds so that both see the same machine load. Prints records/s of each and their ratio.
import avro from 'avsc'
import { type Shares, TrafficGenerator } from '../src/ingest/index.js'
import { EVENT_AVRO_SCHEMA, frameAvro, parseEvent, toWire, wireToAvro } from '../src/model/index.js'
import { decodeRecord } from '../src/speed/index.js'

export interface AvroDecodeResult {
  records: number
  rounds: number
  json_parse_per_s: number
  avro_decode_per_s: number
  /** avro_decode_per_s / json_parse_per_s: above 1, Avro is the cheaper */
  avro_to_json_ratio: number
  json_bytes_per_record: number
  avro_bytes_per_record: number
}

export function avroVsJson (records: number, rounds: number, shares: Shares): AvroDecodeResult {
  const gen = new TrafficGenerator({ seed: 5, shares: { ...shares, invalid: 0 } })
  const now = Date.now()
  const type = avro.Type.forSchema(EVENT_AVRO_SCHEMA as unknown as avro.Schema)
  const json: Buffer[] = []
  const framed: Buffer[] = []
  while (json.length < records) {
    const line = gen.record(now - 1000)
    const v = parseEvent(line, now)
    if (!v.ok) continue
    json.push(Buffer.from(line))
    framed.push(frameAvro(1, type.toBuffer(wireToAvro(toWire(v.event)))))
  }
  const decoding = { format: 'avro' as const, schemas: new Map([[1, JSON.stringify(EVENT_AVRO_SCHEMA)]]) }
  let jsonMs = 0
  let avroMs = 0
  for (let r = 0; r < rounds; r++) {
    let t = performance.now()
    for (const b of json) if (!decodeRecord(b, now, Infinity).ok) throw new Error('a JSON record did not decode')
    jsonMs += performance.now() - t
    t = performance.now()
    for (const b of framed) if (!decodeRecord(b, now, Infinity, decoding).ok) throw new Error('an Avro record did not decode')
    avroMs += performance.now() - t
  }
  const perS = (ms: number): number => Math.round((records * rounds * 1000) / ms)
  const bytes = (list: Buffer[]): number => Math.round(list.reduce((n, b) => n + b.byteLength, 0) / list.length)
  return {
    records,
    rounds,
    json_parse_per_s: perS(jsonMs),
    avro_decode_per_s: perS(avroMs),
    avro_to_json_ratio: Number((jsonMs / avroMs).toFixed(2)),
    json_bytes_per_record: bytes(json),
    avro_bytes_per_record: bytes(framed)
  }
}
