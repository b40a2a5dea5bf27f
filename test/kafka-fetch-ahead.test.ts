// The speed consumer fetches while it applies, against a REAL Kafka broker: a batch whose apply fails (the store
// throws, or the handler leaves it unhandled) while the next batch of its partition has already been fetched and
// waits: that batch is not applied past the failed one, the partition is read again from after what was applied, and
// in the end every record is counted exactly once (nothing lost, nothing twice).
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test, type TestContext } from 'node:test'
import type { RawBatch } from '../src/ingest/index.js'
import { createKafka, eventKey, KafkaSource, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import type { ApplyBatch } from '../src/model/index.js'
import { DecodePool, MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { GatedStore } from './helpers/gated-store.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const PARTITIONS = 2
const RECORDS = 3000
const HOUR = 3_600_000
const services = servicesForFile({ partitions: PARTITIONS })

// kafkajs's runner hands each fetched batch to eachBatch through handleBatch: counting its calls per partition tells
// when the batch after the one being applied has been fetched
const require = createRequire(import.meta.url)
const Runner = require('kafkajs/src/consumer/runner') as { prototype: { handleBatch: (batch: { partition: number }) => Promise<void> } }
const fetched = new Map<number, number>()
const handleBatch = Runner.prototype.handleBatch
Runner.prototype.handleBatch = async function (this: unknown, batch: { partition: number }) {
  fetched.set(batch.partition, (fetched.get(batch.partition) ?? 0) + 1)
  return await handleBatch.call(this, batch)
}
const fetchedOf = (partition: number): number => fetched.get(partition) ?? 0

function records (prefix: string): OutgoingRecord[] {
  const now = Date.now()
  return Array.from({ length: RECORDS }, (_, i) => {
    const value = JSON.stringify({ event_id: `${prefix}${i}`, timestamp: now - i, event_type: 'view', region: 'eu', revenue: 1 })
    return { key: eventKey(value), value }
  })
}

/** Produce, then consume in small batches; the third batch of partition 0 fails (`how`) once the next one is fetched. */
async function scenario (t: TestContext, name: string, how: 'throw' | 'unhandled', decodeThreads = 0): Promise<void> {
  const topic = `fetch-ahead-${name}-${process.pid}`
  assert.equal(await services.writer.createTopic(topic, PARTITIONS), true)
  // small sends: a fetch returns whole producer batches, so these make the consumer's batches small
  const all = records(name)
  for (let i = 0; i < all.length; i += 50) await services.writer.send(topic, all.slice(i, i + 50))
  const admin = createKafka({ brokers: services.kafka.brokers, logLevel: 'nothing' }).admin()
  await admin.connect()
  const ends = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()

  const memory = new MemorySpeedStore({ retentionMs: HOUR, dedupWindowMs: HOUR })
  t.after(() => memory.close())
  /** applies of partition 0 so far; the third one fails once the next batch of partition 0 has been fetched */
  let applies0 = 0
  let failed: { last: string, fetchedBefore: number, fetchedAtFailure: number } | null = null
  /** per batch of partition 0 (by its last offset): its batches kafkajs had handed out when the source took it */
  const takenAt = new Map<string, number>()
  const failHere = async (batch: { partition: number, last: string }): Promise<boolean> => {
    if (batch.partition !== 0 || ++applies0 !== 3) return false
    // counted when the batch was taken: the next one may have been fetched before its apply began (decoding ahead)
    const before = takenAt.get(batch.last) ?? assert.fail(`batch ending at ${batch.last} not taken`)
    await until('the next batch of partition 0 fetched while one is applied', () => fetchedOf(0) > before, 60_000)
    failed = { last: batch.last, fetchedBefore: before, fetchedAtFailure: fetchedOf(0) }
    return true
  }
  const store = new class extends GatedStore {
    override async apply (b: ApplyBatch): Promise<boolean> {
      if (how === 'throw' && await failHere({ partition: b.position.partition, last: b.position.offset })) throw new Error('injected apply failure')
      return await super.apply(b)
    }
  }(memory, Infinity)
  const pool = decodeThreads === 0 ? null : new DecodePool({ threads: decodeThreads, maxRecordBytes: 1_000_000 })
  t.after(() => pool?.close())
  const pipeline = new SpeedPipeline({
    store, dedupWindowMs: HOUR, allowedLatenessMs: HOUR, deadLetterKeep: 0, collectValid: false,
    ...(pool === null ? {} : { decode: (values, now) => pool.decode(values, now) })
  })
  let decodedAhead = 0
  const logged: string[] = []
  const log = { error: (_: object, m: string) => { logged.push(m) }, warn: (_: object, m: string) => { logged.push(m) }, info: () => undefined }
  const source = new KafkaSource({
    brokers: services.kafka.brokers,
    topics: [topic],
    groupId: `${topic}-speed`,
    partitionsConsumedConcurrently: 4,
    maxBytesPerPartition: 4096, // a few dozen records a batch: many batches per partition
    positions: (tp, p) => store.position(tp, p),
    rebuildFrom: () => Date.now() - HOUR,
    log,
    logLevel: 'nothing',
    ...(pool === null ? {} : { onFetchedAhead: (b: RawBatch) => { decodedAhead++; pipeline.decodeAhead(b, Date.now()) } })
  })
  await source.start(async (batch) => {
    const last = batch.records[batch.records.length - 1]?.offset ?? ''
    if (batch.partition === 0) takenAt.set(last, fetchedOf(0))
    if (how === 'unhandled' && await failHere({ partition: batch.partition, last })) return false
    await pipeline.process(batch, Date.now())
  })
  t.after(() => source.stop())

  let positions: (string | null)[] = []
  await until(() => `positions ${JSON.stringify(positions)} at the ends ${JSON.stringify(ends)}; ${logged.join('; ')}`, async () => {
    positions = await Promise.all(ends.map((e) => store.position(topic, e.partition)))
    return ends.every((e, i) => positions[i] === String(BigInt(e.high) - 1n))
  }, 120_000)
  await source.stop()

  assert.notEqual(failed, null, 'an apply of partition 0 failed')
  const rows = await memory.query(Date.now() - 2 * HOUR, Date.now() + HOUR, {})
  const events = rows.reduce((n, r) => n + r.partials.events, 0)
  assert.equal(events, RECORDS, 'every record counted once in the store')
  const counts = pipeline.counts()
  assert.equal(counts.received, RECORDS, JSON.stringify(counts))
  assert.equal(counts.valid, RECORDS)
  assert.equal(counts.duplicates, 0)
  if (pool !== null) assert.ok(decodedAhead > 0, 'batches were decoded ahead')
  if (how === 'throw') assert.ok(logged.includes('batch handler failed; its records will be handed out again'), logged.join('; '))
}

test('an apply that throws while the next batch of its partition is fetched: read again from after what was applied, exact', { timeout: 240_000 }, async (t) => {
  await scenario(t, 'throw', 'throw')
})

test('a batch left unhandled while the next batch of its partition is fetched: read again from after what was applied, exact', { timeout: 240_000 }, async (t) => {
  await scenario(t, 'unhandled', 'unhandled')
})

test('the same with decode threads decoding the batch fetched ahead: exact', { timeout: 240_000 }, async (t) => {
  await scenario(t, 'decoded-ahead', 'throw', 1)
})
