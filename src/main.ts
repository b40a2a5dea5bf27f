// The `hourglass` CLI: serve, batch, seed, produce, compact, vacuum, migrate. Reads the configuration once (environment + flags).
// The layers (DuckDB, Fastify) are imported by the command that needs them, so --help, a usage
// error or a bad setting answers at once.
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { type ParsedArgs, parseCli, PRODUCE_RATE, usage, UsageError } from './cli-args.js'
import { authAtStart, type Config, ConfigError, loadConfig, processEnvironment, unknownVariables } from './config.js'
import { HOUR_MS, iso, parseDuration } from './model/index.js'

const print = (line: string): void => { process.stdout.write(line + '\n') }

export async function main (argv: string[], env: NodeJS.ProcessEnv = processEnvironment()): Promise<number> {
  let config: Config
  let parsed
  try {
    parsed = parseCli(argv)
    if (parsed.command === 'help') { print(usage()); return 0 }
    if (parsed.command === 'version') { print((await import('./api/server.js')).readPackageVersion()); return 0 }
    if (parsed.help) { print(usage(parsed.command)); return 0 }
    config = loadConfig(env, parsed.overrides, parsed.flags)
    for (const name of unknownVariables(env)) {
      process.stderr.write(`hourglass: warning: ${name} is not a setting of Hourglass and is ignored (see README, Configuration)\n`)
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`hourglass: ${err.message}\n`)
      return 2
    }
    throw err
  }
  switch (parsed.command) {
    case 'batch': return await batchCommand(config)
    case 'seed': return await seedCommand(config, parsed.force)
    case 'produce': return await produceCommand(config, parsed.options)
    case 'compact': return await compactCommand(config, parsed.options)
    case 'vacuum': return await vacuumCommand(config, parsed.options)
    case 'migrate': return await migrateCommand(config)
    case 'keys': return await (await import('./keys-command.js')).keysCommand(config, parsed, Date.now())
    default: return await serveCommand(config)
  }
}

async function batchCommand (config: Config): Promise<number> {
  const { Db, runBatch } = await import('./batch/index.js')
  const db = await Db.open()
  try {
    const s = await runBatch({ dataDir: resolve(config.dataDir), db, now: Date.now(), allowedLatenessMs: config.allowedLatenessMs,
      onProgress: print, checkpointInterval: config.deltaCheckpointInterval })
    // a published run has already said so in its last progress line
    if (s.busy !== undefined) print(`batch: ${s.busy}; nothing built`)
    else if (!s.published) print(`batch: nothing new to build; gold version ${s.version ?? 'none'} stays in force`)
    return 0
  } finally {
    db.close()
  }
}

async function compactCommand (config: Config, options: ParsedArgs['options']): Promise<number> {
  let hour: number | undefined
  if (options.hour !== undefined) {
    const { parseInstant } = await import('./model/index.js')
    const t = parseInstant(options.hour)
    if (t === null || t % HOUR_MS !== 0) {
      process.stderr.write(`hourglass: --hour="${options.hour}" is not the start of an hour (e.g. 2026-01-05T13:00:00Z)\n\n${usage('compact')}\n`)
      return 2
    }
    hour = t
  }
  const [{ Db, compactBronze, compactGold, describeCompaction, describeGoldCompaction }, { ownGold }] =
    await Promise.all([import('./batch/index.js'), import('./app/history.js')])
  const db = await Db.open()
  try {
    const only = hour === undefined ? {} : { hour }
    const dataDir = resolve(config.dataDir)
    const s = await compactBronze({ dataDir, db, ...only, all: options.all === 'true', onProgress: print })
    print(describeCompaction(s))
    // --hour names one bronze hour: gold is left alone then
    if (hour === undefined && ownGold(config)) {
      const g = await compactGold({ dataDir, db, checkpointInterval: config.deltaCheckpointInterval, onProgress: print })
      print(describeGoldCompaction(g))
    }
    return 0
  } finally {
    db.close()
  }
}

async function vacuumCommand (config: Config, options: ParsedArgs['options']): Promise<number> {
  const { describeVacuum, vacuum } = await import('./batch/index.js')
  const s = await vacuum({
    dataDir: resolve(config.dataDir),
    retainMs: config.bronzeRetentionMs,
    goldRetentionMs: config.goldRetentionMs,
    now: Date.now(),
    dryRun: options.dryRun === 'true',
    onProgress: print
  })
  print(describeVacuum(s, options.dryRun === 'true'))
  return 0
}

async function migrateCommand (config: Config): Promise<number> {
  const { Db, migrateManifestGold } = await import('./batch/index.js')
  const db = await Db.open()
  try {
    const s = await migrateManifestGold({ dataDir: resolve(config.dataDir), db, now: Date.now(), onProgress: print })
    if (s.busy !== undefined) {
      process.stderr.write(`hourglass: ${s.busy}; not migrated, try again when it is done\n`)
      return 1
    }
    if (!s.migrated) print('migrate: no gold/_manifest.json: nothing to migrate')
    return 0
  } finally {
    db.close()
  }
}

async function seedCommand (config: Config, force: boolean): Promise<number> {
  const dataDir = resolve(config.dataDir)
  const [{ Db, runBatch }, { seedHistory }] = await Promise.all([import('./batch/index.js'), import('./app/seed.js')])
  const db = await Db.open()
  try {
    const s = await seedHistory({ config, dataDir, db, now: Date.now(), progress: print, onlyIfEmpty: !force })
    if (!s.seeded) {
      process.stderr.write(`hourglass: ${dataDir}/bronze already holds data; seed writes history into an empty data folder (add --force to add more)\n`)
      return 1
    }
    await runBatch({ dataDir, db, now: Date.now(), allowedLatenessMs: config.allowedLatenessMs,
      onProgress: print, checkpointInterval: config.deltaCheckpointInterval })
    return 0
  } finally {
    db.close()
  }
}

/** Validate produce's own options (exit 2 naming the flag), then send until done or Ctrl-C. */
async function produceCommand (config: Config, options: ParsedArgs['options']): Promise<number> {
  const fail = (message: string): number => { process.stderr.write(`hourglass: ${message}\n\n${usage('produce')}\n`); return 2 }
  const topic = options.topic ?? (config.kafkaTopics[0] as string) // the schema holds at least one
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) return fail(`--topic="${topic}" is not a topic name (letters, digits, . _ -)`)
  let rate: number | undefined
  if (options.rate !== undefined) {
    rate = Number(options.rate)
    if (!/^\d+(\.\d+)?$/.test(options.rate.trim()) || !(rate > 0)) return fail(`--rate="${options.rate}" is not a rate above 0 (records per second)`)
  }
  let count: number | undefined
  if (options.count !== undefined) {
    count = Number(options.count)
    if (!/^\d+$/.test(options.count.trim()) || !Number.isSafeInteger(count) || count < 1) {
      return fail(`--count="${options.count}" is not a whole number above 0`)
    }
  }
  let durationMs: number | undefined
  if (options.duration !== undefined) {
    const d = parseDuration(options.duration.trim())
    if (d === null || d <= 0) return fail(`--duration="${options.duration}" is not a duration (use e.g. 30s, 5m)`)
    durationMs = d
  }
  if (count !== undefined && durationMs !== undefined) return fail('give --count or --duration, not both')
  const format = options.format ?? 'json'
  if (format !== 'json' && format !== 'avro') return fail(`--format="${format}" is not json or avro`)
  if (format === 'avro' && config.schemaRegistryUrl === '') return fail('--format avro needs HOURGLASS_SCHEMA_REGISTRY_URL (the schema registry)')
  let file: string | undefined
  if (options.file !== undefined) {
    file = resolve(options.file)
    const info = await stat(file).catch(() => null)
    if (info === null || !info.isFile()) return fail(`--file="${options.file}": ${file} is not a readable file`)
  }

  const [{ default: pino }, { avroEncoder, produce, SchemaRegistryClient }, { sharesOf }] = await Promise.all([
    import('pino'), import('./ingest/kafka/index.js'), import('./ingest/index.js')
  ])
  const log = pino({ level: config.logLevel }, pino.destination(2))
  const abort = new AbortController()
  const onSignal = (): void => abort.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const tty = process.stdout.isTTY
  const source = file === undefined ? 'synthetic events' : file
  const perSecond = rate ?? (file === undefined ? PRODUCE_RATE : Infinity)
  const pace = perSecond === Infinity ? 'as fast as possible' : perSecond.toLocaleString('en-US') + '/s'
  const bounds = (count === undefined ? '' : ', ' + count.toLocaleString('en-US') + ' records') +
    (durationMs === undefined ? '' : ', for ' + options.duration) +
    (file === undefined && count === undefined && durationMs === undefined ? ' (Ctrl-C stops)' : '')
  print(`produce: ${source} → ${topic} on ${config.kafkaBrokers}, ${pace}${bounds}`)
  try {
    let encode: ((line: string) => Buffer | string) | undefined
    if (format === 'avro') {
      const registry = { url: config.schemaRegistryUrl, username: config.schemaRegistryUser, password: config.schemaRegistryPassword }
      const avro = await avroEncoder(new SchemaRegistryClient(registry), topic)
      encode = avro.encode
      print(`produce: Avro, schema id ${avro.id} (subject ${topic}-value); lines that are not valid events are sent as JSON`)
    }
    const summary = await produce({
      brokers: config.kafkaBrokers,
      topic,
      shares: sharesOf(config),
      rate: perSecond,
      ...(count === undefined ? {} : { count }),
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(file === undefined ? {} : { file }),
      ...(encode === undefined ? {} : { encode }),
      signal: abort.signal,
      log,
      onProgress: (p) => {
        if (p.done) { if (tty) process.stdout.write('\n'); return }
        const line = `produce: ${p.sent.toLocaleString('en-US')} sent, ${Math.round(p.rate).toLocaleString('en-US')}/s`
        if (tty) process.stdout.write('\r' + line.padEnd(60))
        else print(line)
      }
    })
    const sent = `${summary.sent.toLocaleString('en-US')} records (${(summary.bytes / 1e6).toFixed(1)} MB) to ${summary.topic}`
    print(`produce: done, ${sent} in ${(summary.elapsedMs / 1000).toFixed(1)} s, ${Math.round(summary.rate).toLocaleString('en-US')}/s`)
    return 0
  } catch (err) {
    process.stderr.write(`hourglass: produce failed: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

async function serveCommand (config: Config): Promise<number> {
  const { error, warning } = authAtStart(config)
  if (error !== undefined) { process.stderr.write(`hourglass: ${error}\n`); return 2 }
  if (warning !== undefined) process.stderr.write(`hourglass: warning: ${warning}\n`)
  const keysProblem = await (await import('./keys-command.js')).keysFileProblem(config)
  if (keysProblem !== null) { process.stderr.write(`hourglass: ${keysProblem}\n`); return 2 }
  const [{ default: pino }, { buildApp }] = await Promise.all([import('pino'), import('./app/index.js')])
  const log = pino({ level: config.logLevel })
  const started = Date.now()
  // Ctrl-C or SIGTERM: during start-up it ends at its next stage; later the app is closed
  const stopping = new AbortController()
  const stop = (signal: string): void => { log.info({ signal }, 'stopping'); stopping.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    let app
    let address = ''
    try {
      app = await buildApp(config, {
        logger: log,
        progress: print,
        signal: stopping.signal,
        onListening: (where) => {
          address = where
          print(`hourglass: listening on ${where}; starting (GET /readyz says what it is doing)`)
        }
      })
    } catch (err) {
      if (stopping.signal.aborted) return 0
      process.stderr.write(`hourglass: ${err instanceof Error ? err.message : String(err)}\n`)
      return 1
    }

    let failed = false
    let resolveStop!: () => void
    const stopped = new Promise<void>((resolve) => { resolveStop = resolve })
    if (stopping.signal.aborted) resolveStop()
    stopping.signal.addEventListener('abort', () => resolveStop(), { once: true })
    const fail = (what: string) => (err: unknown): void => {
      log.error({ err }, `${what}; shutting down`)
      failed = true
      resolveStop()
    }
    // a source that dies for good (e.g. a crash kafkajs will not restart from) must not leave a
    // process that serves ever staler windows: stop with an error so a supervisor restarts it
    app.source?.done.catch(fail('the source stopped with an error'))
    // likewise bronze's own consumer (--source kafka): without it bronze, and so gold, would stall
    app.bronze?.done.catch(fail('the bronze consumer stopped with an error'))
    // the source starts (a Kafka source waits out a broker outage) while a stop is still heard
    const sourceStarted = app.startSource().then(() => true, (err: unknown) => { fail('the source could not start')(err); return false })
    if (await Promise.race([sourceStarted, stopped.then(() => false)])) {
      const base = address.replace('[::1]', 'localhost')
      const from = iso(Math.floor((Date.now() - 48 * HOUR_MS) / HOUR_MS) * HOUR_MS)
      print([
        '',
        `Hourglass is serving on ${base} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s; source ${config.source}, data ${resolve(config.dataDir)})`,
        '',
        `  dashboard               ${base}/dashboard`,
        `  API docs (Swagger UI)   ${base}/docs`,
        `  GraphiQL                ${base}/graphiql`,
        `  OData feed (Power BI)   ${base}/odata/`,
        `  48 h by event type      ${base}/v1/metrics?from=${from}&granularity=hour&group_by=event_type`,
        `  live, last 15 minutes   ${base}/v1/metrics/live?last=15m&group_by=region`,
        `  data quality            ${base}/v1/quality`,
        `  anomalies, last 48 h    ${base}/v1/anomalies?from=${from}`,
        `  top entities, 48 h      ${base}/v1/entities?from=${from}`,
        `  Prometheus metrics      ${base}/metrics`,
        '',
        'Ctrl-C stops it (bronze is flushed first).',
        ''
      ].join('\n'))
    }
    await stopped
    await app.close()
    exitIfStillHeld(log, failed ? 1 : 0)
    return failed ? 1 : 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

/** How long a stopped `serve` may wait for handles nothing of ours holds any more. */
const LINGER_MS = 5_000

/**
 * Every part is closed: anything still holding the event loop (a socket a client library lost
 * track of) must not keep a stopped process alive. Name what it is, and exit.
 */
function exitIfStillHeld (log: { warn: (o: object, msg: string) => void }, code: number): void {
  setTimeout(() => {
    log.warn({ resources: process.getActiveResourcesInfo() }, `still running ${LINGER_MS} ms after every part closed; exiting`)
    process.exit(code)
  }, LINGER_MS).unref()
}
