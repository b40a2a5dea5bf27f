// The Kafka end-to-end scenario with the Cosmos DB speed store: the same scenario as
// kafka-e2e.test.ts and kafka-e2e.redis.test.ts through a real Kafka broker into a Cosmos DB API
// server (@vercel/cosmosdb-server, the stand-in for Azure Cosmos DB, started by
// scripts/services/cosmos.ts on a loopback port). Live and merged answers equal brute force, the
// DLQ holds exactly the invalid records, and a restart on an empty store (a new container) rebuilds
// while reporting the gap.
import { test } from 'node:test'
import { CosmosSpeedStore } from '../src/speed/index.js'
import { H, M } from './helpers/events.js'
import { now, PARTITIONS, runScenario } from './helpers/kafka-e2e.js'
import { servicesForFile } from './helpers/services.js'

const services = servicesForFile({ partitions: PARTITIONS, cosmos: true })

test('Kafka end to end (Cosmos DB store): live and merged equal brute force, the DLQ holds exactly the invalid records, an emptied store rebuilds', { timeout: 330_000 }, async () => {
  let n = 0
  await runScenario({ brokers: services.kafka.brokers, writer: services.writer }, 'cosmos', () => CosmosSpeedStore.open({
    endpoint: services.cosmos.endpoint,
    key: services.cosmos.key,
    database: 'e2e',
    container: `e2e-${process.pid}-${n++}`, // a new container: the restart meets an empty store
    clientOptions: services.cosmos.clientOptions,
    retentionMs: H,
    dedupWindowMs: 15 * M,
    now
  }))
})
