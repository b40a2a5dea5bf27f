// Types for scripts/services.mjs, so that TypeScript tests and benchmarks can import it:
//   import { startServices } from '../scripts/services.mjs'

export type Log = ((line: string) => void) | false | undefined

/** The Kafka version pinned in scripts/kafka/pom.xml. */
export const KAFKA_VERSION: string

interface ServiceBase {
  readonly kind: 'kafka' | 'redis'
  readonly port: number
  /** pid of the running process, or null while stopped. */
  readonly pid: number | null
  readonly running: boolean
  /** .cache/services/run/<kind>-*: data and logs of this service (null after close()). */
  readonly runDir: string | null
  readonly logFile: string | null
  /** How long the last start() / stop() took, ms. */
  readonly lastStartMs: number | null
  readonly lastStopMs: number | null
  /** Stop cleanly (SIGTERM or SHUTDOWN NOSAVE; SIGKILL after a bounded wait). Keeps the run folder. */
  stop (): Promise<void>
  /** SIGKILL, for crash tests. start() brings it back on the same port. */
  kill (): Promise<void>
  /** stop() and remove the run folder: the end of this object. */
  close (): Promise<void>
}

export interface KafkaService extends ServiceBase {
  readonly kind: 'kafka'
  /** '127.0.0.1:PORT' */
  readonly brokers: string
  readonly url: string
  readonly controllerPort: number
  /** Start again on the same ports; keeps the data unless `fresh: true`. */
  start (opts?: { fresh?: boolean }): Promise<KafkaService>
  /** stop() + start(opts): by default the broker comes back with its data (topics, offsets). */
  restart (opts?: { fresh?: boolean }): Promise<void>
}

export interface RedisService extends ServiceBase {
  readonly kind: 'redis'
  /** 'redis://127.0.0.1:PORT' */
  readonly url: string
  /** Start again on the same port; Redis runs without persistence, so always empty. */
  start (): Promise<RedisService>
  /** stop() + start(): always empty (`empty: false` throws). */
  restart (opts?: { empty?: boolean }): Promise<void>
}

export interface KafkaOptions {
  log?: Log
  /** Broker port (default: a free one). */
  port?: number
  controllerPort?: number
  /** JVM -Xmx, default '512m' (or SERVICES_KAFKA_HEAP). */
  heap?: string
  /** Default partitions of auto-created topics, default 4. */
  numPartitions?: number
  /** Extra server.properties entries. */
  properties?: Record<string, string | number | boolean>
  startTimeoutMs?: number
  stopTimeoutMs?: number
}

export interface RedisOptions {
  log?: Log
  port?: number
  startTimeoutMs?: number
  stopTimeoutMs?: number
}

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

export function startServices (opts?: {
  kafka?: boolean
  redis?: boolean
  log?: Log
  kafkaOptions?: KafkaOptions
  redisOptions?: RedisOptions
}): Promise<Services>

export function startKafka (opts?: KafkaOptions): Promise<KafkaService>
export function startRedis (opts?: RedisOptions): Promise<RedisService>
export function fetchKafka (opts?: { log?: Log, force?: boolean }): Promise<{ lib: string, version: string, fetched: boolean, ms: number }>
export function ensureRedis (opts?: { log?: Log }): Promise<string>
export function freePort (): Promise<number>
export function which (cmd: string): string | null
export function aptInstall (packages: string[], log?: Log): Promise<void>
export function pruneRunDirs (): void

export interface KafkaMetadata {
  version: number
  clusterId: string | null
  controllerId: number
  brokers: Array<{ nodeId: number, host: string, port: number, rack: string | null }>
  topics: Array<{
    errorCode: number
    name: string
    internal: boolean
    partitions: Array<{ errorCode: number, partition: number, leader: number, replicas: number[], isr: number[] }>
  }>
}
export function kafkaApiVersions (brokers: string, opts?: { timeoutMs?: number }): Promise<Array<{ apiKey: number, min: number, max: number }>>
export function kafkaMetadata (brokers: string, opts?: { topics?: string[] | null, autoCreate?: boolean, timeoutMs?: number }): Promise<KafkaMetadata>
export function redisCommands (url: string, commands: Array<Array<string | number>>, opts?: { timeoutMs?: number, expectClose?: boolean }): Promise<Array<string | number | null | Error | unknown[]>>
