// Avro on the wire end to end, through a real Kafka broker and a real schema registry (Apicurio, Confluent API): an
// `auto` topic mixing JSON and Avro of two schema versions (v2 adds user_id with a default), an `avro` topic that also
// gets JSON, and bad Avro of every kind. The live windows equal brute force over the valid records, every bad record is
// in the dead-letter topic with its original bytes and its reason, and a registry restart mid-stream (a writer schema
// the consumer has not fetched yet, produced while the registry is down) loses nothing: the batch waits, readiness
// names the registry, nothing is dead-lettered for it.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import avro from 'avsc'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { DLQ_HEADERS, eventKey, type OutgoingRecord, SchemaRegistryClient } from '../src/ingest/kafka/index.js'
import { EVENT_AVRO_SCHEMA, frameAvro, framedSchemaId, parseEvent, toWire, wireToAvro } from '../src/model/index.js'
import { decodeValue } from '../src/speed/decode-avro.js'
import { assertEqualsBrute, brute, makeLines, speedEvents, validRecords } from './helpers/events.js'
import { get, H0, now, T0 } from './helpers/kafka-e2e.js'
import { H, M } from './helpers/events.js'
import { hourglass } from './helpers/cli.js'
import { consumeAll } from './helpers/kafka.js'
import { registryForFile } from './helpers/registry.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const k = servicesForFile({ partitions: 3 })
const r = registryForFile({ storage: 'file' })

type Field = { name: string, type: unknown, default?: unknown }
const CONTRACT = EVENT_AVRO_SCHEMA.fields as unknown as Field[]
const schema = (fields: Field[]): Record<string, unknown> => ({ type: 'record', name: 'Event', namespace: 'hourglass', fields })
const V1 = schema(CONTRACT.filter((f) => f.name !== 'user_id'))
const V2 = schema(CONTRACT)
const V3 = schema([...CONTRACT, { name: 'browser', type: 'string', default: '' }])
const UNREADABLE = schema(CONTRACT.map((f) => f.name === 'event_id' ? { name: 'event_id', type: 'long' } : f))
const type = (s: Record<string, unknown>): avro.Type => avro.Type.forSchema(s as avro.Schema)

it('Avro and JSON on auto and avro topics: windows equal brute force, bad records dead-lettered by reason, a registry restart loses nothing', {
  timeout: 600_000
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-kafka-avro-'))
  const auto = `avro-auto-${process.pid}`
  const strict = `avro-strict-${process.pid}`
  const dlq = `avro-${process.pid}.dlq`
  let app: App | undefined
  try {
    assert.equal(await k.writer.createTopic(auto, 3), true)
    assert.equal(await k.writer.createTopic(strict, 3), true)
    const client = new SchemaRegistryClient({ url: r.registry.url })
    const v1 = await client.register(`${auto}-value`, JSON.stringify(V1))
    await client.setCompatibility(`${auto}-value`, 'BACKWARD')
    const v2 = await client.register(`${auto}-value`, JSON.stringify(V2))
    const v3 = await client.register(`${auto}-value`, JSON.stringify(V3))
    const unreadable = await client.register(`${auto}-other-value`, JSON.stringify(UNREADABLE))
    assert.equal(new Set([v1, v2, v3, unreadable]).size, 4)

    /** the text form of every record the brute force counts (valid or not), and the bad records' bytes by reason */
    const lines: string[] = []
    const bad = new Map<string, Buffer[]>()
    const dead = (reason: string, bytes: Buffer): void => { bad.set(reason, [...(bad.get(reason) ?? []), bytes]) }
    const records: OutgoingRecord[] = []
    const timestamp = H0 + 11 * M
    /** `line` as Avro of writer schema `id` (a valid event only; others stay JSON) */
    const asAvro = (line: string, id: number, s: Record<string, unknown>, extra: Record<string, unknown> = {}): Buffer | null => {
      const v = parseEvent(line, T0)
      if (!v.ok || (s === V1 && v.event.user_id !== undefined)) return null
      return frameAvro(id, type(s).toBuffer({ ...wireToAvro(toWire(v.event)), ...extra }))
    }
    makeLines(H0, H0 + 11 * M - 1, 1500, 21, 'a', { late: false }).forEach((line, i) => {
      const bytes = i % 3 === 1 ? asAvro(line, v1, V1) : i % 3 === 2 ? asAvro(line, v2, V2) : null
      records.push({ key: eventKey(line), value: bytes ?? line, timestamp })
      lines.push(line)
    })
    const sample = asAvro(lines.find((l) => parseEvent(l, T0).ok) as string, v2, V2) as Buffer
    for (let i = 0; i < 3; i++) {
      const unknown = Buffer.from(sample); unknown.writeUInt32BE(900_000 + i, 1); dead('unknown_schema_id', unknown)
      dead('truncated_avro', sample.subarray(0, sample.length - 2 - i))
    }
    for (let i = 0; i < 2; i++) {
      dead('schema_not_resolvable', frameAvro(unreadable, type(UNREADABLE).toBuffer({ ...wireToAvro(JSON.parse(lines[0] as string)), event_id: i })))
    }
    for (const [, list] of bad) for (const bytes of list) records.push({ key: null, value: bytes, timestamp })
    await k.writer.send(auto, records)
    // the avro topic: Avro of v2, and JSON records that are valid events, yet not Avro
    const strictLines = makeLines(H0, H0 + 11 * M - 1, 200, 22, 'b', { late: false }).filter((l) => parseEvent(l, T0).ok)
    const strictRecords: OutgoingRecord[] = strictLines.map((line) => ({ key: eventKey(line), value: asAvro(line, v2, V2) as Buffer, timestamp }))
    lines.push(...strictLines)
    for (const line of strictLines.slice(0, 3)) {
      strictRecords.push({ key: eventKey(line), value: line, timestamp })
      dead('not_avro', Buffer.from(line))
    }
    await k.writer.send(strict, strictRecords)
    const jsonInvalid = lines.length - validRecords(lines, T0).length
    const received = records.length + strictRecords.length

    const config = loadConfig({}, {
      dataDir: join(dir, 'data'), source: 'kafka', kafkaBrokers: k.kafka.brokers, kafkaTopics: `${auto},${strict}`, kafkaGroup: `hg-avro-${process.pid}`,
      kafkaBronzeGroup: `hg-avro-${process.pid}-bronze`, dlqTopic: dlq, kafkaFormat: `auto,${strict}=avro`, schemaRegistryUrl: r.registry.url,
      logLevel: 'silent', seedDays: '0', allowedLatenessMs: '10m', dedupWindowMs: '15m'
    })
    app = await buildApp(config, { now, schedule: false })
    await app.startSource()
    const a = app
    await until(() => `every record consumed (${a.service.quality().received} of ${received})`, () => a.service.quality().received >= received, 120_000)
    const q = a.service.quality()
    const badCount = [...bad.values()].reduce((n, l) => n + l.length, 0)
    assert.equal(q.received, received)
    assert.equal(q.invalid, jsonInvalid + badCount, JSON.stringify(q.invalid_by_reason))
    for (const [reason, list] of bad) assert.equal(q.invalid_by_reason[reason as keyof typeof q.invalid_by_reason], list.length, reason)

    const G2 = ['event_type', 'region'] as ('event_type' | 'region')[]
    const assertWindows = async (all: string[], label: string): Promise<void> => {
      const live = await get(a, '/v1/metrics/live?last=60m&group_by=event_type,region')
      assertEqualsBrute(live, brute(speedEvents(validRecords(all, T0), 10 * M), H0 - H, T0 + H, 'minute', G2), G2, label)
    }
    await assertWindows(lines, 'Avro v1, v2 and JSON')
    // bronze decodes by the same rules (its own consumer; the records the speed path judged are taken from it)
    await until('bronze to have read every record', () => (a.bronze?.received ?? 0) >= received, 60_000)
    assert.equal(a.bronze?.invalid, q.invalid, 'bronze leaves out exactly the invalid records')
    assert.equal(a.bronze?.valid, q.valid)

    // every bad record in the dead-letter topic: its original bytes, its reason
    const letters = await consumeAll(k.kafka.brokers, dlq, jsonInvalid + badCount, 120_000)
    assert.equal(letters.length, jsonInvalid + badCount)
    for (const [reason, list] of bad) {
      const got = letters.filter((m) => m.headers[DLQ_HEADERS.reason] === reason).map((m) => m.value.toString('hex')).sort()
      assert.deepEqual(got, list.map((b) => b.toString('hex')).sort(), reason)
    }

    // the registry stops; records of v3 (never fetched by the consumer) arrive meanwhile; it comes back with its schemas
    await r.registry.stop()
    const more = makeLines(H0, H0 + 11 * M - 1, 300, 23, 'c', { late: false }).filter((l) => parseEvent(l, T0).ok)
    await k.writer.send(auto, more.map((line) => ({ key: eventKey(line), value: asAvro(line, v3, V3, { browser: 'x' }) as Buffer, timestamp })))
    await until('readiness to name the registry', async () => {
      const res = await a.server.inject({ method: 'GET', url: '/readyz' })
      return res.statusCode === 503 && /schema registry/.test(res.body)
    }, 60_000)
    assert.equal(a.service.quality().invalid, q.invalid, 'nothing dead-lettered while the registry is down')
    await r.registry.start()
    await until('the records written during the outage consumed', () => a.service.quality().received >= received + more.length, 120_000)
    await until('ready again', async () => (await a.server.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 30_000)
    assert.equal(a.service.quality().invalid, q.invalid, 'none of them dead-lettered')
    assert.equal(a.service.quality().received, received + more.length)
    await assertWindows([...lines, ...more], 'after the registry restart')
    await until('bronze to have read the records written during the outage', () => (a.bronze?.received ?? 0) >= received + more.length, 60_000)
    assert.equal(a.bronze?.invalid, q.invalid)
  } finally {
    await app?.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
})

it('hourglass produce --format avro registers the contract\'s schema and sends framed records', { timeout: 120_000 }, async () => {
  const topic = `avro-produce-${process.pid}`
  const run = await hourglass(['produce', '--format', 'avro', '--topic', topic, '--count', '40', '--rate', '200'], {
    HOURGLASS_KAFKA_BROKERS: k.kafka.brokers, HOURGLASS_SCHEMA_REGISTRY_URL: r.registry.url, HOURGLASS_INVALID_SHARE: '0'
  })
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /Avro, schema id \d+ \(subject .*-value\)/)
  const got = await consumeAll(k.kafka.brokers, topic, 40, 60_000)
  assert.equal(got.length, 40)
  const client = new SchemaRegistryClient({ url: r.registry.url })
  for (const m of got) {
    const id = framedSchemaId(m.value)
    assert.ok(id !== null, 'framed')
    const v = decodeValue(m.value, Date.now(), { format: 'avro', schemas: new Map([[id, await client.schemaById(id)]]) })
    assert.equal(v.ok, true, JSON.stringify(v))
  }
})
