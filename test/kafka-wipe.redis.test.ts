// Redis restarted empty while the consumer runs: the speed layer rebuilds and answers exactly
// again. A real Kafka broker and a real Redis (started here). The app consumes the first half of a known event set (duplicates and
// invalid records among it) into Redis; then Redis is restarted without its data and the second
// half is produced. The first batch after the wipe finds no position where it had applied
// batches: the pipeline reports the store lost, the consumer rewinds every partition to
// now − retention and rebuilds. While it rebuilds (a gate holds the store's applies) the answers
// report the speed range as a gap; once caught up, live and merged answers equal brute force over
// the retention, and the quality counters count every record once (the replay is not counted again).
//
// The event set avoids any dependence on how kafkajs interleaves the partitions: every event lies
// in [H0, H0 + 10 min) and the allowed lateness is 10 min, so no event can be late.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { eventKey, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import { iso } from '../src/model/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { assertEqualsBrute, brute, H, M, makeLines, speedEvents, validRecords } from './helpers/events.js'
import { GatedStore } from './helpers/gated-store.js'
import { get, H0, now, PARTITIONS, T0 } from './helpers/kafka-e2e.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const services = servicesForFile({ partitions: PARTITIONS, redis: true })

const records = (lines: string[]): OutgoingRecord[] => lines.map((value) => ({ key: eventKey(value), value, timestamp: H0 + 11 * M }))

test('Redis restarted empty mid-stream: the gap is reported while the consumer rebuilds, then the answers equal brute force', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-kafka-wipe-'))
  const topic = `wipe-${process.pid}`
  const first = makeLines(H0, H0 + 5 * M, 3000, 21, 'a', { late: false })
  const second = makeLines(H0 + 5 * M, H0 + 10 * M, 3000, 22, 'b', { late: false })
  const lines = [...first, ...second]
  const store = new GatedStore(new RedisSpeedStore({ url: services.redis.url, keyPrefix: `wipe-${process.pid}`, retentionMs: H, dedupWindowMs: 15 * M, now }), Infinity)
  const progress: string[] = []
  let app: App | undefined
  try {
    assert.equal(await services.writer.createTopic(topic, PARTITIONS), true)
    await services.writer.send(topic, records(first))
    const config = loadConfig({}, {
      dataDir: join(dir, 'data'), source: 'kafka', kafkaBrokers: services.kafka.brokers, kafkaTopics: topic, kafkaGroup: `hg-wipe-${process.pid}`,
      dlqTopic: `${topic}.dlq`, logLevel: 'silent', seedDays: '0', allowedLatenessMs: '10m', dedupWindowMs: '15m'
    })
    app = await buildApp(config, { now, schedule: false, store, progress: (line) => progress.push(line) })
    await app.startSource()
    const a = app
    await until('the first half consumed', () => a.service.quality().received >= first.length)
    await until('the start-up rebuild caught up', async () => (await store.coverage()).coveredFrom !== null)
    const G2 = ['event_type', 'region'] as ('event_type' | 'region')[]
    const live1 = await get(a, '/v1/metrics/live?last=60m&group_by=event_type,region')
    assert.equal(live1.meta.complete, true, JSON.stringify(live1.meta.gaps))
    assertEqualsBrute(live1, brute(speedEvents(validRecords(first, T0), 10 * M), H0 - H, T0 + H, 'minute', G2), G2, 'before the wipe')
    const countsBefore = a.service.quality()

    // Redis loses everything; the next batch meets the empty store. One apply passes the gate (the
    // one that finds the position gone), the rebuild's applies wait.
    await services.redis.restart({ empty: true })
    store.hold(1)
    await services.writer.send(topic, records(second))
    await until('the rebuild to reach the gate', () => store.waiting)
    const during = await get(a, '/v1/metrics/live?last=60m')
    assert.equal(during.meta.complete, false)
    assert.ok(during.meta.gaps.some((g) => g.reason === 'speed_not_covered' && Date.parse(g.from) <= H0 && Date.parse(g.to) >= H0 + 10 * M), JSON.stringify(during.meta.gaps))
    const mergedDuring = await get(a, `/v1/metrics?from=${iso(H0)}&to=${iso(T0)}&granularity=hour`)
    assert.equal(mergedDuring.meta.complete, false)
    assert.ok(mergedDuring.meta.gaps.some((g) => g.reason === 'speed_not_covered' && g.from === iso(H0)), JSON.stringify(mergedDuring.meta.gaps))
    assert.deepEqual(a.service.quality(), countsBefore, 'nothing counted while the store is lost')

    store.open()
    await until('everything consumed', () => a.service.quality().received >= lines.length)
    await until('the rebuild caught up', async () => (await store.coverage()).coveredFrom !== null)
    assert.ok(progress.filter((l) => /rebuilding from Kafka/.test(l)).length >= 2, progress.join('\n'))

    const valid = validRecords(lines, T0)
    const q = a.service.quality()
    assert.equal(q.received, lines.length, 'every record counted once, the replayed first half not again')
    assert.equal(q.valid, valid.length)
    assert.equal(q.invalid, lines.length - valid.length)
    const expected = speedEvents(valid, 10 * M)
    const live = await get(a, '/v1/metrics/live?last=60m&group_by=event_type,region')
    assert.equal(live.meta.complete, true, JSON.stringify(live.meta.gaps))
    assertEqualsBrute(live, brute(expected, H0 - H, T0 + H, 'minute', G2), G2, 'after the rebuild, live')
    const G = ['event_type'] as ('event_type' | 'region')[]
    const merged = await get(a, `/v1/metrics?from=${iso(H0)}&to=${iso(T0)}&granularity=hour&group_by=event_type`)
    assert.equal(merged.meta.complete, true, JSON.stringify(merged.meta.gaps))
    assertEqualsBrute(merged, brute(expected, H0, T0, 'hour', G), G, 'after the rebuild, merged')
  } finally {
    await app?.close().catch(() => undefined)
    await store.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
})
