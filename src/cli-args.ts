// Command-line parsing for the `hourglass` CLI: commands, their flags and --help texts. Pure.
import { parseArgs } from 'node:util'
import { type ConfigKey, defaultText, envName } from './config.js'

/** `hourglass produce` without --rate: synthetic records per second */
export const PRODUCE_RATE = 1000

export type Command = 'serve' | 'batch' | 'seed' | 'produce' | 'compact' | 'vacuum' | 'migrate' | 'keys' | 'help' | 'version'

/** Options of one command that are not settings (they go to ParsedArgs.options, not the config). */
export type LocalOption = 'force' | 'topic' | 'rate' | 'count' | 'duration' | 'file' | 'format' | 'hour' | 'all' | 'dryRun' | 'name' | 'scopes' | 'expires'

interface FlagSpec { key: ConfigKey | LocalOption, local?: true, type: 'string' | 'boolean', help: string }

/** A flag that sets a setting; its help names the variable and the schema's default (then `more`). */
const setting = (key: ConfigKey, help: string, more?: string): FlagSpec =>
  ({ key, type: 'string', help: `${help} (${envName(key)}, default ${defaultText(key)}${more === undefined ? '' : '; ' + more})` })
/** A command's own option, not a setting. */
const own = (key: LocalOption, type: FlagSpec['type'], help: string): FlagSpec => ({ key, local: true, type, help })

const COMMON: Record<string, FlagSpec> = {
  data: setting('dataDir', 'data folder holding bronze/ and gold/'),
  'log-level': setting('logLevel', 'fatal|error|warn|info|debug|trace|silent')
}

const FLAGS: Record<Exclude<Command, 'help' | 'version'>, Record<string, FlagSpec>> = {
  serve: {
    port: setting('port', 'TCP port', '0 picks a free one'),
    host: setting('host', 'interface to listen on'),
    source: setting('source', 'synthetic | kafka | file:PATH (JSON Lines) | none'),
    store: setting('store', 'speed store: memory | redis | cosmos', 'cosmos reads HOURGLASS_COSMOS_ENDPOINT, _KEY, _DATABASE, _CONTAINER'),
    brokers: setting('kafkaBrokers', 'Kafka brokers, host:port,…'),
    topics: setting('kafkaTopics', 'topics to consume, comma-separated'),
    group: setting('kafkaGroup', 'Kafka consumer group'),
    'redis-url': setting('redisUrl', 'Redis for --store redis'),
    rate: setting('syntheticRate', 'synthetic events per second, mean of the daily curve'),
    'seed-days': setting('seedDays', 'days of history to seed into an empty data folder', '0: none'),
    retention: setting('retentionMs', 'what the speed layer keeps'),
    gold: setting('gold', 'own | delta:PATH (an hourly gold Delta table another engine writes; no batch job runs)'),
    'gold-daily': setting('goldDaily', 'delta:PATH, a daily gold Delta table read with --gold delta:…'),
    'batch-interval': setting('batchIntervalMs', 'how often the batch job runs inside serve'),
    'compact-interval': setting('compactIntervalMs', 'how often serve compacts bronze', '0: never'),
    'vacuum-interval': setting('vacuumIntervalMs', `how often serve vacuums, keeping ${envName('bronzeRetentionMs')} of bronze`, '0: never'),
    ...COMMON
  },
  batch: { ...COMMON },
  seed: {
    days: setting('seedDays', 'days of history ending now'),
    rate: setting('syntheticRate', 'events per second, mean of the daily curve'),
    force: own('force', 'boolean', 'add history even when bronze already holds data'),
    ...COMMON
  },
  produce: {
    brokers: setting('kafkaBrokers', 'Kafka brokers, host:port,…'),
    topic: own('topic', 'string', `topic to write to (default: the first of ${envName('kafkaTopics')}, ${defaultText('kafkaTopics')})`),
    rate: own('rate', 'string', `records per second (default ${PRODUCE_RATE} synthetic; a file: as fast as possible)`),
    count: own('count', 'string', 'stop after this many records'),
    duration: own('duration', 'string', 'stop after this long, e.g. 30s, 5m (default: until Ctrl-C, or the end of --file)'),
    file: own('file', 'string', 'send the lines of this JSON Lines file instead of synthetic events'),
    format: own('format', 'string', `json (default) or avro: Confluent-framed Avro, the schema registered at ${envName('schemaRegistryUrl')}`),
    'log-level': COMMON['log-level'] as FlagSpec
  },
  compact: {
    hour: own('hour', 'string', 'compact this bronze hour only, and no gold (ISO-8601, e.g. 2026-01-05T13:00:00Z)'),
    all: own('all', 'boolean', 'compact every hour, also those bronze may still receive'),
    ...COMMON
  },
  vacuum: {
    retain: setting('bronzeRetentionMs', 'keep this much bronze, e.g. 168h'),
    'gold-retain': setting('goldRetentionMs', 'keep gold files removed from the Delta tables this long', 'a table\'s delta.deletedFileRetentionDuration wins'),
    'dry-run': own('dryRun', 'boolean', 'say what would be removed, remove nothing'),
    ...COMMON
  },
  migrate: { ...COMMON },
  keys: {
    'keys-file': setting('apiKeysFile', 'the API keys file'),
    name: own('name', 'string', 'add: the key\'s name (who uses it, e.g. powerbi)'),
    scopes: own('scopes', 'string', 'add: metrics:read and/or ops:read, comma-separated (default metrics:read)'),
    expires: own('expires', 'string', 'add: when the key stops working: a duration from now (90d, 12h) or an ISO instant (default never)')
  }
}

const SUMMARY: Record<Exclude<Command, 'help' | 'version'>, string> = {
  serve: 'run the service: speed layer, scheduled batch job and the APIs (REST, /docs, /metrics)',
  batch: 'build gold for every complete hour not yet built, then publish it as one commit of the gold Delta tables',
  seed: 'write synthetic history to bronze and build gold from it (the same bronze → batch path)',
  produce: 'write synthetic events (or a JSON Lines file) to a Kafka topic at a rate, keyed by event_id',
  compact: 'merge the small files of each finished bronze hour, then of each final date of gold, into one sorted file each (safe while the batch runs)',
  vacuum: 'remove bronze past its retention and gold files the Delta tables removed longer ago than the retention',
  migrate: 'turn gold published by gold/_manifest.json (older versions) into the gold Delta tables; once, idempotent',
  keys: 'manage API keys: `keys add --name N [--scopes] [--expires]`, `keys list`, `keys revoke <id|name>`'
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
  /** words after the command (`keys add`: ['add']) */
  positionals: string[]
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
    if (first === 'help') return { command: 'help', overrides: {}, flags: {}, force: false, options: {}, help: true, positionals: [] }
    if (!(first in FLAGS)) throw new UsageError(`Unknown command "${first}".\n\n${usage()}`)
    command = first as Command
    rest = argv.slice(1)
  } else if (first === '--help' || first === '-h') {
    return { command: 'help', overrides: {}, flags: {}, force: false, options: {}, help: true, positionals: [] }
  } else if (first === '--version' || first === '-v') {
    return { command: 'version', overrides: {}, flags: {}, force: false, options: {}, help: false, positionals: [] }
  }
  const specs = FLAGS[command as keyof typeof FLAGS]
  const options: Record<string, { type: 'string' | 'boolean', short?: string }> = { help: { type: 'boolean', short: 'h' } }
  for (const [name, f] of Object.entries(specs)) options[name] = { type: f.type }
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    const parsed = parseArgs({ args: rest, options, allowPositionals: command === 'keys', strict: true })
    values = parsed.values as Record<string, string | boolean | undefined>
    positionals = parsed.positionals
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
  return { command, overrides, flags, force, options: local, help: values.help === true, positionals }
}
