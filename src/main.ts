// The `hourglass` CLI: serve, batch, seed. Reads the configuration once (environment + flags).
// The layers (DuckDB, Fastify) are imported by the command that needs them, so --help, a usage
// error or a bad setting answers at once.
import { resolve } from 'node:path'
import { parseCli, usage, UsageError } from './cli-args.js'
import { type Config, ConfigError, loadConfig, unknownVariables } from './config.js'
import { HOUR_MS, iso } from './model/index.js'

const print = (line: string): void => { process.stdout.write(line + '\n') }

export async function main (argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: Config
  let parsed
  try {
    parsed = parseCli(argv)
    if (parsed.command === 'help') { print(usage()); return 0 }
    if (parsed.command === 'version') { print((await import('./api/server.js')).readPackageVersion()); return 0 }
    if (parsed.help) { print(usage(parsed.command)); return 0 }
    config = loadConfig(env, parsed.overrides, parsed.flags)
    for (const name of unknownVariables(env)) process.stderr.write(`hourglass: warning: ${name} is not a setting of Hourglass and is ignored (see README, Configuration)\n`)
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
    default: return await serveCommand(config)
  }
}

async function batchCommand (config: Config): Promise<number> {
  const { Db, runBatch } = await import('./batch/index.js')
  const db = await Db.open()
  try {
    const s = await runBatch({ dataDir: resolve(config.dataDir), db, now: Date.now(), allowedLatenessMs: config.allowedLatenessMs, onProgress: print })
    // a published run has already said so in its last progress line
    if (!s.published) print(`batch: nothing new to build; gold version ${s.version ?? 'none'} stays in force`)
    return 0
  } finally {
    db.close()
  }
}

async function seedCommand (config: Config, force: boolean): Promise<number> {
  const dataDir = resolve(config.dataDir)
  const [{ Db, runBatch }, { seedHistory }] = await Promise.all([import('./batch/index.js'), import('./seed.js')])
  const db = await Db.open()
  try {
    const s = await seedHistory({ config, dataDir, db, now: Date.now(), progress: print, onlyIfEmpty: !force })
    if (!s.seeded) {
      process.stderr.write(`hourglass: ${dataDir}/bronze already holds data; seed writes history into an empty data folder (add --force to add more)\n`)
      return 1
    }
    await runBatch({ dataDir, db, now: Date.now(), allowedLatenessMs: config.allowedLatenessMs, onProgress: print })
    return 0
  } finally {
    db.close()
  }
}

async function serveCommand (config: Config): Promise<number> {
  const [{ default: pino }, { buildApp }] = await Promise.all([import('pino'), import('./app.js')])
  const log = pino({ level: config.logLevel })
  const started = Date.now()
  const app = await buildApp(config, { logger: log, progress: print })
  const address = await app.server.listen({ port: config.port, host: config.host })
  await app.startSource()
  const base = address.replace('[::1]', 'localhost')
  const from = iso(Math.floor((Date.now() - 48 * HOUR_MS) / HOUR_MS) * HOUR_MS)
  print([
    '',
    `Hourglass is serving on ${base} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s; source ${config.source}, data ${resolve(config.dataDir)})`,
    '',
    `  API docs (Swagger UI)   ${base}/docs`,
    `  48 h by event type      ${base}/v1/metrics?from=${from}&granularity=hour&group_by=event_type`,
    `  live, last 15 minutes   ${base}/v1/metrics/live?last=15m&group_by=region`,
    `  data quality            ${base}/v1/quality`,
    `  Prometheus metrics      ${base}/metrics`,
    '',
    'Ctrl-C stops it (bronze is flushed first).',
    ''
  ].join('\n'))

  await new Promise<void>((resolveStop) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping')
      resolveStop()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await app.close()
  return 0
}
