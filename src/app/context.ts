// What every part of the app is given: the settings, the data folder and DuckDB, the clock, where
// to log and to print progress lines, and where to say what start-up is doing and which Kafka
// consumer group has lost its brokers (both show on /readyz and /metrics).
import type { Logger } from 'pino'
import type { Db } from '../batch/index.js'
import type { Config } from '../config.js'
import type { KafkaLogLevel } from '../ingest/kafka/index.js'

export interface AppContext {
  config: Config
  /** config.dataDir, resolved */
  dataDir: string
  db: Db
  now: () => number
  log: Logger
  progress: (line: string) => void
  /** start-up moves on to this stage ("seeding history", …); throws when a stop was asked for meanwhile */
  stage: (what: string) => void
  /** a Kafka consumer group reaches no broker since `since` (epoch ms), or does again (null) */
  kafkaOutage: (group: string, since: number | null) => void
  /** a readiness problem about `about` since `since`, or over (null) */
  problem?: (about: string, text: string | null, since?: number) => void
}

/** What kafkajs logs: errors only, unless the app's own level asks for detail. */
export function kafkaLogLevel (level: Config['logLevel']): KafkaLogLevel {
  return level === 'silent' || level === 'fatal' ? 'nothing' : level === 'debug' || level === 'trace' ? 'info' : 'error'
}
