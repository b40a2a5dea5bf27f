// Command-line parsing for the `hourglass` CLI: commands, their flags and --help texts. Pure.
import { parseArgs } from 'node:util'
import type { ConfigKey } from './config.js'

export type Command = 'serve' | 'batch' | 'seed' | 'produce' | 'compact' | 'vacuum' | 'help' | 'version'

/** Options of one command that are not settings (they go to ParsedArgs.options, not the config). */
export type LocalOption = 'force' | 'topic' | 'rate' | 'count' | 'duration' | 'file' | 'hour' | 'all' | 'dryRun'

interface FlagSpec { key: ConfigKey | LocalOption, local?: true, type: 'string' | 'boolean', help: string }

const COMMON: Record<string, FlagSpec> = {
  data: { key: 'dataDir', type: 'string', help: 'data folder holding bronze/ and gold/ (HOURGLASS_DATA_DIR, default ./data)' },
  'log-level': { key: 'logLevel', type: 'string', help: 'fatal|error|warn|info|debug|trace|silent (HOURGLASS_LOG_LEVEL, default info)' }
}

const FLAGS: Record<Exclude<Command, 'help' | 'version'>, Record<string, FlagSpec>> = {
  serve: {
    port: { key: 'port', type: 'string', help: 'TCP port (HOURGLASS_PORT, default 3000; 0 picks a free one)' },
    host: { key: 'host', type: 'string', help: 'interface to listen on (HOURGLASS_HOST, default 127.0.0.1)' },
    source: { key: 'source', type: 'string', help: 'synthetic | kafka | file:PATH (JSON Lines) | none (HOURGLASS_SOURCE, default synthetic)' },
    store: { key: 'store', type: 'string', help: 'speed store: memory | redis | cosmos (HOURGLASS_STORE, default memory; cosmos reads HOURGLASS_COSMOS_ENDPOINT, _KEY, _DATABASE, _CONTAINER)' },
    brokers: { key: 'kafkaBrokers', type: 'string', help: 'Kafka brokers, host:port,… (HOURGLASS_KAFKA_BROKERS, default 127.0.0.1:9092)' },
    topics: { key: 'kafkaTopics', type: 'string', help: 'topics to consume, comma-separated (HOURGLASS_KAFKA_TOPICS, default events)' },
    group: { key: 'kafkaGroup', type: 'string', help: 'Kafka consumer group (HOURGLASS_KAFKA_GROUP, default hourglass-speed)' },
    'redis-url': { key: 'redisUrl', type: 'string', help: 'Redis for --store redis (HOURGLASS_REDIS_URL, default redis://127.0.0.1:6379)' },
    rate: { key: 'syntheticRate', type: 'string', help: 'synthetic events per second, mean of the daily curve (HOURGLASS_SYNTHETIC_RATE, default 5)' },
    'seed-days': { key: 'seedDays', type: 'string', help: 'days of history to seed into an empty data folder (HOURGLASS_SEED_DAYS, default 7; 0: none)' },
    retention: { key: 'retentionMs', type: 'string', help: 'what the speed layer keeps (HOURGLASS_RETENTION, default 1h)' },
    'batch-interval': { key: 'batchIntervalMs', type: 'string', help: 'how often the batch job runs inside serve (HOURGLASS_BATCH_INTERVAL, default 5m)' },
    'compact-interval': { key: 'compactIntervalMs', type: 'string', help: 'how often serve compacts bronze (HOURGLASS_COMPACT_INTERVAL, default 1h; 0: never)' },
    'vacuum-interval': { key: 'vacuumIntervalMs', type: 'string', help: 'how often serve vacuums, keeping HOURGLASS_BRONZE_RETENTION of bronze (HOURGLASS_VACUUM_INTERVAL, default 24h; 0: never)' },
    ...COMMON
  },
  batch: { ...COMMON },
  seed: {
    days: { key: 'seedDays', type: 'string', help: 'days of history ending now (HOURGLASS_SEED_DAYS, default 7)' },
    rate: { key: 'syntheticRate', type: 'string', help: 'events per second, mean of the daily curve (HOURGLASS_SYNTHETIC_RATE, default 5)' },
    force: { key: 'force', local: true, type: 'boolean', help: 'add history even when bronze already holds data' },
    ...COMMON
  },
  produce: {
    brokers: { key: 'kafkaBrokers', type: 'string', help: 'Kafka brokers, host:port,… (HOURGLASS_KAFKA_BROKERS, default 127.0.0.1:9092)' },
    topic: { key: 'topic', local: true, type: 'string', help: 'topic to write to (default: the first of HOURGLASS_KAFKA_TOPICS, events)' },
    rate: { key: 'rate', local: true, type: 'string', help: 'records per second (default 1000 synthetic; a file: as fast as possible)' },
    count: { key: 'count', local: true, type: 'string', help: 'stop after this many records' },
    duration: { key: 'duration', local: true, type: 'string', help: 'stop after this long, e.g. 30s, 5m (default: until Ctrl-C, or the end of --file)' },
    file: { key: 'file', local: true, type: 'string', help: 'send the lines of this JSON Lines file instead of synthetic events' },
    'log-level': COMMON['log-level'] as FlagSpec
  },
  compact: {
    hour: { key: 'hour', local: true, type: 'string', help: 'compact this hour only (ISO-8601, e.g. 2026-01-05T13:00:00Z)' },
    all: { key: 'all', local: true, type: 'boolean', help: 'compact every hour, also those bronze may still receive' },
    ...COMMON
  },
  vacuum: {
    retain: { key: 'bronzeRetentionMs', type: 'string', help: 'keep this much bronze, e.g. 168h (HOURGLASS_BRONZE_RETENTION, default 168h)' },
    'keep-versions': { key: 'goldKeepVersions', type: 'string', help: 'keep gold files the last N manifests list (HOURGLASS_GOLD_KEEP_VERSIONS, default 10)' },
    'dry-run': { key: 'dryRun', local: true, type: 'boolean', help: 'say what would be removed, remove nothing' },
    ...COMMON
  }
}

const SUMMARY: Record<Exclude<Command, 'help' | 'version'>, string> = {
  serve: 'run the service: speed layer, scheduled batch job and the APIs (REST, /docs, /metrics)',
  batch: 'build gold for every complete hour not yet built, then publish a new manifest',
  seed: 'write synthetic history to bronze and build gold from it (the same bronze → batch path)',
  produce: 'write synthetic events (or a JSON Lines file) to a Kafka topic at a rate, keyed by event_id',
  compact: 'merge the small bronze files of each finished hour into one sorted file (safe while the batch runs)',
  vacuum: 'remove bronze past its retention and gold files no recent manifest lists'
}

export interface ParsedArgs {
  command: Command
  overrides: Partial<Record<ConfigKey, string>>
  /** the flag each override came from (`{ dataDir: '--data' }`), for messages */
  flags: Partial<Record<ConfigKey, string>>
  force: boolean
  /** the command's own options (not settings), as typed */
  options: Partial<Record<Exclude<LocalOption, 'force'>, string>>
  help: boolean
}

export class UsageError extends Error {
  override name = 'UsageError'
}

export function usage (command?: Command): string {
  if (command === undefined || command === 'help' || command === 'version') {
    return [
      'Usage: hourglass <command> [options]',
      '',
      'Commands:',
      ...Object.entries(SUMMARY).map(([c, s]) => `  ${c.padEnd(7)} ${s}`),
      '',
      'Run `hourglass <command> --help` for its options. Every option can also be set with the',
      'HOURGLASS_* environment variable named beside it; a flag wins over the variable.',
      'With no command, `serve` runs.'
    ].join('\n')
  }
  const flags = FLAGS[command]
  return [
    `Usage: hourglass ${command} [options]`,
    '',
    SUMMARY[command],
    '',
    'Options:',
    ...Object.entries(flags).map(([name, f]) => `  --${(name + (f.type === 'string' ? ' <value>' : '')).padEnd(24)} ${f.help}`),
    `  --${'help'.padEnd(24)} show this text`
  ].join('\n')
}

export function parseCli (argv: string[]): ParsedArgs {
  let command: Command = 'serve'
  let rest = argv
  const first = argv[0]
  if (first !== undefined && !first.startsWith('-')) {
    if (first === 'help') return { command: 'help', overrides: {}, flags: {}, force: false, options: {}, help: true }
    if (!(first in FLAGS)) throw new UsageError(`Unknown command "${first}".\n\n${usage()}`)
    command = first as Command
    rest = argv.slice(1)
  } else if (first === '--help' || first === '-h') {
    return { command: 'help', overrides: {}, flags: {}, force: false, options: {}, help: true }
  } else if (first === '--version' || first === '-v') {
    return { command: 'version', overrides: {}, flags: {}, force: false, options: {}, help: false }
  }
  const specs = FLAGS[command as keyof typeof FLAGS]
  const options: Record<string, { type: 'string' | 'boolean', short?: string }> = { help: { type: 'boolean', short: 'h' } }
  for (const [name, f] of Object.entries(specs)) options[name] = { type: f.type }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: rest, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage(command)}`)
  }
  const overrides: Partial<Record<ConfigKey, string>> = {}
  const flags: Partial<Record<ConfigKey, string>> = {}
  const local: ParsedArgs['options'] = {}
  let force = false
  for (const [name, f] of Object.entries(specs)) {
    const v = values[name]
    if (v === undefined) continue
    if (f.key === 'force') {
      force = v === true
    } else if (f.local === true) {
      local[f.key as keyof ParsedArgs['options']] = String(v)
    } else {
      overrides[f.key as ConfigKey] = String(v)
      flags[f.key as ConfigKey] = '--' + name
    }
  }
  return { command, overrides, flags, force, options: local, help: values.help === true }
}
