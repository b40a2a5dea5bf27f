// `npm run services:smoke`: starts Kafka and Redis, talks to each through its client (ioredis:
// PING/SET/GET; kafkajs's admin: describeCluster, createTopics, fetchTopicMetadata), restarts both
// the way the fault tests do (Kafka keeping its data, Redis empty), checks again, and stops them.
// Prints one line per step with its time; exits non-zero on the first failure.
import { Kafka, logLevel } from 'kafkajs'
import { Redis } from 'ioredis'
import { createTopicAndWait } from '../../src/ingest/kafka/client.js'
import { KAFKA_VERSION, startServices } from './index.js'

const t0 = Date.now()
let last = t0
function step (what: string): void {
  const now = Date.now()
  console.log(`ok  ${what}  (${now - last} ms)`)
  last = now
}
function check (cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`)
}

const services = await startServices({ kafka: true, redis: true, log: (line) => console.log(`    ${line}`) })
const { kafka, redis } = services
if (kafka === null || redis === null) throw new Error('both services should have started')
const redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1 })
redisClient.on('error', () => {}) // the restart below drops the connection; ioredis reconnects
const admin = new Kafka({ clientId: 'services-smoke', brokers: [kafka.brokers], logLevel: logLevel.NOTHING }).admin()
try {
  step(`started Kafka ${KAFKA_VERSION} at ${kafka.brokers} and Redis at ${redis.url}`)

  const replies = [await redisClient.ping(), await redisClient.set('smoke', 'hourglass'), await redisClient.get('smoke')]
  check(replies[0] === 'PONG' && replies[1] === 'OK' && replies[2] === 'hourglass', `redis replies ${JSON.stringify(replies)}`)
  step(`redis PING/SET/GET -> ${JSON.stringify(replies)}`)

  await admin.connect()
  const cluster = await admin.describeCluster()
  const [broker] = cluster.brokers
  check(cluster.brokers.length === 1 && broker?.port === kafka.port, 'one broker on our port')
  step(`kafka describeCluster: cluster ${cluster.clusterId}, broker ${broker?.nodeId}@${broker?.host}:${broker?.port}, controller ${cluster.controller}`)

  // no numPartitions: the broker's default (num.partitions=4) applies, as for an auto-created topic
  await createTopicAndWait(admin, 'smoke')
  const meta = await admin.fetchTopicMetadata({ topics: ['smoke'] })
  const partitions = meta.topics[0]?.partitions ?? []
  check(partitions.length === 4 && partitions.every((p) => p.leader === 1), `topic smoke: ${JSON.stringify(meta.topics[0])}`)
  step(`kafka topic smoke created with ${partitions.length} partitions, each led by broker 1`)

  await admin.disconnect()
  await services.restartKafka()
  await admin.connect()
  const again = await admin.describeCluster()
  const kept = (await admin.fetchTopicMetadata({ topics: ['smoke'] })).topics[0]?.partitions ?? []
  check(again.clusterId === cluster.clusterId && kept.length === 4, 'topic kept across restart')
  step(`kafka restarted on the same port, data kept (topic smoke still has ${kept.length} partitions), ` +
    `stop ${kafka.lastStopMs} ms + start ${kafka.lastStartMs} ms`)

  await services.restartRedis({ empty: true })
  const value = await redisClient.get('smoke')
  const size = await redisClient.dbsize()
  check(value === null && size === 0, `redis empty after restart: ${value} ${size}`)
  step(`redis restarted empty on the same port (GET smoke -> ${value}, DBSIZE ${size})`)
} finally {
  await admin.disconnect().catch(() => undefined)
  redisClient.disconnect()
  await services.stop()
}
step('stopped both')
console.log(`smoke passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
