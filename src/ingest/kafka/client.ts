// What the Kafka modules share: the broker list, the kafkajs client, and kafkajs's own log lines
// mapped onto a pino-like logger (object first, then the message).
import { Kafka, logLevel, type LogEntry, type RetryOptions } from 'kafkajs'

/** The part of a pino logger the Kafka modules use. */
export interface KafkaLog {
  error: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

/** What kafkajs itself logs: errors only by default (it is chatty about normal rebalances). */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info'

/** Errors to stderr, as one JSON line each; nothing else. */
export const STDERR_LOG: KafkaLog = {
  error: (obj, msg) => { process.stderr.write(JSON.stringify({ level: 'error', msg, ...obj }) + '\n') },
  warn: () => undefined,
  info: () => undefined
}

export interface KafkaClientOptions {
  /** host:port list, or one comma-separated string */
  brokers: string | readonly string[]
  clientId?: string // 'hourglass'
  log?: KafkaLog // errors to stderr
  logLevel?: KafkaLogLevel // 'error'
  retry?: RetryOptions
}

/** '127.0.0.1:9092, other:9092' → ['127.0.0.1:9092', 'other:9092'] */
export function parseBrokers (brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter((b) => b !== '')
  if (list.length === 0) throw new Error('kafka: no brokers given')
  return list
}

const LEVELS: Record<KafkaLogLevel, logLevel> = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO }

export function createKafka (options: KafkaClientOptions): Kafka {
  const log = options.log ?? STDERR_LOG
  return new Kafka({
    clientId: options.clientId ?? 'hourglass',
    brokers: parseBrokers(options.brokers),
    logLevel: LEVELS[options.logLevel ?? 'error'],
    logCreator: () => ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as LogEntry['log'] & { logger?: unknown }
      const obj = { component: 'kafkajs', namespace, ...rest }
      if (level === logLevel.ERROR) log.error(obj, message)
      else if (level === logLevel.WARN) log.warn(obj, message)
      else log.info(obj, message)
    },
    ...(options.retry === undefined ? {} : { retry: options.retry })
  })
}
