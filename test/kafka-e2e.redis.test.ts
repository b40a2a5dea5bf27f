// The Kafka end-to-end scenario, and the rebuild of an emptied store, with the Redis speed store:
// kafka-e2e.test.ts's scenario through a real Kafka broker into a real Redis. Each makeStore call
// gets a fresh key prefix, so the restart of the scenario meets an emptied store (Redis restarted
// empty) and must rebuild, reporting the gap until it has caught up.
import { test } from 'node:test'
import { RedisSpeedStore } from '../src/speed/index.js'
import { H, M } from './helpers/events.js'
import { now, PARTITIONS, runScenario } from './helpers/kafka-e2e.js'
import { servicesForFile } from './helpers/services.js'

const services = servicesForFile({ partitions: PARTITIONS, redis: true })

test('Kafka end to end (Redis store): live and merged equal brute force, the DLQ holds exactly the invalid records, an emptied store rebuilds', { timeout: 330_000 }, async () => {
  let n = 0
  await runScenario({ brokers: services.kafka.brokers, writer: services.writer }, 'redis', () =>
    new RedisSpeedStore({ url: services.redis.url, keyPrefix: `e2e-${process.pid}-${n++}`, retentionMs: H, dedupWindowMs: 15 * M, now }))
})
