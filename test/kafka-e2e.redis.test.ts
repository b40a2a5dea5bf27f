// Issue 3, acceptance 2 (and the rebuild half of acceptance 5) with the Redis speed store: the same
// scenario as kafka-e2e.test.ts through a real Kafka broker into a real Redis. Each makeStore call
// gets a fresh key prefix, so the restart of the scenario meets an emptied store (Redis restarted
// empty) and must rebuild, reporting the gap until it has caught up.
import { after, before, test } from 'node:test'
import { KafkaWriter } from '../src/ingest/kafka/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { type KafkaService, type RedisService, startKafka, startRedis } from '../scripts/services.mjs'
import { H, M } from './helpers/events.js'
import { now, PARTITIONS, runScenario } from './helpers/kafka-e2e.js'

let kafka: KafkaService
let redis: RedisService
let writer: KafkaWriter

before(async () => {
  [kafka, redis] = await Promise.all([startKafka({ log: false, numPartitions: PARTITIONS }), startRedis({ log: false })])
  writer = new KafkaWriter({ brokers: kafka.brokers, logLevel: 'nothing' })
  await writer.connect()
}, { timeout: 180_000 })

after(async () => {
  await writer?.close().catch(() => undefined)
  await kafka?.close()
  await redis?.close()
})

test('Kafka end to end (Redis store): live and merged equal brute force, the DLQ holds exactly the invalid records, an emptied store rebuilds', { timeout: 180_000 }, async () => {
  let n = 0
  await runScenario({ brokers: kafka.brokers, writer }, 'redis', () =>
    new RedisSpeedStore({ url: redis.url, keyPrefix: `e2e-${process.pid}-${n++}`, retentionMs: H, dedupWindowMs: 15 * M, now }))
})
