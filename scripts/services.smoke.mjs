#!/usr/bin/env node
// Smoke check of scripts/services.mjs: starts Kafka and Redis, talks to each over a raw socket
// (Redis PING/SET/GET; Kafka ApiVersions + Metadata, creating a topic), restarts both the way the
// fault tests do (Kafka keeping its data, Redis empty), checks again, and stops them. Prints one
// line per step with its time; exits non-zero on the first failure.
import { kafkaApiVersions, kafkaMetadata, redisCommands, startServices, KAFKA_VERSION } from './services.mjs'

const t0 = Date.now()
let last = t0
function step (what) {
  const now = Date.now()
  console.log(`ok  ${what}  (${now - last} ms)`)
  last = now
}
function check (cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`)
}

async function waitForTopic (brokers, topic, partitions) {
  const until = Date.now() + 20_000
  for (;;) {
    const m = await kafkaMetadata(brokers, { topics: [topic], autoCreate: true })
    const t = m.topics.find((x) => x.name === topic)
    if (t && t.errorCode === 0 && t.partitions.length === partitions && t.partitions.every((p) => p.leader === 1)) return m
    if (Date.now() > until) throw new Error(`topic ${topic} not ready: ${JSON.stringify(t)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const services = await startServices({ kafka: true, redis: true, log: (line) => console.log(`    ${line}`) })
try {
  const { kafka, redis } = services
  step(`started Kafka ${KAFKA_VERSION} at ${kafka.brokers} and Redis at ${redis.url}`)

  const replies = await redisCommands(redis.url, [['PING'], ['SET', 'smoke', 'hourglass'], ['GET', 'smoke']])
  check(replies[0] === 'PONG' && replies[1] === 'OK' && replies[2] === 'hourglass', `redis replies ${JSON.stringify(replies)}`)
  step(`redis PING/SET/GET -> ${JSON.stringify(replies)}`)

  const versions = await kafkaApiVersions(kafka.brokers)
  const metadataVersions = versions.find((v) => v.apiKey === 3)
  step(`kafka ApiVersions: ${versions.length} APIs, Metadata v${metadataVersions.min}..v${metadataVersions.max}`)

  const meta = await waitForTopic(kafka.brokers, 'smoke', 4)
  check(meta.brokers.length === 1 && meta.brokers[0].port === kafka.port, 'one broker on our port')
  step(`kafka Metadata v${meta.version}: cluster ${meta.clusterId}, broker ${meta.brokers[0].nodeId}@${meta.brokers[0].host}:${meta.brokers[0].port}, topic smoke auto-created with ${meta.topics[0].partitions.length} partitions`)

  await services.restartKafka()
  const again = await kafkaMetadata(kafka.brokers, { topics: ['smoke'] })
  check(again.clusterId === meta.clusterId && again.topics[0].errorCode === 0 && again.topics[0].partitions.length === 4, 'topic kept across restart')
  step(`kafka restarted on the same port, data kept (topic smoke still has ${again.topics[0].partitions.length} partitions), stop ${kafka.lastStopMs} ms + start ${kafka.lastStartMs} ms`)

  await services.restartRedis({ empty: true })
  const [value, size] = await redisCommands(redis.url, [['GET', 'smoke'], ['DBSIZE']])
  check(value === null && size === 0, `redis empty after restart: ${value} ${size}`)
  step(`redis restarted empty on the same port (GET smoke -> ${value}, DBSIZE ${size})`)
} finally {
  await services.stop()
}
step('stopped both')
console.log(`smoke passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
