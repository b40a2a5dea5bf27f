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
  /** synthetic | kafka | file:PATH | none */
  source: Type.String({ pattern: '^(synthetic|kafka|none|file:.+)$', default: 'synthetic' }),
  store: Type.Union([Type.Literal('memory'), Type.Literal('redis'), Type.Literal('cosmos')], { default: 'memory' }),
  /** host:port, comma-separated */
  kafkaBrokers: Type.String({ pattern: '^\\s*[^\\s,]+(\\s*,\\s*[^\\s,]+)*\\s*$', default: '127.0.0.1:9092' }),
  kafkaTopics: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' }), { minItems: 1, default: ['events'] }),
  kafkaGroup: Type.String({ minLength: 1, default: 'hourglass-speed' }),
  /** the bronze sink's own consumer group (--source kafka) */
  kafkaBronzeGroup: Type.String({ minLength: 1, default: 'hourglass-bronze' }),
  dlqTopic: Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$', default: 'events.dlq' }),
  /** the record value format: json | avro | auto for every topic, and/or TOPIC=FORMAT for one */
  kafkaFormat: Type.Array(Type.String({ pattern: '^([A-Za-z0-9._-]{1,249}=)?(json|avro|auto)$' }), { minItems: 1, default: ['json'] }),
  /** a Confluent-compatible schema registry's API (needed by a topic in avro or auto) */
  schemaRegistryUrl: Type.String({ pattern: '^(|https?://\\S+)$', default: '' }),
  /** its basic-auth user and password: from the environment only, the password never logged */
  schemaRegistryUser: Type.String({ default: '' }),
  schemaRegistryPassword: Type.String({ default: '' }),
  /** one URL, or with redisMode cluster the seed nodes, comma-separated */
  redisUrl: Type.String({ pattern: '^\\s*rediss?://[^\\s,]+(\\s*,\\s*rediss?://[^\\s,]+)*\\s*$', default: 'redis://127.0.0.1:6379' }),
  /** standalone: one Redis server; cluster: a Redis Cluster (ioredis Cluster), all keys in the slot of their hash tag */
  redisMode: Type.Union([Type.Literal('standalone'), Type.Literal('cluster')], { default: 'standalone' }),
  /** a Redis command not answered in this long fails: reads report the store unreachable, a batch waits and is applied again */
  redisTimeoutMs: Type.Integer({ minimum: 100, default: 5_000 }),
  /** the hash tag of every Redis key: `{hg}:…` */
  redisPrefix: Type.String({ pattern: '^[^{}\\s]+$', default: 'hg' }),
  /** Azure Cosmos DB for --store cosmos (the Cosmos DB emulator's address by default) */
  cosmosEndpoint: Type.String({ pattern: '^https?://.+', default: 'https://127.0.0.1:8081/' }),
  /** the account key: from the environment only (HOURGLASS_COSMOS_KEY), never a flag, never logged */
  cosmosKey: Type.String({ default: '' }),
  cosmosDatabase: Type.String({ minLength: 1, default: 'hourglass' }),
  cosmosContainer: Type.String({ minLength: 1, default: 'speed' }),
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
  /** … or as soon as this many events are buffered (with Kafka, the bronze consumer waits for that flush) */
  bronzeFlushEvents: Type.Integer({ minimum: 1, default: 50_000 }),
  /**
   * `hourglass vacuum`: bronze older than this goes (only dates gold has built and not changed since);
   * the bronze consumer starts a partition new to bronze this far back
   */
  bronzeRetentionMs: Type.Integer({ minimum: 3_600_000, default: 604_800_000 }), // seven days
  /** `hourglass vacuum`: a gold file removed from its Delta table stays this long (unless the table sets delta.deletedFileRetentionDuration) */
  goldRetentionMs: Type.Integer({ minimum: 0, default: 604_800_000 }), // seven days, as Delta
  /** `serve`: bronze compaction every this long (0: never; `hourglass compact` still works) */
  compactIntervalMs: Type.Union([Type.Literal(0), Type.Integer({ minimum: 1_000 })], { default: 3_600_000 }), // hourly
  /** our gold Delta tables: a checkpoint every this many commits, unless the table sets delta.checkpointInterval */
  deltaCheckpointInterval: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  /** `serve`: vacuum (bronzeRetentionMs, goldRetentionMs) every this long (0: never) */
  vacuumIntervalMs: Type.Union([Type.Literal(0), Type.Integer({ minimum: 1_000 })], { default: 86_400_000 }), // daily
  /** `serve`: how often the bronze sink checks whether a flush is due (at most bronzeFlushMs) */
  bronzeFlushCheckMs: Type.Integer({ minimum: 100, default: 5_000 }),
  /**
   * `--source kafka`: how long a bronze batch waits for the speed path's validations of its records when the speed
   * consumer is just behind it (0: the bronze consumer parses every record itself)
   */
  bronzeShareWaitMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1_000 }),
  /** gold to serve: `own` (the batch job's, built from bronze) or `delta:PATH`, an hourly gold Delta table another engine writes (no batch job runs) */
  gold: Type.String({ pattern: '^(own|delta:.+)$', default: 'own' }),
  /** with `--gold delta:…`: a daily gold Delta table (`delta:PATH`) whole days are read from; '' none */
  goldDaily: Type.String({ pattern: '^(|delta:.+)$', default: '' }),
  /** `serve`: how often the gold reader looks for a gold version another process published (a new Delta commit) */
  goldPollMs: Type.Integer({ minimum: 100, default: 2_000 }),
  /** `serve`: the batch job also runs this long after each hour becomes complete (hour end + allowed lateness) */
  batchHourDelayMs: Type.Integer({ minimum: 0, default: 5_000 }),
  /** `serve`: speed against batch every this long (also at start and after each published batch run) */
  reconcileIntervalMs: Type.Integer({ minimum: 1_000, default: 15_000 }),
  /** `serve`: anomaly detection on closed minute windows (on | off) */
  anomalyDetection: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  /** the robust z-score beyond which a closed minute is an anomaly */
  anomalySensitivity: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 6 }),
  /** fewest events a minute a group must be expected to see before it may alert */
  anomalyMinVolume: Type.Number({ minimum: 0, default: 5 }),
  /** recent closed minutes whose residuals give a group's level and spread */
  anomalyHistoryMinutes: Type.Integer({ minimum: 10, maximum: 1_440, default: 60 }),
  /** whole previous days of hourly gold the seasonal baseline is the median of */
  anomalyBaselineDays: Type.Integer({ minimum: 1, maximum: 28, default: 7 }),
  /** how often `serve` judges the minutes closed since the last time */
  anomalyIntervalMs: Type.Integer({ minimum: 100, default: 10_000 }),
  /** detected anomalies kept in memory for the APIs, the oldest out first */
  anomalyKeep: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
  /**
   * `serve`: the data folder's leader (bronze feed, batch, compaction, vacuum) is replaced when its lock was not touched
   * this long (at once when its pid is dead on this host); followers try every quarter of it
   */
  leaderTimeoutMs: Type.Integer({ minimum: 1_000, default: 30_000 }),
  /** `serve`: how long each part may take to close at shutdown before the next one closes all the same */
  closeTimeoutMs: Type.Integer({ minimum: 1_000, default: 30_000 }),
  /** browser origins allowed to call the API (CORS), e.g. https://dash.example.com; `*` for any; none by default */
  corsOrigins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^\\s/]+)$' }), { default: [] }),
  /** PEM certificate chain and private key files: with both, the server speaks HTTPS itself */
  tlsCert: Type.String({ default: '' }),
  tlsKey: Type.String({ default: '' }),
  maxBuckets: Type.Integer({ minimum: 1, default: 20_000 }),
  maxRangeDays: Type.Integer({ minimum: 1, default: 400 }),
  maxFilterValues: Type.Integer({ minimum: 1, default: 100 }),
  /** the most the cached batch parts of answers may hold (estimated), bytes; 0: cache none */
  batchCacheBytes: Type.Integer({ minimum: 0, default: 268_435_456 }), // 256 MiB
  /** longest POST /graphql body, bytes */
  graphqlBodyLimit: Type.Integer({ minimum: 1024, default: 32_768 }),
  /** largest GraphQL answer, bytes (estimated from the cost, then from rows × fields as they are read); 4 MiB serialise in about 100 ms */
  graphqlMaxResponseBytes: Type.Integer({ minimum: 65_536, default: 4_194_304 }),
  /** longest time one GraphQL request may spend reading */
  graphqlTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
  /** 503 HG_ERR_OVERLOADED while the mean event-loop delay is above this (0: never) */
  maxEventLoopDelayMs: Type.Union([Type.Literal(0), Type.Integer({ minimum: 10 })], { default: 1_000 }),
  /** … or while the used heap is above this share of V8's heap limit (0: never) */
  maxHeapShare: Type.Number({ minimum: 0, maximum: 1, default: 0.9 }),
  deadLetterKeep: Type.Integer({ minimum: 0, default: 1000 }),
  /** a record larger than this (bytes) is invalid (too_large), not parsed */
  maxRecordBytes: Type.Integer({ minimum: 256, default: 1_048_576 }),
  /** threads that parse and validate records for the speed pipeline; 0 = in the main thread */
  decodeWorkers: Type.Integer({ minimum: 0, maximum: 64, default: 0 }),
  /** heap limit of each decode thread (MB): a record whose decoding needs more kills only that thread (decode_failed) */
  decodeWorkerHeapMb: Type.Integer({ minimum: 4, default: 64 }),
  /** the enricher of events' text: none, wink (the model shipped in npm, in process) or http (a service at enricherUrl) */
  enricher: Type.Union([Type.Literal('none'), Type.Literal('wink'), Type.Literal('http')], { default: 'wink' }),
  /** with enricher http: the URL a batch of texts is POSTed to */
  enricherUrl: Type.String({ pattern: '^(|https?://\\S+)$', default: '' }),
  /** with enricher http: one attempt's time limit */
  enricherTimeoutMs: Type.Integer({ minimum: 10, default: 1_000 }),
  /** the most a consumed batch waits for its enrichment; past it the rest of its events pass unenriched (counted) */
  enrichBudgetMs: Type.Integer({ minimum: 1, default: 200 }),
  /** auto: authentication when keys or a JWT issuer are configured (required off loopback); none: no authentication at all */
  auth: Type.Union([Type.Literal('auto'), Type.Literal('none')], { default: 'auto' }),
  /** the API keys file (`hourglass keys add|list|revoke`); '' none */
  apiKeysFile: Type.String({ default: '' }),
  /** JWT: the OIDC issuer (`iss`) accepted; '' no JWT */
  jwtIssuer: Type.String({ default: '' }),
  /** JWT: the audience (`aud`) required, with jwtIssuer */
  jwtAudience: Type.String({ default: '' }),
  /** JWT: the JWKS URL; '' read from the issuer's /.well-known/openid-configuration */
  jwtJwksUrl: Type.String({ default: '' }),
  /** most requests per key (per IP when anonymous) in each rateLimitWindowMs; 0 no limit */
  rateLimitMax: Type.Integer({ minimum: 0, default: 1200 }),
  rateLimitWindowMs: Type.Integer({ minimum: 1_000, default: 60_000 }),
  /** most GraphQL subscriptions one key (or anonymous client IP) holds open at once */
  maxSubscriptionsPerKey: Type.Integer({ minimum: 1, default: 20 }),
  /** the base of the absolute URLs the API writes (OData's @odata.context, @odata.nextLink); '' = as the client reached us */
  publicUrl: Type.String({ pattern: '^(https?://[^\\s/?#]+(/[^\\s?#]*)?)?$', default: '' }),
  /** proxies (IPs or CIDRs) whose X-Forwarded-Proto/-Host are believed; none by default */
  trustedProxies: Type.Array(Type.String({ pattern: '^([0-9A-Fa-f.:]+(/\\d{1,3})?|loopback|linklocal|uniquelocal)$' }), { default: [] }),
  /** the key OData's $skiptoken is signed with: from the environment only, never logged; '' = random per process */
  skiptokenKey: Type.String({ pattern: '^(|[\\s\\S]{16,})$', default: '' }),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' })
}, { additionalProperties: false })

export type Config = Static<typeof Config>
export type ConfigKey = keyof Config

type Kind = 'int' | 'number' | 'string' | 'duration' | 'list'
const KINDS: Record<ConfigKey, Kind> = {
  port: 'int',
  host: 'string',
  dataDir: 'string',
  source: 'string',
  store: 'string',
  kafkaBrokers: 'string',
  kafkaTopics: 'list',
  kafkaGroup: 'string',
  kafkaBronzeGroup: 'string',
  dlqTopic: 'string',
  kafkaFormat: 'list',
  schemaRegistryUrl: 'string',
  schemaRegistryUser: 'string',
  schemaRegistryPassword: 'string',
  redisUrl: 'string',
  redisMode: 'string',
  redisTimeoutMs: 'duration',
  redisPrefix: 'string',
  cosmosEndpoint: 'string',
  cosmosKey: 'string',
  cosmosDatabase: 'string',
  cosmosContainer: 'string',
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
  bronzeFlushEvents: 'int',
  bronzeRetentionMs: 'duration',
  goldRetentionMs: 'duration',
  compactIntervalMs: 'duration',
  deltaCheckpointInterval: 'int',
  vacuumIntervalMs: 'duration',
  bronzeFlushCheckMs: 'duration',
  bronzeShareWaitMs: 'duration',
  gold: 'string',
  goldDaily: 'string',
  goldPollMs: 'duration',
  batchHourDelayMs: 'duration',
  reconcileIntervalMs: 'duration',
  anomalyDetection: 'string',
  anomalySensitivity: 'number',
  anomalyMinVolume: 'number',
  anomalyHistoryMinutes: 'int',
  anomalyBaselineDays: 'int',
  anomalyIntervalMs: 'duration',
  anomalyKeep: 'int',
  leaderTimeoutMs: 'duration',
  closeTimeoutMs: 'duration',
  corsOrigins: 'list',
  tlsCert: 'string',
  tlsKey: 'string',
  maxBuckets: 'int',
  maxRangeDays: 'int',
  maxFilterValues: 'int',
  batchCacheBytes: 'int',
  graphqlBodyLimit: 'int',
  graphqlMaxResponseBytes: 'int',
  graphqlTimeoutMs: 'duration',
  maxEventLoopDelayMs: 'duration',
  maxHeapShare: 'number',
  deadLetterKeep: 'int',
  maxRecordBytes: 'int',
  decodeWorkers: 'int',
  decodeWorkerHeapMb: 'int',
  enricher: 'string',
  enricherUrl: 'string',
  enricherTimeoutMs: 'duration',
  enrichBudgetMs: 'duration',
  auth: 'string',
  apiKeysFile: 'string',
  jwtIssuer: 'string',
  jwtAudience: 'string',
  jwtJwksUrl: 'string',
  rateLimitMax: 'int',
  rateLimitWindowMs: 'duration',
  maxSubscriptionsPerKey: 'int',
  publicUrl: 'string',
  trustedProxies: 'list',
  skiptokenKey: 'string',
  logLevel: 'string'
}

/** HOURGLASS_PORT for port, HOURGLASS_RETENTION for retentionMs (durations drop the Ms). */
export function envName (key: ConfigKey): string {
  const base = KINDS[key] === 'duration' ? key.replace(/Ms$/, '') : key
  return 'HOURGLASS_' + base.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}

/** A setting's default from the schema (the one place it is written). */
export function defaultValue<K extends ConfigKey> (key: K): Config[K] {
  return (Config.properties[key] as { default: Config[K] }).default
}

const UNITS: Array<[string, number]> = [['h', 3_600_000], ['m', 60_000], ['s', 1000]]

/** A setting's default as --help and the README show it: durations as 90s/5m/1h, lists comma-separated, '' as (none). */
export function defaultText (key: ConfigKey): string {
  const value: unknown = defaultValue(key)
  if (value === '' || (Array.isArray(value) && value.length === 0)) return '(none)'
  if (Array.isArray(value)) return value.join(',')
  if (KINDS[key] === 'duration' && typeof value === 'number' && value > 0) {
    const unit = UNITS.find(([, ms]) => value % ms === 0)
    return unit === undefined ? `${value}ms` : `${value / unit[1]}${unit[0]}`
  }
  return String(value)
}

/** Every setting, in the schema's order. */
export const CONFIG_KEYS = Object.keys(Config.properties) as ConfigKey[]

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const INTEGER = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

function convert (key: ConfigKey, raw: string, origin: string): unknown {
  const kind = KINDS[key]
  if (kind === 'string') return raw
  if (kind === 'list') return raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
  const text = raw.trim()
  if (kind === 'duration') {
    const ms = text === '0' ? 0 : parseDuration(text)
    if (ms === null) throw new ConfigError(`${origin}="${raw}" is not a duration (use e.g. 90s, 5m, 1h)`)
    return ms
  }
  // plain decimal only: Number() would also take "0x10", "0b1", "1e3" for an integer, and " "
  const n = Number(text)
  if (kind === 'int' ? !INTEGER.test(text) || !Number.isSafeInteger(n) : !DECIMAL.test(text) || !Number.isFinite(n)) {
    throw new ConfigError(`${origin}="${raw}" is not ${kind === 'int' ? 'an integer' : 'a number'}`)
  }
  return n
}

/** Settings whose values never appear in a message. */
const SECRETS = new Set<ConfigKey>(['cosmosKey', 'skiptokenKey', 'schemaRegistryPassword'])

/** What a value must look like, where the schema's own message would not say it. */
function expected (key: ConfigKey): string | null {
  if (key === 'source') return 'expected synthetic, kafka, none or file:PATH'
  if (key === 'kafkaBrokers') return 'expected host:port, comma-separated'
  if (key === 'kafkaTopics') return 'expected topic names (letters, digits, . _ -), comma-separated'
  if (key === 'dlqTopic') return 'expected a topic name (letters, digits, . _ -)'
  if (key === 'kafkaFormat') return 'expected json, avro or auto, and/or TOPIC=json|avro|auto, comma-separated'
  if (key === 'enricherUrl') return 'expected http(s)://host:port[/path] of an enrichment service'
  if (key === 'schemaRegistryUrl') return 'expected http(s)://host:port[/path] of a Confluent-compatible API'
  if (key === 'redisUrl') return 'expected redis://host:port (or rediss://); with HOURGLASS_REDIS_MODE=cluster, several comma-separated'
  if (key === 'gold') return 'expected own or delta:PATH (the folder of a Delta table)'
  if (key === 'goldDaily') return 'expected delta:PATH (the folder of a Delta table), or nothing'
  if (key === 'redisPrefix') return 'expected a prefix without braces or spaces'
  if (key === 'corsOrigins') return 'expected origins such as https://dash.example.com (scheme, host, port; no path), comma-separated, or *'
  if (key === 'compactIntervalMs' || key === 'vacuumIntervalMs') return 'expected 0 (off) or a duration of at least 1s'
  if (key === 'publicUrl') return 'expected http(s)://host[:port][/path], without query or fragment'
  if (key === 'trustedProxies') return 'expected IP addresses, CIDR ranges (10.0.0.0/8) or loopback, linklocal, uniquelocal, comma-separated'
  if (key === 'skiptokenKey') return 'expected at least 16 characters (the key itself is not repeated here)'
  if (key === 'maxEventLoopDelayMs') return 'expected 0 (off) or a duration of at least 10ms'
  const schema = Config.properties[key] as { anyOf?: Array<{ const?: unknown }> }
  if (schema.anyOf !== undefined) return 'expected one of ' + schema.anyOf.map((s) => String(s.const)).join(', ')
  return null
}

/** The flag a config key is set with when the CLI does not say (`dataDir` → `--data-dir`). */
function defaultFlagName (key: ConfigKey): string {
  return '--' + key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

/**
 * Build the configuration: defaults, then HOURGLASS_* variables, then `overrides` (CLI flags, as
 * raw strings keyed by config key; a flag wins and its variable is then not read at all).
 * `flagNames` are the flags as the user typed them (`{ dataDir: '--data' }`), for messages.
 * Throws ConfigError naming the variable or flag at fault.
 */
export function loadConfig (
  env: NodeJS.ProcessEnv = {},
  overrides: Partial<Record<ConfigKey, string>> = {},
  flagNames: Partial<Record<ConfigKey, string>> = {}
): Config {
  const values: Record<string, unknown> = {}
  const origins: Partial<Record<ConfigKey, { name: string, raw: string }>> = {}
  for (const key of CONFIG_KEYS) {
    const flag = overrides[key]
    const fromEnv = env[envName(key)]
    if (flag !== undefined) {
      const name = flagNames[key] ?? defaultFlagName(key)
      values[key] = convert(key, flag, name)
      origins[key] = { name, raw: flag }
    } else if (fromEnv !== undefined && fromEnv !== '') {
      values[key] = convert(key, fromEnv, envName(key))
      origins[key] = { name: envName(key), raw: fromEnv }
    }
  }
  const config = Value.Default(Config, values)
  const first = Value.Errors(Config, config).First()
  if (first !== undefined) {
    const key = first.path.split('/')[1] as ConfigKey
    const origin = origins[key]
    const shown = origin === undefined || SECRETS.has(key) ? null : `${origin.name}="${origin.raw}"`
    const where = shown ?? (origin?.name ?? (key in KINDS ? envName(key) : key))
    const unit = KINDS[key] === 'duration' ? ' (milliseconds)' : ''
    throw new ConfigError(`${where} is not valid: ${expected(key) ?? first.message + unit}`)
  }
  const c = config as Config
  if (c.store === 'cosmos' && c.cosmosKey === '') {
    const store = origins.store?.name ?? envName('store')
    throw new ConfigError(`${envName('cosmosKey')} is required with ${store}=cosmos (the account key; it is read from the environment only)`)
  }
  if (c.enricher === 'http' && c.enricherUrl === '') {
    throw new ConfigError(`${envName('enricher')}=http needs ${envName('enricherUrl')} (where batches of texts are POSTed)`)
  }
  if (c.schemaRegistryUrl === '' && c.kafkaFormat.some((f) => !f.endsWith('json'))) {
    const format = origins.kafkaFormat?.name ?? envName('kafkaFormat')
    throw new ConfigError(`${format} reads Avro: set ${envName('schemaRegistryUrl')} (the schema registry's Confluent-compatible API)`)
  }
  if (c.redisMode === 'standalone' && c.redisUrl.includes(',')) {
    throw new ConfigError(`${envName('redisUrl')} lists several servers: set ${envName('redisMode')}=cluster for the seed nodes of a Redis Cluster`)
  }
  if ((c.jwtIssuer === '') !== (c.jwtAudience === '')) {
    throw new ConfigError(`${envName('jwtIssuer')} and ${envName('jwtAudience')} go together: set both to accept JWTs, or neither`)
  }
  if ((c.tlsCert === '') !== (c.tlsKey === '')) {
    throw new ConfigError(`${envName('tlsCert')} and ${envName('tlsKey')} go together: give both files (HTTPS) or neither (HTTP)`)
  }
  return c
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i

/** Whether `host` only listens on the machine itself. */
export function isLoopback (host: string): boolean {
  return LOOPBACK.test(host.trim())
}

/** Whether any authentication is configured (and not switched off). */
export function authConfigured (c: Config): boolean {
  return c.auth !== 'none' && (c.apiKeysFile !== '' || c.jwtIssuer !== '')
}

/**
 * `serve`'s check of authentication against where it listens: an error (refuse to start) when it
 * would listen beyond loopback with no authentication, a warning when HOURGLASS_AUTH=none allows that.
 */
export function authAtStart (c: Config): { error?: string, warning?: string } {
  if (isLoopback(c.host)) return {}
  if (c.auth === 'none') {
    return { warning: `${envName('auth')}=none: serving ${c.host} without authentication; anyone who reaches it can read every answer` }
  }
  if (authConfigured(c)) return {}
  return {
    error: `${envName('host')}=${c.host} listens beyond this machine, and no authentication is configured: set ` +
      `${envName('apiKeysFile')} (keys made with \`hourglass keys add\`) and/or ${envName('jwtIssuer')} with ${envName('jwtAudience')}, ` +
      `or ${envName('auth')}=none to serve without authentication`
  }
}

/** The process's environment, for main.ts: nothing else reads process.env. */
export function processEnvironment (): NodeJS.ProcessEnv {
  return process.env
}

/** HOURGLASS_* variables that name no setting (a typo such as HOURGLASS_PROT), for a warning at start. */
export function unknownVariables (env: NodeJS.ProcessEnv): string[] {
  const known = new Set(CONFIG_KEYS.map(envName))
  return Object.keys(env).filter((k) => k.startsWith('HOURGLASS_') && !known.has(k)).sort()
}
