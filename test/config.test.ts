// The configuration schema read at start: defaults, HOURGLASS_* variables, CLI flags over them, and
// a bad value stopping the process with a message that names the variable (or flag) to fix.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCli, usage } from '../src/cli-args.js'
import { ConfigError, defaultText, envName, loadConfig, unknownVariables } from '../src/config.js'

/** loadConfig's ConfigError message; fails the test when it does not throw one */
function configError (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    return err.message
  }
  assert.fail('expected a ConfigError')
}

test('defaults: the embedded setup on 127.0.0.1:3000', () => {
  const c = loadConfig()
  assert.equal(c.port, 3000)
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.dataDir, './data')
  assert.equal(c.source, 'synthetic')
  assert.equal(c.store, 'memory')
  assert.equal(c.retentionMs, 3_600_000)
  assert.equal(c.allowedLatenessMs, 60_000)
  assert.equal(c.dedupWindowMs, 300_000)
  assert.equal(c.syntheticRate, 5)
  assert.equal(c.seedDays, 7)
  assert.equal(c.batchIntervalMs, 300_000)
  assert.equal(c.logLevel, 'info')
  // loadConfig() reads no process.env of its own: the default env is empty
  assert.deepEqual(loadConfig({}), c)
})

test('variable names: HOURGLASS_ + snake case, durations without the Ms', () => {
  assert.equal(envName('port'), 'HOURGLASS_PORT')
  assert.equal(envName('dataDir'), 'HOURGLASS_DATA_DIR')
  assert.equal(envName('retentionMs'), 'HOURGLASS_RETENTION')
  assert.equal(envName('allowedLatenessMs'), 'HOURGLASS_ALLOWED_LATENESS')
  assert.equal(envName('syntheticRate'), 'HOURGLASS_SYNTHETIC_RATE')
  assert.equal(envName('logLevel'), 'HOURGLASS_LOG_LEVEL')
})

test('environment variables map onto the schema, converted to their types', () => {
  const c = loadConfig({
    HOURGLASS_PORT: '8080',
    HOURGLASS_DATA_DIR: '/tmp/hg',
    HOURGLASS_RETENTION: '2h',
    HOURGLASS_ALLOWED_LATENESS: '90s',
    HOURGLASS_SYNTHETIC_RATE: '2.5',
    HOURGLASS_SOURCE: 'file:/tmp/events.jsonl',
    HOURGLASS_LOG_LEVEL: 'silent',
    HOURGLASS_SEED_DAYS: '0',
    UNRELATED: 'x'
  })
  assert.equal(c.port, 8080)
  assert.equal(c.dataDir, '/tmp/hg')
  assert.equal(c.retentionMs, 7_200_000)
  assert.equal(c.allowedLatenessMs, 90_000)
  assert.equal(c.syntheticRate, 2.5)
  assert.equal(c.source, 'file:/tmp/events.jsonl')
  assert.equal(c.logLevel, 'silent')
  assert.equal(c.seedDays, 0)
  // untouched keys keep their defaults
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.dedupWindowMs, 300_000)
})

test('an empty variable counts as unset', () => {
  assert.equal(loadConfig({ HOURGLASS_PORT: '', HOURGLASS_DATA_DIR: '' }).port, 3000)
})

test('flags override the environment', () => {
  const env = { HOURGLASS_PORT: '8080', HOURGLASS_RETENTION: '2h', HOURGLASS_DATA_DIR: '/from/env' }
  const c = loadConfig(env, { port: '9090', retentionMs: '30m' })
  assert.equal(c.port, 9090)
  assert.equal(c.retentionMs, 1_800_000)
  assert.equal(c.dataDir, '/from/env')
  // a flag wins outright: the variable it replaces is not read, so a bad one does not matter
  assert.equal(loadConfig({ HOURGLASS_PORT: 'abc' }, { port: '9090' }).port, 9090)
})

test('flags as parsed from a command line', () => {
  const parsed = parseCli(['serve', '--port', '0', '--data', '/tmp/d', '--rate', '3', '--retention', '2h'])
  const c = loadConfig({ HOURGLASS_PORT: '8080', HOURGLASS_SYNTHETIC_RATE: '1' }, parsed.overrides, parsed.flags)
  assert.equal(c.port, 0)
  assert.equal(c.dataDir, '/tmp/d')
  assert.equal(c.syntheticRate, 3)
  assert.equal(c.retentionMs, 7_200_000)
})

const BAD_VALUES: Array<{ what: string, variable: string, value: string, says: RegExp }> = [
  { what: 'a non-integer port', variable: 'HOURGLASS_PORT', value: 'abc', says: /not an integer/ },
  { what: 'a fractional port', variable: 'HOURGLASS_PORT', value: '80.5', says: /not an integer/ },
  { what: 'a hexadecimal port', variable: 'HOURGLASS_PORT', value: '0x50', says: /not an integer/ },
  { what: 'a port above 65535', variable: 'HOURGLASS_PORT', value: '70000', says: /65535/ },
  { what: 'a negative port', variable: 'HOURGLASS_PORT', value: '-1', says: /greater or equal to 0/ },
  { what: 'a bad duration', variable: 'HOURGLASS_RETENTION', value: '2 hours', says: /not a duration.*1h/ },
  { what: 'a duration without a unit', variable: 'HOURGLASS_RETENTION', value: '3600', says: /not a duration/ },
  { what: 'a retention below one minute', variable: 'HOURGLASS_RETENTION', value: '30s', says: /60000/ },
  { what: 'a source that does not exist', variable: 'HOURGLASS_SOURCE', value: 'kafak', says: /synthetic, kafka, none or file:PATH/ },
  { what: 'a file source without a path', variable: 'HOURGLASS_SOURCE', value: 'file:', says: /file:PATH/ },
  { what: 'an unknown log level', variable: 'HOURGLASS_LOG_LEVEL', value: 'loud', says: /one of fatal, error, warn, info, debug, trace, silent/ },
  { what: 'a rate that is not a number', variable: 'HOURGLASS_SYNTHETIC_RATE', value: 'fast', says: /not a number/ },
  { what: 'a zero rate', variable: 'HOURGLASS_SYNTHETIC_RATE', value: '0', says: /greater than 0/ },
  { what: 'an unknown store', variable: 'HOURGLASS_STORE', value: 'postgres', says: /memory, redis/ },
  { what: 'a broker list with a blank entry', variable: 'HOURGLASS_KAFKA_BROKERS', value: 'a:9092,,b:9092', says: /host:port, comma-separated/ },
  { what: 'no topics at all', variable: 'HOURGLASS_KAFKA_TOPICS', value: ' , ', says: /topic names/ },
  { what: 'a topic name with a space', variable: 'HOURGLASS_KAFKA_TOPICS', value: 'events,my events', says: /topic names/ },
  { what: 'a dead-letter topic with a slash', variable: 'HOURGLASS_DLQ_TOPIC', value: 'events/dlq', says: /topic name/ },
  { what: 'a Redis URL without the scheme', variable: 'HOURGLASS_REDIS_URL', value: '127.0.0.1:6379', says: /redis:\/\/host:port/ },
  { what: 'a Redis prefix with braces', variable: 'HOURGLASS_REDIS_PREFIX', value: '{hg}', says: /braces/ },
  { what: 'too many seed days', variable: 'HOURGLASS_SEED_DAYS', value: '1000', says: /90/ }
]

for (const bad of BAD_VALUES) {
  test(`${bad.what} (${bad.variable}=${bad.value}) is a ConfigError naming the variable`, () => {
    const message = configError(() => loadConfig({ [bad.variable]: bad.value }))
    assert.ok(message.startsWith(`${bad.variable}="${bad.value}"`), message)
    assert.match(message, bad.says)
  })
}

test('a bad value from a flag names the flag as the user typed it', () => {
  const cases: Array<{ argv: string[], flag: string, says: RegExp }> = [
    { argv: ['serve', '--port', 'abc'], flag: '--port="abc"', says: /not an integer/ },
    { argv: ['serve', '--port', '65536'], flag: '--port="65536"', says: /65535/ },
    { argv: ['serve', '--retention', 'soon'], flag: '--retention="soon"', says: /not a duration/ },
    { argv: ['serve', '--source', 'kafak'], flag: '--source="kafak"', says: /synthetic, kafka, none or file:PATH/ },
    { argv: ['serve', '--store', 'disk'], flag: '--store="disk"', says: /memory, redis/ },
    { argv: ['serve', '--topics', 'a b'], flag: '--topics="a b"', says: /topic names/ },
    { argv: ['serve', '--redis-url', 'localhost'], flag: '--redis-url="localhost"', says: /redis:\/\// },
    { argv: ['produce', '--brokers', ' '], flag: '--brokers=" "', says: /host:port/ },
    { argv: ['serve', '--log-level', 'loud'], flag: '--log-level="loud"', says: /one of/ },
    // the flags whose names differ from the config keys
    { argv: ['serve', '--data', ''], flag: '--data=""', says: /length/ },
    { argv: ['serve', '--rate', 'fast'], flag: '--rate="fast"', says: /not a number/ },
    { argv: ['seed', '--days', '1.5'], flag: '--days="1.5"', says: /not an integer/ }
  ]
  for (const c of cases) {
    const parsed = parseCli(c.argv)
    // the same key also set (well) in the environment: the message is about the flag
    const message = configError(() => loadConfig({ HOURGLASS_PORT: '8080', HOURGLASS_LOG_LEVEL: 'info' }, parsed.overrides, parsed.flags))
    assert.ok(message.startsWith(c.flag), `${c.argv.join(' ')}: ${message}`)
    assert.match(message, c.says)
  }
})

test('Kafka and Redis settings: defaults, variables, and the serve flags', () => {
  const d = loadConfig()
  assert.equal(d.kafkaBrokers, '127.0.0.1:9092')
  assert.deepEqual(d.kafkaTopics, ['events'])
  assert.equal(d.kafkaGroup, 'hourglass-speed')
  assert.equal(d.kafkaBronzeGroup, 'hourglass-bronze')
  assert.equal(d.bronzeFlushEvents, 50_000)
  assert.equal(d.dlqTopic, 'events.dlq')
  assert.equal(d.redisUrl, 'redis://127.0.0.1:6379')
  assert.equal(d.redisPrefix, 'hg')
  const e = loadConfig({
    HOURGLASS_SOURCE: 'kafka',
    HOURGLASS_STORE: 'redis',
    HOURGLASS_KAFKA_BROKERS: 'k1:9092, k2:9092',
    HOURGLASS_KAFKA_TOPICS: 'events, clicks ,',
    HOURGLASS_KAFKA_GROUP: 'g1',
    HOURGLASS_KAFKA_BRONZE_GROUP: 'b1',
    HOURGLASS_BRONZE_FLUSH_EVENTS: '500',
    HOURGLASS_DLQ_TOPIC: 'dead',
    HOURGLASS_REDIS_URL: 'redis://r:6380/1',
    HOURGLASS_REDIS_PREFIX: 'hg2'
  })
  assert.equal(e.source, 'kafka')
  assert.equal(e.store, 'redis')
  assert.equal(e.kafkaBrokers, 'k1:9092, k2:9092')
  assert.deepEqual(e.kafkaTopics, ['events', 'clicks'])
  assert.equal(e.kafkaGroup, 'g1')
  assert.equal(e.kafkaBronzeGroup, 'b1')
  assert.equal(e.bronzeFlushEvents, 500)
  assert.equal(e.dlqTopic, 'dead')
  assert.equal(e.redisUrl, 'redis://r:6380/1')
  assert.equal(e.redisPrefix, 'hg2')
  const parsed = parseCli([
    'serve', '--source', 'kafka', '--store', 'redis', '--brokers', 'b:1', '--topics', 'x,y', '--group', 'gg', '--redis-url', 'redis://z:1'
  ])
  const f = loadConfig({ HOURGLASS_KAFKA_TOPICS: 'ignored' }, parsed.overrides, parsed.flags)
  assert.equal(f.source, 'kafka')
  assert.equal(f.store, 'redis')
  assert.equal(f.kafkaBrokers, 'b:1')
  assert.deepEqual(f.kafkaTopics, ['x', 'y'])
  assert.equal(f.kafkaGroup, 'gg')
  assert.equal(f.redisUrl, 'redis://z:1')
})

test('produce: its own options are not settings; --brokers is', () => {
  const parsed = parseCli(['produce', '--brokers', 'b:1', '--topic', 't', '--rate', '500', '--count', '10', '--file', 'x.jsonl'])
  assert.equal(parsed.command, 'produce')
  assert.deepEqual(parsed.overrides, { kafkaBrokers: 'b:1' })
  assert.deepEqual(parsed.options, { topic: 't', rate: '500', count: '10', file: 'x.jsonl' })
  assert.deepEqual(parseCli(['produce', '--duration', '30s']).options, { duration: '30s' })
})

test('without the typed flag names, a flag is named after its key', () => {
  const message = configError(() => loadConfig({}, { dataDir: '' }))
  assert.ok(message.startsWith('--data-dir=""'), message)
})

test('HOURGLASS_* variables that name no setting are reported (a typo is not silently ignored)', () => {
  assert.deepEqual(unknownVariables({ HOURGLASS_PROT: '1', HOURGLASS_PORT: '1', PATH: '/bin', HOURGLASS_RETENTION: '1h' }), ['HOURGLASS_PROT'])
})

test('--store cosmos needs HOURGLASS_COSMOS_KEY from the environment, and names it when missing', () => {
  assert.match(configError(() => loadConfig({ HOURGLASS_STORE: 'cosmos' })), /^HOURGLASS_COSMOS_KEY is required with HOURGLASS_STORE=cosmos/)
  const c = loadConfig({ HOURGLASS_STORE: 'cosmos', HOURGLASS_COSMOS_KEY: 'k', HOURGLASS_COSMOS_DATABASE: 'db1' })
  assert.equal(c.store, 'cosmos')
  assert.equal(c.cosmosDatabase, 'db1')
  assert.equal(c.cosmosContainer, 'speed')
  assert.equal(envName('cosmosKey'), 'HOURGLASS_COSMOS_KEY')
})

test('record formats: json by default, avro|auto per topic, a registry needed for Avro, its password never shown', () => {
  assert.deepEqual(loadConfig({}).kafkaFormat, ['json'])
  assert.match(configError(() => loadConfig({ HOURGLASS_KAFKA_FORMAT: 'auto' })), /^HOURGLASS_KAFKA_FORMAT reads Avro: set HOURGLASS_SCHEMA_REGISTRY_URL/)
  assert.match(configError(() => loadConfig({ HOURGLASS_KAFKA_FORMAT: 'xml' })), /^HOURGLASS_KAFKA_FORMAT="xml" is not valid: expected json, avro or auto/)
  const c = loadConfig({
    HOURGLASS_KAFKA_FORMAT: 'json,clicks=avro', HOURGLASS_SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
    HOURGLASS_SCHEMA_REGISTRY_USER: 'u', HOURGLASS_SCHEMA_REGISTRY_PASSWORD: 'secret'
  })
  assert.deepEqual(c.kafkaFormat, ['json', 'clicks=avro'])
  assert.equal(c.schemaRegistryPassword, 'secret')
  const bad = configError(() => loadConfig({ HOURGLASS_SCHEMA_REGISTRY_URL: 'ftp://x' }))
  assert.match(bad, /^HOURGLASS_SCHEMA_REGISTRY_URL="ftp:\/\/x" is not valid/)
})

test('compaction and vacuum inside serve: hourly and daily by default, 0 turns one off, at least 1s otherwise', () => {
  const d = loadConfig()
  assert.equal(d.compactIntervalMs, 3_600_000)
  assert.equal(d.vacuumIntervalMs, 86_400_000)
  assert.equal(d.bronzeRetentionMs, 604_800_000)
  assert.equal(envName('compactIntervalMs'), 'HOURGLASS_COMPACT_INTERVAL')
  assert.equal(envName('vacuumIntervalMs'), 'HOURGLASS_VACUUM_INTERVAL')
  const e = loadConfig({ HOURGLASS_COMPACT_INTERVAL: '0', HOURGLASS_VACUUM_INTERVAL: '12h' })
  assert.equal(e.compactIntervalMs, 0)
  assert.equal(e.vacuumIntervalMs, 43_200_000)
  assert.equal(loadConfig({ HOURGLASS_VACUUM_INTERVAL: '0s' }).vacuumIntervalMs, 0)
  assert.match(configError(() => loadConfig({ HOURGLASS_COMPACT_INTERVAL: '500ms' })),
    /^HOURGLASS_COMPACT_INTERVAL="500ms" is not valid: expected 0 \(off\) or a duration of at least 1s/)
  assert.match(configError(() => loadConfig({ HOURGLASS_VACUUM_INTERVAL: 'daily' })), /^HOURGLASS_VACUUM_INTERVAL="daily" is not a duration/)
  const parsed = parseCli(['serve', '--compact-interval', '30m', '--vacuum-interval', '0'])
  const f = loadConfig({}, parsed.overrides, parsed.flags)
  assert.equal(f.compactIntervalMs, 1_800_000)
  assert.equal(f.vacuumIntervalMs, 0)
  const tooShort = parseCli(['serve', '--vacuum-interval', '10ms'])
  assert.match(configError(() => loadConfig({}, tooShort.overrides, tooShort.flags)), /^--vacuum-interval="10ms" is not valid/)
})

test('the timers of serve are settings: gold poll, bronze flush check, batch after the hour, reconciliation, close timeout', () => {
  const d = loadConfig()
  assert.equal(d.goldPollMs, 2_000)
  assert.equal(d.bronzeFlushCheckMs, 5_000)
  assert.equal(d.batchHourDelayMs, 5_000)
  assert.equal(d.reconcileIntervalMs, 15_000)
  assert.equal(d.closeTimeoutMs, 30_000)
  const e = loadConfig({
    HOURGLASS_GOLD_POLL: '500ms',
    HOURGLASS_BRONZE_FLUSH_CHECK: '1s',
    HOURGLASS_BATCH_HOUR_DELAY: '0',
    HOURGLASS_RECONCILE_INTERVAL: '1m',
    HOURGLASS_CLOSE_TIMEOUT: '2m'
  })
  assert.deepEqual([e.goldPollMs, e.bronzeFlushCheckMs, e.batchHourDelayMs, e.reconcileIntervalMs, e.closeTimeoutMs], [500, 1_000, 0, 60_000, 120_000])
  assert.match(configError(() => loadConfig({ HOURGLASS_RECONCILE_INTERVAL: '10ms' })), /^HOURGLASS_RECONCILE_INTERVAL="10ms" is not valid/)
})

test('--help takes each default from the schema', () => {
  assert.equal(defaultText('retentionMs'), '1h')
  assert.equal(defaultText('bronzeRetentionMs'), '168h')
  assert.equal(defaultText('kafkaTopics'), 'events')
  assert.equal(defaultText('cosmosKey'), '(none)')
  const serve = usage('serve')
  for (const [flag, key] of [['--port', 'port'], ['--retention', 'retentionMs'], ['--vacuum-interval', 'vacuumIntervalMs'], ['--data', 'dataDir']] as const) {
    const line = serve.split('\n').find((l) => l.startsWith(`  ${flag} `))
    assert.ok(line?.includes(`(${envName(key)}, default ${defaultText(key)}`), `${flag}: ${line}`)
  }
})
