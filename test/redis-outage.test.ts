// Redis down for 30 s under load, with a real broker, a real Redis and `serve --source kafka --store redis` as a child
// process, records produced all along. Paused (SIGSTOP: no answers, data kept): the consumer holds its batch and waits,
// /readyz answers 503 naming the store, answers carry a `speed_not_covered` gap instead of failing; resumed, it is ready
// again and /v1/metrics/live equals a brute force over every record produced, exactly. Stopped and started again (empty:
// our Redis keeps nothing): the same, after the service rebuilt the store from Kafka. Bounds are generous (a loaded
// machine); the outage itself lasts 30 s. Last, the loss a partition's first batch outruns: a rebuild with one position stored.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { eventKey } from '../src/ingest/kafka/index.js'
import type { MetricsResult } from '../src/model/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { assertEqualsBrute, batchEvents, brute, M, makeLines, validRecords } from './helpers/events.js'
import { kafkaServeEnv, ServeProcess } from './helpers/serve-process.js'
import { servicesForFile } from './helpers/services.js'
import { sleep, until } from './helpers/wait.js'

const PARTITIONS = 3
const OUTAGE_MS = 30_000
const GROUP_BY = ['event_type', 'region'] as const
const services = servicesForFile({ partitions: PARTITIONS, redis: true })

interface Run {
  topic: string
  prefix: string
  serve: ServeProcess
  base: string
  sent: string[]
  show: () => string
}

/** `serve --source kafka --store redis` on a new topic and key prefix, serving and ready. */
async function startServe (t: TestContext, name: string, partitions = PARTITIONS): Promise<Run> {
  const topic = `redis-outage-${name}-${process.pid}`
  const prefix = topic
  assert.equal(await services.writer.createTopic(topic, partitions), true)
  const dir = mkdtempSync(join(tmpdir(), 'hg-redis-outage-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const env = kafkaServeEnv(services.kafka.brokers, topic, dir, {
    HOURGLASS_REDIS_URL: services.redis.url,
    HOURGLASS_REDIS_PREFIX: prefix,
    HOURGLASS_REDIS_TIMEOUT: '2s',
    // no event is ever late (every one lies in the last 20 minutes) and none expires during the test
    HOURGLASS_ALLOWED_LATENESS: '60m',
    HOURGLASS_RETENTION: '2h',
    HOURGLASS_DEDUP_WINDOW: '30m'
  })
  const serve = new ServeProcess(name, ['serve', '--source', 'kafka', '--store', 'redis', '--port', '0'], env)
  t.after(async () => { if (serve.alive) await serve.terminate(60_000) })
  const show = (): string => `; output:\n${serve.output}`
  await until(() => 'serve to be serving' + show(), () => serve.output.includes('Hourglass is serving') || !serve.alive, 180_000)
  const base = /Hourglass is serving on (http:\/\/\S+)/.exec(serve.output)?.[1]
  assert.ok(base !== undefined, 'serve exited' + show())
  await until(() => '/readyz 200 at start' + show(), async () => (await readyz(base)).status === 200, 180_000)
  return { topic, prefix, serve, base, sent: [], show }
}

async function readyz (base: string): Promise<{ status: number, message: string }> {
  const r = await fetch(base + '/readyz')
  const body = await r.json() as { message?: string }
  return { status: r.status, message: body.message ?? '' }
}

async function live (base: string): Promise<{ status: number, body: MetricsResult }> {
  const r = await fetch(`${base}/v1/metrics/live?last=30m&group_by=${GROUP_BY.join(',')}`)
  return { status: r.status, body: await r.json() as MetricsResult }
}

/** Produces `lines` in order, `perTick` every 100 ms (keyed by event id: a duplicate lands in its original's partition), until stopped. */
function produce (run: Run, lines: string[], perTick: number): { stop: () => Promise<void> } {
  let stopped = false
  let i = 0
  const loop = (async () => {
    while (!stopped && i < lines.length) {
      const t = Date.now()
      const chunk = lines.slice(i, i + perTick)
      await services.writer.send(run.topic, chunk.map((value) => ({ key: eventKey(value), value })))
      i += chunk.length
      run.sent.push(...chunk)
      await sleep(Math.max(0, 100 - (Date.now() - t)))
    }
  })()
  return { stop: async () => { stopped = true; await loop } }
}

/** The store `run` writes, opened here (as the consumer is told: retention 2 h, dedup window 30 min). */
const openStore = (run: Run): RedisSpeedStore =>
  new RedisSpeedStore({ url: services.redis.url, keyPrefix: run.prefix, retentionMs: 2 * 3_600_000, dedupWindowMs: 30 * M })

/** Until the store's position of every partition is the partition's end: everything produced is applied. */
async function untilApplied (run: Run): Promise<void> {
  const store = openStore(run)
  try {
    const admin = services.writer.kafka.admin()
    await admin.connect()
    const ends = await admin.fetchTopicOffsets(run.topic).finally(() => admin.disconnect())
    await until(() => 'every record produced to be applied' + run.show(), async () => {
      assert.ok(run.serve.alive, 'serve stays up' + run.show())
      for (const o of ends) {
        const at = await store.position(run.topic, o.partition)
        if (BigInt(at ?? -1) !== BigInt(o.high) - 1n) return false
      }
      return true
    }, 180_000)
  } finally {
    await store.close()
  }
}

/** /v1/metrics/live against the brute force over every record produced, and no gap. */
async function assertExact (run: Run, label: string): Promise<void> {
  const { status, body } = await live(run.base)
  assert.equal(status, 200)
  const from = Date.parse(body.meta.from)
  const to = Date.parse(body.meta.to)
  const events = batchEvents(validRecords(run.sent, Date.now()))
  assertEqualsBrute(body, brute(events, from, to, 'minute', [...GROUP_BY]), [...GROUP_BY], label)
  assert.deepEqual(body.meta.gaps, [], `${label}: no gap once the store is back`)
  assert.ok(events.length > 1000, `${label}: ${events.length} events`)
  // a batch whose apply ran while Redis was paused, unanswered, is counted when its retry finds it applied
  const quality = await (await fetch(run.base + '/v1/quality')).json() as { received: number }
  assert.equal(quality.received, run.sent.length, `${label}: /v1/quality counts every record produced once`)
}

/** Until /readyz answers 200 (serve staying up meanwhile). */
async function untilReady (run: Run, when: string): Promise<void> {
  let last = { status: 0, message: '' }
  await until(() => `/readyz 200 ${when} (last: ${JSON.stringify(last)})` + run.show(), async () => {
    assert.ok(run.serve.alive, 'serve stays up' + run.show())
    last = await readyz(run.base)
    return last.status === 200
  }, 180_000)
}

/** Through the outage: /readyz 503 naming the store, /v1/metrics/live 200 with the speed range as a gap, /healthz 200. */
async function assertOutageReported (run: Run): Promise<void> {
  let last = { status: 0, message: '' }
  await until(() => `/readyz to name the store (last: ${JSON.stringify(last)})` + run.show(), async () => {
    assert.ok(run.serve.alive, 'serve stays up' + run.show())
    last = await readyz(run.base)
    return last.status === 503 && last.message.includes('the redis speed store does not answer')
  }, OUTAGE_MS - 5_000)
  const { status, body } = await live(run.base)
  assert.equal(status, 200, 'answers go on')
  assert.equal(body.meta.complete, false)
  assert.deepEqual(body.meta.gaps.map((g) => g.reason), ['speed_not_covered'], 'the speed range is a gap')
  assert.equal(body.meta.gaps[0]?.from, body.meta.from)
  assert.equal(body.meta.freshness.watermark, null)
  assert.equal((await fetch(run.base + '/healthz')).status, 200)
}

async function scenario (t: TestContext, name: string, outage: { begin: () => Promise<void>, end: () => Promise<void> }): Promise<void> {
  const run = await startServe(t, name)
  const t0 = Date.now()
  const lines = makeLines(t0 - 20 * M, t0 - M, 12_000, name.length * 7919, name, { late: false })
  const producer = produce(run, lines, 25) // 250 records/s
  try {
    await until(() => 'the first records to be applied' + run.show(), async () => (await live(run.base)).body.rows.length > 0, 60_000)
    const down = Date.now()
    await outage.begin()
    await assertOutageReported(run)
    await sleep(Math.max(0, down + OUTAGE_MS - Date.now()))
    await outage.end()
    await untilReady(run, 'after the outage')
    const produced = run.sent.length
    await until('records produced after the outage too', () => run.sent.length >= produced + 250, 60_000)
  } finally {
    await producer.stop()
  }
  await untilApplied(run)
  await assertExact(run, name)
  t.diagnostic(`${name}: ${run.sent.length} records produced, exact after ${OUTAGE_MS / 1000} s without Redis`)
  assert.deepEqual(await run.serve.terminate(60_000), { code: 0, signal: null }, 'it still stops cleanly' + run.show())
}

test('Redis paused (SIGSTOP) for 30 s under load: not ready naming the store, a gap in answers; resumed: ready and exact', { timeout: 600_000 }, async (t) => {
  const redis = services.redis
  t.after(() => redis.resume())
  await scenario(t, 'paused', { begin: async () => redis.pause(), end: async () => redis.resume() })
})

test('Redis stopped for 30 s under load and started again empty: not ready naming the store; rebuilt from Kafka and exact', { timeout: 600_000 }, async (t) => {
  const redis = services.redis
  t.after(async () => { if (!redis.running) await redis.start() })
  await scenario(t, 'restarted', { begin: () => redis.stop(), end: async () => { await redis.start() } })
})

test('Redis lost while a partition\'s first batch waits for it: that batch lands in the emptied store first, the rebuild still completes, exact',
  { timeout: 600_000 }, async (t) => {
    // the first batch of partition 1 (compare-and-set on "no position") applies to the emptied store; partition 0's next
    // batch then finds its position gone and the service rebuilds, with one partition already holding a position
    const redis = services.redis
    t.after(async () => { if (!redis.running) await redis.start() })
    const run = await startServe(t, 'first-batch', 2)
    const t0 = Date.now()
    const lines = makeLines(t0 - 20 * M, t0 - M, 3_000, 4242, 'first-batch', { late: false })
    const producer = services.writer.kafka.producer()
    await producer.connect()
    t.after(() => producer.disconnect())
    const send = async (partition: number, chunk: string[]): Promise<void> => {
      await producer.send({ topic: run.topic, messages: chunk.map((value) => ({ value, partition })) })
      run.sent.push(...chunk)
    }
    const store = openStore(run)
    t.after(() => store.close())
    await send(0, lines.slice(0, 1000))
    await until(() => 'partition 0 to be applied' + run.show(), async () => (await store.position(run.topic, 0)) !== null, 60_000)
    await redis.stop()
    await send(1, lines.slice(1000, 2000))
    await until(() => 'partition 1\'s first batch to wait for the store' + run.show(),
      () => /"partition":1,[^\n]*the batch waits for it/.test(run.serve.output), 120_000)
    await send(0, lines.slice(2000))
    await redis.start()
    await untilReady(run, 'after the rebuild')
    assert.match(run.serve.output, /the speed store lost its state/)
    await untilApplied(run)
    await assertExact(run, 'first batch after the loss')
    assert.deepEqual(await run.serve.terminate(60_000), { code: 0, signal: null })
  })

test('SIGTERM while Redis is paused and a batch waits for it: serve stops cleanly (exit 0) within the close timeout', { timeout: 300_000 }, async (t) => {
  const redis = services.redis
  t.after(() => redis.resume())
  const run = await startServe(t, 'term')
  const lines = makeLines(Date.now() - 20 * M, Date.now() - M, 2_000, 77, 'term', { late: false })
  const producer = produce(run, lines, 25)
  try {
    await until(() => 'the first records to be applied' + run.show(), async () => (await live(run.base)).body.rows.length > 0, 60_000)
    redis.pause()
    await assertOutageReported(run)
    await until(() => 'a batch to wait for the store' + run.show(), () => run.serve.output.includes('the batch waits for it'), 60_000)
  } finally {
    await producer.stop()
  }
  const t0 = Date.now()
  assert.deepEqual(await run.serve.terminate(60_000), { code: 0, signal: null }, 'a clean exit' + run.show())
  t.diagnostic(`stopped in ${Date.now() - t0} ms with Redis paused`)
  redis.resume()
})
