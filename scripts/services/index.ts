// Real services for tests, benchmarks and users, on loopback ports, fetched only from package
// registries: a single-node Apache Kafka (KRaft) from Maven Central, Redis from Debian, the
// Cosmos DB API server from npm, and a schema registry built from Maven Central. The files, by job:
//
//   common.ts    paths under .cache/, logging, the cross-process lock (src/batch/lock.ts)
//   install.ts   apt-get (Java, Maven, redis-server) and Kafka's jars (mvn)
//   process.ts   spawn, wait until ready, stop (bounded, then SIGKILL), no orphans
//   run-dirs.ts  run folders and the CLI's records of what runs
//   service.ts   what both services share (start/stop/kill/restart/close)
//   kafka.ts, redis.ts, cosmos.ts (+ cosmos-child.mjs)   the services; redis-cluster.ts  3 Redis nodes as one cluster
//   registry.ts  the schema registry (Apicurio, Confluent API); registry-build.ts  its jar (mvn, scripts/registry/)
//   cli.ts       `npm run services`, `services:fetch`;  smoke.ts  `npm run services:smoke`
//   python.ts    a venv of pinned PyPI packages for tests (delta-rs)
//   chromium.ts  Debian's chromium for the browser tests (test/helpers/browser.ts)
import type { Log } from './common.js'
import { type KafkaOptions, type KafkaService, startKafka } from './kafka.js'
import { type RedisOptions, type RedisService, startRedis } from './redis.js'

export { type Log } from './common.js'
export { aptInstall, ensureRedis, ensureRedisCli, fetchKafka, KAFKA_VERSION } from './install.js'
export { freePort, which } from './process.js'
export { pruneRunDirs } from './run-dirs.js'
export { describeKafka, type KafkaOptions, KafkaService, startKafka } from './kafka.js'
export { type RedisOptions, RedisService, startRedis } from './redis.js'
export { type RedisClusterOptions, RedisClusterService, startRedisCluster } from './redis-cluster.js'
export { type CosmosServer, startCosmosServer } from './cosmos.js'
export { CCOMPAT_PATH, type RegistryOptions, RegistryService, startRegistry } from './registry.js'
export { buildRegistry, REGISTRY_VERSION } from './registry-build.js'
export { DELTA_RS_REQUIREMENTS, ensurePythonVenv, type PythonVenv } from './python.js'
export { ensureChromium } from './chromium.js'

export interface Services {
  kafka: KafkaService | null
  redis: RedisService | null
  /** Same port; keeps the broker's data unless `fresh: true`. */
  restartKafka (opts?: { fresh?: boolean }): Promise<void>
  /** Same port, empty. */
  restartRedis (opts?: { empty?: boolean }): Promise<void>
  /** Stop both and remove their run folders. */
  stop (): Promise<void>
}

export interface ServicesOptions {
  kafka?: boolean
  redis?: boolean
  /** a function taking one line, or false for silence (default: stderr with a prefix) */
  log?: Log
  kafkaOptions?: KafkaOptions
  redisOptions?: RedisOptions
}

/**
 * Start the services a test file or benchmark needs (in parallel), each on a free loopback port.
 *
 *   const services = await startServices({ kafka: true, redis: true, log })
 *   services.kafka.brokers          '127.0.0.1:PORT'
 *   services.redis.url              'redis://127.0.0.1:PORT'
 *   await services.restartKafka()   same port, same data; ({ fresh: true }): empty broker
 *   await services.restartRedis({ empty: true })   same port, empty Redis
 *   await services.stop()           stop everything and remove the run folders
 */
export async function startServices ({ kafka = true, redis = true, log, kafkaOptions = {}, redisOptions = {} }: ServicesOptions = {}): Promise<Services> {
  const started: { kafka?: KafkaService, redis?: RedisService } = {}
  const results = await Promise.allSettled([
    kafka ? startKafka({ log, ...kafkaOptions }).then((s) => { started.kafka = s }) : null,
    redis ? startRedis({ log, ...redisOptions }).then((s) => { started.redis = s }) : null
  ])
  const stop = async (): Promise<void> => {
    await Promise.all([started.kafka?.close(), started.redis?.close()])
  }
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) {
    await stop()
    throw failed.reason
  }
  return {
    kafka: started.kafka ?? null,
    redis: started.redis ?? null,
    async restartKafka (opts) {
      if (!started.kafka) throw new Error('Kafka was not started')
      await started.kafka.restart(opts)
    },
    async restartRedis (opts) {
      if (!started.redis) throw new Error('Redis was not started')
      await started.redis.restart(opts)
    },
    stop
  }
}
