// The services CLI: `node --import tsx scripts/services/cli.ts fetch|start|stop|status|run [kafka|redis|registry|all]`
// (`npm run services` is `run`, `npm run services:fetch` is `fetch`; --help says more).
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { KAFKA_LIB, makeLog, ROOT, seconds } from './common.js'
import { ensureJava, ensureRedis, fetchKafka, KAFKA_VERSION, kafkaFetched } from './install.js'
import { describeKafka, KafkaService } from './kafka.js'
import { killAllNow, terminate } from './process.js'
import { RedisService, shutdownRedis, withRedis } from './redis.js'
import { RegistryService } from './registry.js'
import { buildRegistry, REGISTRY_VERSION, registryBuilt, registryJar } from './registry-build.js'
import { type Kind, removeState, runningState, writeEnvFile, writeState } from './run-dirs.js'
import type { Service } from './service.js'

const HELP = `Usage: node --import tsx scripts/services/cli.ts <command> [kafka|redis|registry|all] [options]
       (\`npm run services\` is the command run, \`npm run services:fetch\` is fetch)

Real services for Hourglass on loopback ports: Apache Kafka ${KAFKA_VERSION} (single node, KRaft,
broker + controller) from Maven Central, Redis from Debian's redis-server package, and a Confluent-compatible
schema registry: Apicurio Registry ${REGISTRY_VERSION} (in-memory storage) built from Maven Central.

Commands
  run     start the services, print their URLs, stay in the foreground; Ctrl-C stops them
          (this is \`npm run services\`)
  fetch   download what is missing: Kafka's jars into .cache/kafka/lib (mvn), redis-server
          (apt-get, as root), the registry's jar built into .cache/registry (mvn); nothing
          else is downloaded (\`npm run services:fetch\`)
  start   start the services in the background and print their URLs
  stop    stop the services started by \`start\`
  status  say what is running, where

Target: kafka, redis, registry or all (default all).

Options
  --kafka-port N   broker port (default: a free port); the controller takes another free one
  --redis-port N   Redis port (default: a free port)
  --registry-port N  schema registry port (default: a free port)
  -q, --quiet      only the URLs (start, run)
  -h, --help       this text

Environment
  SERVICES_KAFKA_HEAP     broker heap (-Xmx), default 512m
  SERVICES_REGISTRY_HEAP  schema registry heap (-Xmx), default 256m
  SERVICES_REDIS_SERVER   path of redis-server (default: PATH, else apt-get install)
  SERVICES_CACHE_DIR      instead of .cache in the repository

Files: .cache/kafka/lib (jars), .cache/registry/registry-*.jar, .cache/services/run/<service>-*/ (data, server.log, stdout.log),
.cache/services/state/*.json (what \`start\` started), .cache/services/services.env (URLs).

From code (tests, benchmarks):
  import { startServices } from './scripts/services/index.js'
  const s = await startServices({ kafka: true, redis: true })
  s.kafka.brokers; s.redis.url; await s.restartKafka(); await s.restartRedis({ empty: true })
  await s.stop()
  const registry = await startRegistry({ storage: 'file' })   // 'file': restart() keeps the schemas
  registry.url   (http://127.0.0.1:PORT/apis/ccompat/v7); await registry.close()
`

interface Options {
  command: string | null
  target: 'kafka' | 'redis' | 'registry' | 'all'
  kafkaPort: number | undefined
  redisPort: number | undefined
  registryPort: number | undefined
  quiet: boolean
  help: boolean
}

function portOption (name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${name} needs a port number`)
  return n
}

function parseCli (argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'kafka-port': { type: 'string' },
      'redis-port': { type: 'string' },
      'registry-port': { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  const [command = null, target = 'all', ...rest] = positionals
  if (rest.length > 0) throw new Error(`unexpected arguments: ${rest.join(' ')}`)
  if (target !== 'kafka' && target !== 'redis' && target !== 'registry' && target !== 'all') {
    throw new Error(`unknown target ${target} (kafka, redis, registry or all)`)
  }
  return {
    command,
    target,
    kafkaPort: portOption('kafka-port', values['kafka-port']),
    redisPort: portOption('redis-port', values['redis-port']),
    registryPort: portOption('registry-port', values['registry-port']),
    quiet: values.quiet,
    help: values.help
  }
}

function targets (target: Options['target']): Kind[] { return target === 'all' ? ['kafka', 'redis', 'registry'] : [target] }

async function cliStart (opts: Options, { attached }: { attached: boolean }): Promise<Service[]> {
  const log = opts.quiet ? false : undefined
  const wanted: Kind[] = []
  for (const kind of targets(opts.target)) {
    const existing = runningState(kind)
    if (!existing) { wanted.push(kind); continue }
    if (!attached) { console.log(`${kind} already running: ${existing.url} (pid ${existing.pid})`); continue }
    throw new Error(`${kind} is already running (${existing.url}, pid ${existing.pid}): \`node --import tsx scripts/services/cli.ts stop\` first`)
  }
  const started: Service[] = []
  const results = await Promise.allSettled(wanted.map(async (kind) => {
    const svc = kind === 'kafka'
      ? new KafkaService({ log, attached, port: opts.kafkaPort })
      : kind === 'redis'
        ? new RedisService({ log, attached, port: opts.redisPort })
        : new RegistryService({ log, attached, port: opts.registryPort })
    started.push(svc)
    await svc.start()
    writeState({
      kind,
      pid: svc.pid ?? 0,
      url: svc.url,
      port: svc.port,
      controllerPort: svc instanceof KafkaService ? svc.controllerPort : undefined,
      runDir: svc.runDir ?? '',
      attached,
      owner: process.pid,
      startedAt: new Date().toISOString(),
      version: kind === 'kafka' ? KAFKA_VERSION : kind === 'registry' ? REGISTRY_VERSION : undefined
    })
  }))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) {
    await Promise.all(started.map((s) => s.close().catch(() => {})))
    throw failed.reason
  }
  writeEnvFile()
  return started
}

function printUrls (): void {
  const kafka = runningState('kafka')
  const redis = runningState('redis')
  if (kafka) console.log(`kafka  ${kafka.url}      HOURGLASS_KAFKA_BROKERS=${kafka.url}`)
  if (redis) console.log(`redis  ${redis.url}  HOURGLASS_REDIS_URL=${redis.url}`)
  const registry = runningState('registry')
  if (registry) console.log(`registry  ${registry.url}  HOURGLASS_SCHEMA_REGISTRY_URL=${registry.url}`)
}

async function cliStop (opts: Options): Promise<void> {
  for (const kind of targets(opts.target)) {
    const s = runningState(kind)
    if (!s) { console.log(`${kind}: not running`); continue }
    const t0 = Date.now()
    const politely = kind === 'redis' ? () => shutdownRedis(s.url) : undefined
    const how = await terminate(s.pid, { graceMs: kind === 'kafka' ? 30_000 : 10_000, politely })
    fs.rmSync(s.runDir, { recursive: true, force: true, maxRetries: 3 })
    removeState(kind)
    console.log(`${kind}: ${how} in ${seconds(Date.now() - t0)}`)
  }
  writeEnvFile()
}

async function health (kind: Kind, url: string): Promise<string> {
  if (kind === 'kafka') {
    const c = await describeKafka(url, 2000)
    return `answers (cluster ${c.clusterId}, ${c.brokers.length} broker)`
  }
  if (kind === 'registry') {
    const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) })
    return `answers ${res.status} on /subjects`
  }
  const pong = await withRedis(url, 2000, (redis) => redis.ping())
  return pong === 'PONG' ? 'answers PING' : `answers ${pong}`
}

async function cliStatus (opts: Options): Promise<number> {
  let down = 0
  for (const kind of targets(opts.target)) {
    const s = runningState(kind)
    if (!s) { console.log(`${kind}: not running`); down++; continue }
    let said: string
    try {
      said = await health(kind, s.url)
    } catch (err) {
      said = `does not answer (${(err as Error).message})`
      down++
    }
    const how = s.attached ? `\`run\` by pid ${s.owner}` : '`start`'
    console.log(`${kind}: ${s.url} pid ${s.pid}, started ${s.startedAt} by ${how}; ${said}`)
  }
  console.log(`kafka jars: ${kafkaFetched() ? `${KAFKA_VERSION} in ${path.relative(ROOT, KAFKA_LIB)}` : 'not fetched (`fetch kafka`)'}`)
  console.log(`registry jar: ${registryBuilt() ? `${REGISTRY_VERSION} ${path.relative(ROOT, registryJar())}` : 'not built (`fetch registry`)'}`)
  return down
}

async function cliRun (opts: Options): Promise<void> {
  const t0 = Date.now()
  const services = await cliStart(opts, { attached: true })
  console.log(`services ready in ${seconds(Date.now() - t0)}:`)
  printUrls()
  console.log('Ctrl-C stops them.')
  let stopping = false
  await new Promise<void>((resolve) => {
    const onSignal = async (signal: string): Promise<void> => {
      if (stopping) { console.error(`\n${signal} again: killing`); killAllNow(); process.exit(130) }
      stopping = true
      console.error(`\n${signal}: stopping …`)
      await Promise.all(services.map((s) => s.close().catch((err: Error) => console.error(err.message))))
      writeEnvFile()
      resolve()
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, (signal) => { void onSignal(signal) })
    // a service that dies on its own ends `run`, loudly; meanwhile the services keep us alive
    for (const svc of services) {
      const child = svc.child
      child?.process.ref()
      void child?.exited.then((e) => {
        if (stopping || svc.child === null) return
        console.error(`${svc.kind} exited on its own (${e.signal ?? 'exit ' + e.code}); see ${svc.runDir}`)
        void onSignal('service exit').then(() => { process.exitCode = 1 })
      })
    }
  })
}

async function cliFetch (opts: Options): Promise<void> {
  const t0 = Date.now()
  await Promise.all(targets(opts.target).map(async (kind) => {
    if (kind === 'kafka') {
      const r = await fetchKafka({})
      await ensureJava(makeLog(undefined))
      console.log(r.fetched ? `kafka: fetched ${KAFKA_VERSION} in ${seconds(r.ms)}` : `kafka: ${KAFKA_VERSION} already in ${path.relative(ROOT, KAFKA_LIB)}`)
    } else if (kind === 'registry') {
      const r = await buildRegistry({})
      const where = path.relative(ROOT, r.jar)
      console.log(r.built ? `registry: built ${REGISTRY_VERSION} in ${seconds(r.ms)}` : `registry: ${REGISTRY_VERSION} already in ${where}`)
    } else {
      const t = Date.now()
      const bin = await ensureRedis({})
      console.log(`redis: ${bin} (${seconds(Date.now() - t)})`)
    }
  }))
  console.log(`fetch done in ${seconds(Date.now() - t0)}`)
}

async function main (argv: string[]): Promise<number> {
  const opts = parseCli(argv)
  if (opts.help || opts.command === null) {
    process.stdout.write(HELP)
    return opts.help ? 0 : 2
  }
  switch (opts.command) {
    case 'fetch':
      await cliFetch(opts)
      return 0
    case 'start':
      await cliStart(opts, { attached: false })
      printUrls()
      return 0
    case 'stop':
      await cliStop(opts)
      return 0
    case 'status':
      return (await cliStatus(opts)) > 0 ? 3 : 0
    case 'run':
      await cliRun(opts)
      return typeof process.exitCode === 'number' ? process.exitCode : 0
    default:
      throw new Error(`unknown command ${opts.command} (run with --help)`)
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err: Error) => { console.error(`services: ${err.message}`); process.exitCode = 1 }
)
