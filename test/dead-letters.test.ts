// The dead-letter producer through a real broker: letters as large as the records a topic accepts reach the
// dead-letter topic byte for byte, however many of them one tick coalesces (a produce request of several large
// letters would pass the broker's 1 MB record-batch limit, and a record near the limit plus our headers would too).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DeadLetterProducer, DLQ_HEADERS } from '../src/ingest/kafka/index.js'
import type { DeadLetter } from '../src/model/index.js'
import { consumeAll } from './helpers/kafka.js'
import { servicesForFile } from './helpers/services.js'

const services = servicesForFile({ partitions: 1 })

function letter (offset: number): DeadLetter {
  return { reason: 'not_json', detail: 'Unexpected token', raw: '', source: { topic: 'events', partition: 0, offset: String(offset) }, at: 0 }
}

test('large dead letters sent in one tick each reach the topic, byte for byte', { timeout: 180_000 }, async (t) => {
  const topic = `dlq-large-${process.pid}`
  const producer = new DeadLetterProducer({ brokers: services.kafka.brokers, topic })
  await producer.connect()
  t.after(() => producer.close())
  // two of 700 kB (1.4 MB together) and one the broker takes as a record of its own (1,048,588 bytes a batch by default) but not with our headers
  const bodies = [700_000, 700_000, 1_048_500].map((n, i) => Buffer.alloc(n, 65 + i))
  await Promise.all(bodies.map((bytes, i) => producer.send(letter(i), { bytes, key: Buffer.from(`k${i}`) })))
  assert.equal(producer.sent, 3)
  const got = await consumeAll(services.kafka.brokers, topic, 3, 90_000)
  assert.equal(got.length, 3)
  const byOffset = new Map(got.map((r) => [r.headers[DLQ_HEADERS.offset], r]))
  bodies.forEach((bytes, i) => {
    const r = byOffset.get(String(i))
    assert.ok(r?.value.equals(bytes), `letter ${i}: its bytes`)
    assert.equal(r?.key?.toString(), `k${i}`)
    assert.equal(r?.headers[DLQ_HEADERS.reason], 'not_json')
  })
})
