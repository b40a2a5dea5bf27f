// The Kafka end-to-end scenario with the speed store as a parameter:
// test/kafka-e2e.test.ts runs it on the memory store; a Redis suite can run it on Redis.
//
// Through a real Apache Kafka broker (started by the test file): a known event set with
// duplicates, late and invalid records (some of them not even UTF-8) is produced to a fresh
// 3-partition topic keyed by event_id; the app consumes it with `--source kafka`; the live and the
// merged answers must equal brute force, and the dead-letter topic must hold exactly the invalid
// records, byte for byte, with their reasons and source positions. Then the app is restarted on an
// empty store: the consumer rewinds to now − retention, reports the speed range as a gap while it
// rebuilds (a gate holds the store's applies), and answers exactly again once caught up.
//
// Why the event set looks the way it does. With several partitions the speed layer sees an
// interleaving of the partitions that a brute force cannot know (kafkajs fetches each partition in
// its own batches), and its watermark (newest event time − allowed lateness) depends on it. So the
// set is made so that lateness does not depend on the interleaving: the allowed lateness is 10 min
// and every on-time event lies in [H0, H0 + 11 min): whatever came first, no on-time event's minute
// can have closed (its minute ends at ≥ H0 + 1 min, the watermark stays < H0 + 1 min). The late
// events lie 25 to 40 minutes before H0 and are produced after all on-time ones, so in their own
// partition they follow on-time events of ≥ H0 and are late whatever the other partitions did.
// Events older than the retention (emitted 2 h before H0, with that record timestamp) must be
// skipped by the rewind to now − retention. The dedup window is 15 min, longer than the on-time
// span, so no on-time duplicate can slip past it either.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type App, buildApp } from '../../src/app/index.js'
import { loadConfig } from '../../src/config.js'
import { DLQ_HEADERS, eventKey, type KafkaWriter, type OutgoingRecord } from '../../src/ingest/kafka/index.js'
import type { MetricsResult, SpeedStore } from '../../src/model/index.js'
import { bucketStart, INVALID_REASONS, iso } from '../../src/model/index.js'
import { assertEqualsBrute, batchEvents, brute, H, M, makeLines, type Parsed, speedEvents, validRecords } from './events.js'
import { GatedStore } from './gated-store.js'
import { consumeAll } from './kafka.js'
import { until } from './wait.js'

const L = 10 * M // allowed lateness
// The clock: H0 is the hour before the current one, the app's "now" starts at H0 + 15 min and runs
// with the wall clock from there, so every record timestamp is in the broker's past.
const realStart = Date.now()
export const H0 = bucketStart(realStart, 'hour') - H
export const T0 = H0 + 15 * M
export const now = (): number => Date.now() - realStart + T0
export const PARTITIONS = 3

/** The broker and a connected writer, owned by the test file. */
export interface KafkaContext {
  brokers: string
  writer: KafkaWriter
}

/** Records as produced, in order, and what the brute force knows of them. */
interface EventSet {
  records: OutgoingRecord[]
  /** the records the consumer must read (all but the old ones), as text, in production order */
  lines: string[]
  /** of those, the invalid ones (by bytes) */
  invalid: Buffer[]
  old: number
}

function makeEventSet (seed: number): EventSet {
  const records: OutgoingRecord[] = []
  const lines: string[] = []
  const invalid: Buffer[] = []
  const emit = (value: string | Buffer, timestamp: number, counted: boolean, key?: string | null): void => {
    records.push({ key: key === undefined ? (typeof value === 'string' ? eventKey(value) : null) : key, value, timestamp })
    if (counted && typeof value === 'string') lines.push(value)
  }
  // older than the retention: the rewind must skip them
  const old = makeLines(H0 - 2 * H, H0 - 2 * H + 10 * M, 60, seed + 1, 'old', { late: false })
  for (const line of old) emit(line, H0 - 2 * H, false)
  // on time, in time order, with duplicates (same bytes, same key) and invalid records
  const emitted = H0 + 11 * M
  for (const line of makeLines(H0, H0 + 11 * M - 1, 6000, seed, 'k', { late: false })) emit(line, emitted, true)
  // not UTF-8 at all (the dead-letter topic must get these bytes, not their decoding)
  for (let i = 0; i < 5; i++) {
    const bytes = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x80 + i, 0x22, 0x7d])
    records.push({ key: `binary-${i}`, value: bytes, timestamp: emitted })
    invalid.push(bytes)
  }
  // late: 25 to 40 minutes before H0, after every on-time record; a few sent twice
  const late = makeLines(H0 - 40 * M, H0 - 25 * M, 150, seed + 2, 'late', { late: false })
  for (const line of late) emit(line, emitted, true)
  for (const line of late.slice(0, 10)) emit(line, emitted, true)
  const valid = new Set(validRecords(lines, T0).map((r) => r.line))
  lines.forEach((line, i) => { if (!valid.has(i)) invalid.push(Buffer.from(line, 'utf8')) })
  return { records, lines, invalid, old: old.length }
}

export async function get (app: App, url: string): Promise<MetricsResult> {
  const res = await app.server.inject({ method: 'GET', url })
  assert.equal(res.statusCode, 200, res.body)
  return res.json<MetricsResult>()
}

interface Scenario { topic: string, group: string, dlq: string, dataDir: string }

async function startApp (k: KafkaContext, s: Scenario, store: SpeedStore, progress: string[] = []): Promise<App> {
  const config = loadConfig({}, {
    dataDir: s.dataDir, source: 'kafka', kafkaBrokers: k.brokers, kafkaTopics: s.topic, kafkaGroup: s.group, kafkaBronzeGroup: `${s.group}-bronze`, dlqTopic: s.dlq,
    logLevel: 'silent', seedDays: '0', allowedLatenessMs: '10m', dedupWindowMs: '15m'
  })
  const app = await buildApp(config, { now, schedule: false, store, progress: (line) => progress.push(line) })
  try {
    await app.startSource()
  } catch (err) {
    await app.close()
    throw err
  }
  return app
}

/** The live (speed) and merged (batch below B, speed above) answers against brute force. */
async function assertAnswers (app: App, records: Parsed[], label: string): Promise<void> {
  const speed = speedEvents(records, L)
  const G2 = ['event_type', 'region'] as ('event_type' | 'region')[]
  const live = await get(app, '/v1/metrics/live?last=60m&group_by=event_type,region')
  assert.equal(live.meta.complete, true, `${label}: ${JSON.stringify(live.meta.gaps)}`)
  assertEqualsBrute(live, brute(speed, H0 - H, T0 + H, 'minute', G2), G2, `${label} live`)

  const G = ['event_type'] as ('event_type' | 'region')[]
  const merged = await get(app, `/v1/metrics?from=${iso(H0 - H)}&to=${iso(T0)}&granularity=hour&group_by=event_type`)
  assert.equal(merged.meta.boundary, iso(H0), `${label}: B = H0`)
  assert.deepEqual(merged.meta.sources.map((x) => x.layer), ['batch', 'speed'])
  assert.equal(merged.meta.complete, true, `${label}: ${JSON.stringify(merged.meta.gaps)}`)
  const expected = brute(batchEvents(records), H0 - H, H0, 'hour', G) // the late events count here
  for (const [k, v] of brute(speed, H0, T0, 'hour', G)) expected.set(k, v)
  assertEqualsBrute(merged, expected, G, `${label} merged`)
}

/** The whole scenario on one speed store factory: memory here, Redis when it comes. */
export async function runScenario (k: KafkaContext, name: string, makeStore: () => SpeedStore | Promise<SpeedStore>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hg-kafka-e2e-'))
  const s: Scenario = { topic: `e2e-${name}-${process.pid}`, group: `hg-e2e-${name}-${process.pid}`, dlq: `e2e-${name}-${process.pid}.dlq`, dataDir: join(dir, 'data') }
  const stores: SpeedStore[] = []
  const apps: App[] = []
  try {
    assert.equal(await k.writer.createTopic(s.topic, PARTITIONS), true)
    const set = makeEventSet(7)
    await k.writer.send(s.topic, set.records)
    const received = set.records.length - set.old
    const records = validRecords(set.lines, T0)
    assert.ok(records.length < set.lines.length && set.invalid.length > 50, 'the set holds invalid records')

    // Run 1: a new store, so the consumer rewinds to now − retention and rebuilds.
    const store1 = await makeStore()
    stores.push(store1)
    const progress: string[] = []
    const app1 = await startApp(k, s, store1, progress)
    apps.push(app1)
    await until('every record consumed', () => app1.service.quality().received >= received)
    // bronze has a consumer of its own, which reads the old records too (bronze keeps 7 days)
    await until('bronze to have read every record', () => (app1.bronze?.received ?? 0) >= set.records.length)
    await until('the rebuild reported caught up', async () => (await store1.coverage()).coveredFrom !== null, 10_000)
    const q = app1.service.quality()
    assert.equal(q.received, received, 'every record since now − retention was received, the old ones were not')
    assert.equal(q.valid, records.length)
    assert.equal(q.invalid, set.invalid.length)
    assert.ok(q.duplicates > 50 && q.late > 100, JSON.stringify(q))
    assert.ok(progress.some((l) => /rebuilding from Kafka/.test(l)), progress.join('\n'))
    const covered = (await store1.coverage()).coveredFrom as number
    assert.ok(covered >= T0 - H && covered <= now() - H, `covered from now − retention: ${iso(covered)}`)

    const built = await app1.runBatchNow()
    assert.equal(built.completeUntil, H0, 'B = H0: the bronze watermark is H0 + 11 min, the lateness 10 min')
    await assertAnswers(app1, records, 'run 1')

    // The dead-letter topic: exactly the invalid records, original bytes, reason and source headers.
    const dlq = await consumeAll(k.brokers, s.dlq, set.invalid.length, 120_000)
    assert.equal(dlq.length, set.invalid.length, 'one dead letter per invalid record')
    const hex = (b: Buffer): string => b.toString('hex')
    assert.deepEqual(dlq.map((m) => hex(m.value)).sort(), set.invalid.map(hex).sort(), 'the original bytes, the non-UTF-8 ones too')
    const kept = new Map(app1.pipeline.deadLetters(10_000).map((d) => [d.source.partition + '/' + d.source.offset, d]))
    for (const m of dlq) {
      const reason = m.headers[DLQ_HEADERS.reason] as string
      assert.ok((INVALID_REASONS as readonly string[]).includes(reason), reason)
      assert.equal(m.headers[DLQ_HEADERS.topic], s.topic)
      const letter = kept.get(`${m.headers[DLQ_HEADERS.partition]}/${m.headers[DLQ_HEADERS.offset]}`)
      assert.ok(letter !== undefined, 'the source position names a consumed invalid record')
      assert.equal(letter.reason, reason)
      assert.ok((m.headers[DLQ_HEADERS.detail] ?? '').length > 0)
      if (m.value.every((b) => b < 0x80)) assert.equal(letter.raw, m.value.toString('utf8'))
    }
    const reasons = new Set(dlq.map((m) => m.headers[DLQ_HEADERS.reason]))
    for (const r of ['not_json', 'bad_revenue', 'bad_timestamp', 'future_timestamp', 'bad_event_type']) assert.ok(reasons.has(r), `reason ${r} among ${[...reasons].join(', ')}`)

    // Late events for an hour gold has built: the speed layer leaves them
    // out, bronze gets them, and the next batch run rebuilds that hour, so the merged answer counts them.
    const later = makeLines(H0 - 50 * M, H0 - 45 * M, 40, 9, 'later', { late: false })
    await k.writer.send(s.topic, later.map((value) => ({ key: eventKey(value), value, timestamp: H0 + 12 * M })))
    const allRecords = validRecords([...set.lines, ...later], T0)
    const allReceived = received + later.length
    await until('the late records consumed', () => app1.service.quality().received >= allReceived)
    await until('bronze to have read the late records', () => (app1.bronze?.received ?? 0) >= set.records.length + later.length)
    assert.ok(app1.service.quality().late >= q.late + 40, 'the speed layer left them out')
    const rebuilt = await app1.runBatchNow()
    assert.equal(rebuilt.published, true, 'a new gold version')
    await assertAnswers(app1, allRecords, 'after the late events rebuilt their hour')
    await app1.close()

    // Run 2: restarted on an empty store. While it rebuilds (the gate lets one batch in and holds
    // the others), the speed range is a gap, not a wrong number; once caught up, exact again.
    const store2 = new GatedStore(await makeStore(), 1) // one partition's batch in, the others held
    stores.push(store2)
    const app2 = await startApp(k, s, store2)
    apps.push(app2)
    await until('the rebuild to reach the gate', () => store2.waiting)
    const during = await get(app2, '/v1/metrics/live?last=60m')
    assert.equal(during.meta.complete, false)
    assert.ok(during.meta.gaps.some((g) => g.reason === 'speed_not_covered' && Date.parse(g.from) <= H0 && Date.parse(g.to) >= H0 + 11 * M), JSON.stringify(during.meta.gaps))
    const mergedDuring = await get(app2, `/v1/metrics?from=${iso(H0 - H)}&to=${iso(T0)}&granularity=hour`)
    assert.equal(mergedDuring.meta.complete, false)
    assert.ok(mergedDuring.meta.gaps.some((g) => g.reason === 'speed_not_covered' && g.from === iso(H0)), JSON.stringify(mergedDuring.meta.gaps))
    store2.open()
    await until('the rebuild consumed everything', () => app2.service.quality().received >= allReceived)
    await until('the rebuild reported caught up', async () => (await store2.coverage()).coveredFrom !== null, 10_000)
    assert.equal(app2.service.quality().received, allReceived)
    await assertAnswers(app2, allRecords, 'after the rebuild')
  } finally {
    for (const app of apps) await app.close().catch(() => undefined)
    for (const store of stores) await store.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}
