// What every part of the app is given: the settings, the data folder and DuckDB, the clock, and
// where to log and to print progress lines.
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
}

/** What kafkajs logs: errors only, unless the app's own level asks for detail. */
export function kafkaLogLevel (level: Config['logLevel']): KafkaLogLevel {
  return level === 'silent' || level === 'fatal' ? 'nothing' : level === 'debug' || level === 'trace' ? 'info' : 'error'
}
