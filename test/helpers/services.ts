// The services a test file needs, started before its tests and stopped after them (node:test
// hooks): a real Kafka broker with a connected writer and, when asked, a real Redis and the
// Cosmos DB API server (the stand-in for Azure). The object returned is filled in by the `before`
// hook, so read its fields inside tests, not at the top of the file.
import { after, before } from 'node:test'
import { KafkaWriter } from '../../src/ingest/kafka/index.js'
import { type CosmosServer, type KafkaService, type RedisService, startCosmosServer, startKafka, startRedis } from '../../scripts/services/index.js'

export interface KafkaFileServices {
  kafka: KafkaService
  writer: KafkaWriter
}

interface Wanted { partitions: number, redis?: boolean, cosmos?: boolean }

export function servicesForFile (o: Wanted & { redis: true }): KafkaFileServices & { redis: RedisService }
export function servicesForFile (o: Wanted & { cosmos: true }): KafkaFileServices & { cosmos: CosmosServer }
export function servicesForFile (o: Wanted): KafkaFileServices
export function servicesForFile (o: Wanted): KafkaFileServices & { redis?: RedisService, cosmos?: CosmosServer } {
  const s = {} as KafkaFileServices & { redis?: RedisService, cosmos?: CosmosServer }
  before(async () => {
    const [kafka, redis, cosmos] = await Promise.all([
      startKafka({ log: false, numPartitions: o.partitions }),
      o.redis === true ? startRedis({ log: false }) : undefined,
      o.cosmos === true ? startCosmosServer() : undefined
    ])
    s.kafka = kafka
    if (redis !== undefined) s.redis = redis
    if (cosmos !== undefined) s.cosmos = cosmos
    s.writer = new KafkaWriter({ brokers: kafka.brokers, logLevel: 'nothing' })
    await s.writer.connect()
  }, { timeout: 180_000 })
  after(async () => {
    await s.writer?.close().catch(() => undefined)
    await s.kafka?.close()
    await s.redis?.close()
    await s.cosmos?.close()
  })
  return s
}
