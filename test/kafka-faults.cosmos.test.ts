// Crash tests with the Cosmos DB speed store: the fault scenarios of
// kafka-faults.test.ts (test/helpers/kafka-faults.ts) with `hourglass serve --store cosmos`
// consumers, against a REAL Apache Kafka broker and a Cosmos DB API server
// (@vercel/cosmosdb-server, the stand-in for Azure Cosmos DB, which cannot be reached from here).
// The server runs as its own process on a loopback port (scripts/services/cosmos.ts), so it outlives
// every consumer the tests kill; each scenario gets its own container. After a consumer SIGKILLed
// 6 times mid-stream, a rebalance after a SIGTERM and after a SIGKILL, and a broker restart, the
// windows in Cosmos DB must equal a brute force over every record produced, exactly: the claim /
// roll-forward / commit protocol of src/speed/stores/cosmos/apply.ts holds across real crashes.
//
// The children trust the test server's certificate through NODE_TLS_REJECT_UNAUTHORIZED=0 in their
// own environment only (why: scripts/services/cosmos.ts). The test process reads positions through
// the store's position(), which, as the contract says, completes a batch a killed consumer left
// claimed; the restarted consumer does the same, whichever comes first (both race on purpose).
//
// Less traffic than on Redis (the test server scans the whole container for every query, and
// every admitted event leaves a dedup document in it): 300 records/s, a backlog of 600 at each
// restart. Duplicates, re-sent duplicates and invalid records are in the stream all the same.
import { test } from 'node:test'
import { CosmosSpeedStore } from '../src/speed/index.js'
import { brokerRestartScenario, crashScenario, DEDUP_WINDOW_MS, type FaultsContext, PARTITIONS, rebalanceScenario, RETENTION_MS } from './helpers/kafka-faults.js'
import { servicesForFile } from './helpers/services.js'

const DATABASE = 'faults'
const TRAFFIC = { perTick: 15, burst: 600, pool: 30_000 }

const services = servicesForFile({ partitions: PARTITIONS, cosmos: true })
/** the scenarios' view of the services: call it inside a test (the `before` hook starts them) */
const ctx = (): FaultsContext => ({
  kafka: services.kafka,
  writer: services.writer,
  backend: {
    kind: 'cosmos',
    env: (container) => services.cosmos.env(DATABASE, container),
    open: (container) => CosmosSpeedStore.open({
      endpoint: services.cosmos.endpoint, key: services.cosmos.key, database: DATABASE, container, clientOptions: services.cosmos.clientOptions,
      retentionMs: RETENTION_MS, dedupWindowMs: DEDUP_WINDOW_MS
    })
  }
})

test('cosmos crash: a consumer SIGKILLed at 6 random moments mid-stream and restarted each time leaves exact windows in Cosmos DB', { timeout: 300_000 }, async (t) => {
  await crashScenario(ctx(), t, 6, TRAFFIC)
})

test('cosmos rebalance: one of two consumers stopped (SIGTERM) mid-stream; the survivor takes over; exact windows', { timeout: 120_000 }, async (t) => {
  await rebalanceScenario(ctx(), t, 'SIGTERM', TRAFFIC)
})

test('cosmos rebalance: one of two consumers SIGKILLed mid-stream; after its session expires the survivor takes over; exact windows', { timeout: 330_000 }, async (t) => {
  await rebalanceScenario(ctx(), t, 'SIGKILL', TRAFFIC)
})

test('cosmos broker restart: Kafka stopped and started again under a running consumer; it reconnects; exact windows', { timeout: 330_000 }, async (t) => {
  await brokerRestartScenario(ctx(), t, TRAFFIC)
})
