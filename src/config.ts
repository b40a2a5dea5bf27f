// The one configuration schema. Read once at start from the environment (HOURGLASS_*) and the
// CLI flags, validated, and passed down; nothing else reads process.env. A bad setting stops the
// process with a message that names the variable.
import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseDuration } from './model/time.js'

export const Config = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  dataDir: Type.String({ minLength: 1, default: './data' }),
  /** synthetic | file:PATH | none */
  source: Type.String({ pattern: '^(synthetic|none|file:.+)$', default: 'synthetic' }),
  store: Type.Union([Type.Literal('memory')], { default: 'memory' }),
  retentionMs: Type.Integer({ minimum: 60_000, default: 3_600_000 }), // one hour
  allowedLatenessMs: Type.Integer({ minimum: 0, default: 60_000 }), // one minute
  dedupWindowMs: Type.Integer({ minimum: 0, default: 300_000 }), // five minutes
  /** synthetic events per second (mean of the diurnal curve), live and seeded history alike */
  syntheticRate: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, default: 5 }),
  duplicateShare: Type.Number({ minimum: 0, maximum: 0.5, default: 0.01 }),
  lateShare: Type.Number({ minimum: 0, maximum: 0.5, default: 0.005 }),
  invalidShare: Type.Number({ minimum: 0, maximum: 0.5, default: 0.005 }),
  seedDays: Type.Integer({ minimum: 0, maximum: 90, default: 7 }),
  batchIntervalMs: Type.Integer({ minimum: 10_000, default: 300_000 }), // five minutes
  bronzeFlushMs: Type.Integer({ minimum: 1_000, default: 60_000 }), // one minute
  maxBuckets: Type.Integer({ minimum: 1, default: 20_000 }),
  maxRangeDays: Type.Integer({ minimum: 1, default: 400 }),
  maxFilterValues: Type.Integer({ minimum: 1, default: 100 }),
  deadLetterKeep: Type.Integer({ minimum: 0, default: 1000 }),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' })
}, { additionalProperties: false })

export type Config = Static<typeof Config>
export type ConfigKey = keyof Config

type Kind = 'int' | 'number' | 'string' | 'duration'
const KINDS: Record<ConfigKey, Kind> = {
  port: 'int',
  host: 'string',
  dataDir: 'string',
  source: 'string',
  store: 'string',
  retentionMs: 'duration',
  allowedLatenessMs: 'duration',
  dedupWindowMs: 'duration',
  syntheticRate: 'number',
  duplicateShare: 'number',
  lateShare: 'number',
  invalidShare: 'number',
  seedDays: 'int',
  batchIntervalMs: 'duration',
  bronzeFlushMs: 'duration',
  maxBuckets: 'int',
  maxRangeDays: 'int',
  maxFilterValues: 'int',
  deadLetterKeep: 'int',
  logLevel: 'string'
}

/** HOURGLASS_PORT for port, HOURGLASS_RETENTION for retentionMs (durations drop the Ms). */
export function envName (key: ConfigKey): string {
  const base = KINDS[key] === 'duration' ? key.replace(/Ms$/, '') : key
  return 'HOURGLASS_' + base.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function convert (key: ConfigKey, raw: string, origin: string): unknown {
  const kind = KINDS[key]
  if (kind === 'string') return raw
  if (kind === 'duration') {
    const ms = parseDuration(raw)
    if (ms === null) throw new ConfigError(`${origin}="${raw}" is not a duration (use e.g. 90s, 5m, 1h)`)
    return ms
  }
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
    throw new ConfigError(`${origin}="${raw}" is not ${kind === 'int' ? 'an integer' : 'a number'}`)
  }
  return n
}

/**
 * Build the configuration: defaults, then HOURGLASS_* variables, then `overrides` (CLI flags, as
 * raw strings keyed by config key). Throws ConfigError naming the variable or flag at fault.
 */
export function loadConfig (env: NodeJS.ProcessEnv = {}, overrides: Partial<Record<ConfigKey, string>> = {}): Config {
  const values: Record<string, unknown> = {}
  const origins: Record<string, string> = {}
  for (const key of Object.keys(KINDS) as ConfigKey[]) {
    const fromEnv = env[envName(key)]
    if (fromEnv !== undefined && fromEnv !== '') {
      values[key] = convert(key, fromEnv, envName(key))
      origins[key] = envName(key)
    }
    const flag = overrides[key]
    if (flag !== undefined) {
      const name = '--' + key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
      values[key] = convert(key, flag, name)
      origins[key] = name
    }
  }
  const config = Value.Default(Config, values)
  const first = Value.Errors(Config, config).First()
  if (first !== undefined) {
    const key = first.path.split('/')[1] as ConfigKey
    const origin = origins[key] ?? (key in KINDS ? envName(key) : key)
    throw new ConfigError(`${origin}: ${first.message} (got ${JSON.stringify(first.value)})`)
  }
  return config as Config
}
