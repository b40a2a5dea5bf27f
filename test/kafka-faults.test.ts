// The speed layer stays exactly-once through faults, against a
// REAL Apache Kafka broker and a REAL Redis (both started here by scripts/services, loopback
// only). The consumers are real `hourglass serve --source kafka --store redis` child processes,
// killed, stopped and restarted from outside like an orchestrator would; after each fault the
// windows in Redis must equal a brute force over every record produced, exactly. The scenarios,
// their record stream and why no event is late whatever the interleaving:
// test/helpers/kafka-faults.ts (test/kafka-faults.cosmos.test.ts runs them on Cosmos DB).
//
// FAULTS_SEED=n changes the seeded randomness (event set, kill moments); FAULTS_SHOW_OUTPUT=1
// prints every consumer's output even when the test passes (it is printed when one fails).
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { KafkaSource } from '../src/ingest/kafka/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { brokerRestartScenario, crashScenario, DEDUP_WINDOW_MS, type FaultsContext, PARTITIONS, rebalanceScenario, RETENTION_MS } from './helpers/kafka-faults.js'
import { servicesForFile } from './helpers/services.js'
import { sleep } from './helpers/wait.js'

const services = servicesForFile({ partitions: PARTITIONS, redis: true })
/** the scenarios' view of the services: call it inside a test (the `before` hook starts them) */
const ctx = (): FaultsContext => ({
  kafka: services.kafka,
  writer: services.writer,
  backend: {
    kind: 'redis',
    env: (prefix) => ({ HOURGLASS_REDIS_URL: services.redis.url, HOURGLASS_REDIS_PREFIX: prefix }),
    open: (prefix) => new RedisSpeedStore({ url: services.redis.url, keyPrefix: prefix, retentionMs: RETENTION_MS, dedupWindowMs: DEDUP_WINDOW_MS })
  }
})

test('crash: a consumer SIGKILLed at 6 random moments mid-stream and restarted each time leaves exact windows in Redis', { timeout: 300_000 }, async (t) => {
  await crashScenario(ctx(), t) // 800 records/s, a backlog of 1,500 at each restart
})

test('rebalance: one of two consumers in a group stopped (SIGTERM) mid-stream; the survivor takes over; exact windows', { timeout: 120_000 }, async (t) => {
  await rebalanceScenario(ctx(), t, 'SIGTERM')
})

test('rebalance: one of two consumers in a group SIGKILLed mid-stream; after its session expires the survivor takes over; exact windows', { timeout: 330_000 }, async (t) => {
  await rebalanceScenario(ctx(), t, 'SIGKILL')
})

test('broker restart: Kafka stopped and started again (data kept) under a running consumer; it reconnects; exact windows', { timeout: 330_000 }, async (t) => {
  await brokerRestartScenario(ctx(), t)
})

test('broker unreachable while the consumer looks for its group coordinator: the source restarts the consumer kafkajs gives up on', { timeout: 60_000 }, async (t) => {
  // Reproduces: with one broker, a broker restart that catches the consumer (re)joining its group.
  // kafkajs then throws KafkaJSGroupCoordinatorNotFound, which it deems non-retriable: its
  // consumer crashes for good and, before the fix (CrashRestarts, src/ingest/kafka/group-run.ts), the process
  // kept serving while consuming nothing. The broker-restart test above hits this only when the
  // timing is unlucky, so here the failure is injected (kafkajs's cluster answers the first
  // coordinator lookup with that error) into an in-process source.
  const require = createRequire(import.meta.url)
  const Cluster = require('kafkajs/src/cluster') as { prototype: { findGroupCoordinator: (...a: unknown[]) => Promise<unknown> } }
  const { KafkaJSGroupCoordinatorNotFound } = require('kafkajs/src/errors') as { KafkaJSGroupCoordinatorNotFound: new (m: string) => Error }
  const original = Cluster.prototype.findGroupCoordinator
  let lookups = 0
  Cluster.prototype.findGroupCoordinator = async function (this: unknown, ...a: unknown[]) {
    if (lookups++ === 0) throw new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator (injected)')
    return await original.apply(this, a)
  }
  t.after(() => { Cluster.prototype.findGroupCoordinator = original })
  const topic = `faults-coordinator-${process.pid}`
  assert.equal(await services.writer.createTopic(topic, PARTITIONS), true)
  await services.writer.send(topic, Array.from({ length: 300 }, (_, i) => ({ key: String(i), value: `record ${i}` })))
  const logged: string[] = []
  const log = { error: (_: object, m: string) => { logged.push(m) }, warn: (_: object, m: string) => { logged.push(m) }, info: () => undefined }
  const source = new KafkaSource({ brokers: services.kafka.brokers, topics: [topic], groupId: `hg-${topic}`, positions: async () => null, rebuildFrom: () => Date.now() - 3_600_000, log, logLevel: 'nothing' })
  let failed: unknown = null
  source.done.catch((err: unknown) => { failed = err })
  let received = 0
  await source.start(async (batch) => { received += batch.records.length })
  t.after(() => source.stop())
  const deadline = Date.now() + 30_000
  while (received < 300 && failed === null && Date.now() < deadline) await sleep(50)
  assert.equal(failed, null, `the source failed: ${logged.join('; ')}`)
  assert.equal(received, 300, logged.join('; '))
  assert.ok(lookups >= 2, 'the coordinator was looked up again after the crash')
  assert.ok(logged.includes('kafka consumer lost the brokers; restarting it'), logged.join('; '))
})
