// Bad records through a real Kafka broker with decode threads: a record over HOURGLASS_MAX_RECORD_BYTES and a
// record whose decoding exhausts its thread's heap each go to the dead-letter topic, byte for byte, with their
// reason (too_large, decode_failed); the thread is replaced; every other record is counted exactly once.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { DLQ_HEADERS, eventKey, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import type { MetricsResult } from '../src/model/index.js'
import { consumeAll } from './helpers/kafka.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const services = servicesForFile({ partitions: 2 })

let next = 0
function goods (n: number): OutgoingRecord[] {
  return Array.from({ length: n }, () => {
    const value = JSON.stringify({ event_id: `g${next++}`, timestamp: Date.now(), event_type: 'view', region: 'eu', revenue: 1 })
    return { key: eventKey(value), value }
  })
}

test('too large and thread-killing records are dead-lettered with their reason; the rest is counted once', { timeout: 300_000 }, async (t) => {
  const topic = `poison-${process.pid}`
  const dlq = `${topic}.dlq`
  await services.writer.createTopic(topic, 2)
  const dataDir = await mkdtemp(join(tmpdir(), 'hg-poison-'))
  t.after(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({}, {
    dataDir, source: 'kafka', kafkaBrokers: services.kafka.brokers, kafkaTopics: topic, kafkaGroup: `${topic}-speed`,
    kafkaBronzeGroup: `${topic}-bronze`, dlqTopic: dlq, logLevel: 'silent', seedDays: '0',
    decodeWorkers: '1', decodeWorkerHeapMb: '16', maxRecordBytes: '850000'
  })
  const app = await buildApp(config, { schedule: false })
  t.after(() => app.close())
  await app.startSource()
  const quality = (): ReturnType<typeof app.service.quality> => app.service.quality()

  await services.writer.send(topic, goods(200))
  await until(() => `200 received, ${JSON.stringify(quality())}`, () => quality().received === 200)

  // larger than the limit, within the broker's: not parsed
  const big = Buffer.from(JSON.stringify({ event_id: 'big', timestamp: Date.now(), event_type: 'view', region: 'eu', pad: 'x'.repeat(900_000) }))
  await services.writer.send(topic, [{ key: 'big', value: big }])
  await until(() => `too_large, ${JSON.stringify(quality())}`, () => quality().invalid_by_reason.too_large === 1)

  // within the limit, but parsing it needs more than a 16 MB heap: it kills the thread decoding it
  const poison = Buffer.from('['.repeat(400_000) + ']'.repeat(400_000))
  await services.writer.send(topic, [...goods(25), { key: 'poison', value: poison }, ...goods(25)])
  await until(() => `decode_failed, ${JSON.stringify(quality())}`, () => quality().invalid_by_reason.decode_failed === 1, 180_000)
  // the replaced thread decodes what follows
  await services.writer.send(topic, goods(50))
  await until(() => `302 received, ${JSON.stringify(quality())}`, () => quality().received === 302)

  const q = quality()
  assert.equal(q.valid, 300)
  assert.equal(q.invalid, 2)
  assert.deepEqual(q.invalid_by_reason, { too_large: 1, decode_failed: 1 })
  assert.equal(q.duplicates, 0)
  const res = await app.server.inject({ method: 'GET', url: '/v1/metrics/live?last=15m' })
  assert.equal(res.statusCode, 200, res.body)
  const rows = res.json<MetricsResult>().rows
  assert.equal(rows.reduce((sum, r) => sum + (r.total_events ?? 0), 0), 300, 'every valid event counted once')

  // the bronze consumer judges the same bytes alike: the too large record is invalid there too
  const bronze = app.bronze
  assert.ok(bronze !== null)
  await until(() => `bronze has 302, ${bronze.received}`, () => bronze.received === 302)
  assert.deepEqual([bronze.valid, bronze.invalid], [300, 2])

  const letters = await consumeAll(services.kafka.brokers, dlq, 2, 60_000)
  assert.equal(letters.length, 2)
  const byReason = new Map(letters.map((l) => [l.headers[DLQ_HEADERS.reason], l]))
  assert.ok(byReason.get('too_large')?.value.equals(big), 'the too large record, byte for byte')
  assert.ok(byReason.get('decode_failed')?.value.equals(poison), 'the poison record, byte for byte')
  assert.match(byReason.get('decode_failed')?.headers[DLQ_HEADERS.detail] ?? '', /memory/)
  assert.equal(byReason.get('too_large')?.headers[DLQ_HEADERS.topic], topic)
})
