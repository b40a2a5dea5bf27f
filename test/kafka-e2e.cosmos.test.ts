// Issue 4, acceptance 2 (end to end) with the Cosmos DB speed store: the same scenario as
// kafka-e2e.test.ts and kafka-e2e.redis.test.ts through a real Kafka broker into a Cosmos DB API
// server (@vercel/cosmosdb-server, the stand-in for Azure Cosmos DB, started by
// scripts/cosmos-server.ts on a loopback port). Live and merged answers equal brute force, the
// DLQ holds exactly the invalid records, and a restart on an empty store (a new container) rebuilds
// while reporting the gap.
import { after, before, test } from 'node:test'
import { KafkaWriter } from '../src/ingest/kafka/index.js'
import { CosmosSpeedStore } from '../src/speed/index.js'
import { type CosmosServer, startCosmosServer } from '../scripts/cosmos-server.js'
import { type KafkaService, startKafka } from '../scripts/services.mjs'
import { H, M } from './helpers/events.js'
import { now, PARTITIONS, runScenario } from './helpers/kafka-e2e.js'

let kafka: KafkaService
let cosmos: CosmosServer
let writer: KafkaWriter

before(async () => {
  [kafka, cosmos] = await Promise.all([startKafka({ log: false, numPartitions: PARTITIONS }), startCosmosServer()])
  writer = new KafkaWriter({ brokers: kafka.brokers, logLevel: 'nothing' })
  await writer.connect()
}, { timeout: 180_000 })

after(async () => {
  await writer?.close().catch(() => undefined)
  await kafka?.close()
  await cosmos?.close()
})

test('Kafka end to end (Cosmos DB store): live and merged equal brute force, the DLQ holds exactly the invalid records, an emptied store rebuilds', { timeout: 240_000 }, async () => {
  let n = 0
  await runScenario({ brokers: kafka.brokers, writer }, 'cosmos', () => CosmosSpeedStore.open({
    endpoint: cosmos.endpoint,
    key: cosmos.key,
    database: 'e2e',
    container: `e2e-${process.pid}-${n++}`, // a new container: the restart meets an empty store
    clientOptions: cosmos.clientOptions,
    retentionMs: H,
    dedupWindowMs: 15 * M,
    now
  }))
})
