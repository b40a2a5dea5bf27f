// The service's memory under a steady rate for minutes: RSS, V8 heap and buffers, sampled inside the process.
// Prints a table (one row per sample) and then JSON; asserts nothing.
//
//   node --import tsx bench/rss.ts [--minutes 10] [--store memory|redis] [--rate 50000] [--producers 1] [--partitions 4]
//                                  [--sample-seconds 10] [--node-flag=--max-semi-space-size=8 …] [--env NAME=VALUE …]
//
// A real broker (and Redis with --store redis) is started here. The whole app, `serve --source kafka` at the default
// settings (one hour of retention; speed and bronze consumers, the batch job, the API), runs as a child process with
// bench/rss-probe.ts loaded: every --sample-seconds it records process.memoryUsage() and V8's committed heap spaces.
// --producers child processes (outside the service) produce synthetic traffic at --rate in all, event times now.
// --node-flag and --env (repeatable) go to the service's node and environment: the comparisons of V8 flags,
// MALLOC_ARENA_MAX or HOURGLASS_* settings are runs of this bench. No CPU profiler runs in the service.
//
// JSON: start/peak/end RSS (MB), the slope of RSS over the last half of the run (least squares, MB/min), flat (that
// slope within ±2 MB/min), under_300mb (the peak), the rates produced and consumed, the load average at the start and end.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { sharesOf, TrafficGenerator } from '../src/ingest/index.js'
import { eventKey, KafkaWriter, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import { startServices } from '../scripts/services/index.js'
import { ServiceChild } from './service-child.js'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    store: { type: 'string', default: 'memory' },
    rate: { type: 'string', default: '50000' },
    producers: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '4' },
    'sample-seconds': { type: 'string', default: '10' },
    'node-flag': { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
    // child mode: produce to a topic at a rate for a time
    'produce-child': { type: 'string' },
    brokers: { type: 'string' },
    seed: { type: 'string', default: '1' }
  }
})

const RATE = Number(args.rate)
const SECONDS = Number(args.minutes) * 60

if (args['produce-child'] !== undefined) {
  await produce(args.brokers as string, args['produce-child'], RATE, SECONDS, Number(args.seed))
  process.exit(0)
}

const STORE = args.store as string
if (!['memory', 'redis'].includes(STORE)) throw new Error(`--store memory|redis, not ${STORE}`)
const PRODUCERS = Number(args.producers)
const PARTITIONS = Number(args.partitions)
const SAMPLE_MS = Number(args['sample-seconds']) * 1000
const extraEnv = Object.fromEntries(args.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))

interface Sample {
  at: number
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
  spaces: Record<string, number>
}

const services = await startServices({ kafka: true, redis: STORE === 'redis', log: false, kafkaOptions: { numPartitions: PARTITIONS } })
const brokers = (services.kafka as { brokers: string }).brokers
const dir = await mkdtemp(join(tmpdir(), 'hg-bench-rss-'))
const probeFile = join(dir, 'probe.jsonl')
const load1 = loadavg()[0] as number
const producers: ChildProcess[] = []
try {
  const topic = `bench-rss-${process.pid}`
  const w = new KafkaWriter({ brokers, logLevel: 'nothing' })
  await w.connect()
  await w.createTopic(topic, PARTITIONS)
  await w.close()
  const storeEnv: Record<string, string> = STORE === 'redis'
    ? { HOURGLASS_REDIS_URL: (services.redis as { url: string }).url, HOURGLASS_REDIS_PREFIX: `rss${process.pid}` }
    : {}
  const service = await ServiceChild.start({
    HOURGLASS_STORE: STORE, ...storeEnv, HOURGLASS_DATA_DIR: join(dir, 'data'), HOURGLASS_SOURCE: 'kafka', HOURGLASS_KAFKA_BROKERS: brokers,
    HOURGLASS_KAFKA_TOPICS: topic, HOURGLASS_KAFKA_GROUP: `rss-${process.pid}`, HOURGLASS_KAFKA_BRONZE_GROUP: `rss-bronze-${process.pid}`,
    HOURGLASS_DLQ_TOPIC: `${topic}.dlq`, HOURGLASS_LOG_LEVEL: 'warn', HOURGLASS_SEED_DAYS: '0',
    HG_RSS_PROBE_FILE: probeFile, HG_RSS_PROBE_MS: String(SAMPLE_MS), ...extraEnv
  }, 120_000, { cpuProfile: false, nodeArgs: [...args['node-flag'], '--import', fileURLToPath(new URL('./rss-probe.ts', import.meta.url))] })
  const t0 = Date.now()
  producers.push(...Array.from({ length: PRODUCERS }, (_, i) => spawn(process.execPath, [
    '--import', 'tsx', fileURLToPath(import.meta.url), '--produce-child', topic, '--brokers', brokers,
    '--rate', String(RATE / PRODUCERS), '--minutes', String(SECONDS / 60), '--seed', String(i + 1)
  ], { stdio: ['ignore', 'pipe', 'inherit'] })))
  const sent = producers.map((c) => new Promise<number>((resolve) => {
    let out = ''
    c.stdout?.setEncoding('utf8').on('data', (x: string) => { out += x })
    c.once('close', () => resolve(Number(/"sent":(\d+)/.exec(out)?.[1] ?? 0)))
  }))
  // consumed so far, beside each probe sample
  const consumed: { at: number, received: number }[] = []
  const poll = setInterval(() => {
    service.get<{ received: number }>('/v1/quality').then((q) => consumed.push({ at: Date.now(), received: q.received }), () => undefined)
  }, SAMPLE_MS)
  const produced = (await Promise.all(sent)).reduce((a, b) => a + b, 0)
  const producedSeconds = (Date.now() - t0) / 1000
  clearInterval(poll)
  const received = (await service.get<{ received: number }>('/v1/quality')).received
  await service.stop()
  const samples = (await readFile(probeFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Sample).filter((s) => s.at >= t0 - SAMPLE_MS)
  const mb = (b: number): number => Math.round(b / 1_048_576)
  console.log('  t_s  rss_mb  heap_used  heap_total  new_space  old_space  external  array_buffers  consumed')
  for (const s of samples) {
    const c = consumed.filter((x) => x.at <= s.at + 1000).at(-1)?.received ?? 0
    console.log([Math.round((s.at - t0) / 1000), mb(s.rss), mb(s.heapUsed), mb(s.heapTotal), mb(s.spaces.new_space ?? 0), mb(s.spaces.old_space ?? 0),
      mb(s.external), mb(s.arrayBuffers), c].map((v, i) => String(v).padStart(i === 0 ? 5 : [7, 10, 11, 10, 10, 9, 14, 10][i - 1] as number)).join(''))
  }
  const rss = samples.map((s) => s.rss)
  const half = samples.slice(Math.floor(samples.length / 2))
  const slope = slopeMbPerMin(half.map((s) => [(s.at - t0) / 60_000, s.rss / 1_048_576]))
  const peak = Math.max(...rss)
  const end = samples.at(-1) as Sample
  console.log(JSON.stringify({
    store: STORE,
    minutes: SECONDS / 60,
    retention_ms: loadConfig({}).retentionMs,
    target_rate: RATE,
    produced_rate: Math.round(produced / producedSeconds),
    consumed_rate: Math.round(received / producedSeconds),
    node_flags: args['node-flag'],
    env: extraEnv,
    rss_start_mb: mb(rss[0] as number),
    rss_peak_mb: mb(peak),
    rss_end_mb: mb(end.rss),
    slope_last_half_mb_per_min: slope === null ? null : Number(slope.toFixed(1)),
    at_end_mb: { heap_used: mb(end.heapUsed), heap_total: mb(end.heapTotal), external: mb(end.external), array_buffers: mb(end.arrayBuffers),
      rest: mb(end.rss - end.heapTotal - end.external) },
    flat: slope === null ? null : Math.abs(slope) <= 2,
    under_300mb: peak <= 300 * 1_048_576,
    load_average_1m: { start: Number(load1.toFixed(2)), end: Number((loadavg()[0] as number).toFixed(2)) }
  }, null, 2))
} finally {
  for (const c of producers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await services.stop()
  await rm(dir, { recursive: true, force: true })
}

/** least-squares slope of y over x, or null with fewer than 3 points */
function slopeMbPerMin (points: [number, number][]): number | null {
  if (points.length < 3) return null
  const n = points.length
  const mx = points.reduce((a, p) => a + p[0], 0) / n
  const my = points.reduce((a, p) => a + p[1], 0) / n
  const sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0)
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0)
  return sxx === 0 ? null : sxy / sxx
}

/** the child: synthetic traffic at `rate` for `seconds`, in sends of 100 ms of traffic; prints how many it sent */
async function produce (brokers: string, topic: string, rate: number, seconds: number, seed: number): Promise<void> {
  const writer = new KafkaWriter({ brokers, logLevel: 'nothing', maxBatch: 10_000 })
  await writer.connect()
  const gen = new TrafficGenerator({ seed, shares: sharesOf(loadConfig({})) })
  const started = Date.now()
  let sent = 0
  while (Date.now() - started < seconds * 1000) {
    const now = Date.now()
    const due = Math.min(Math.ceil(rate / 10), Math.floor((rate * (now - started)) / 1000) - sent)
    if (due <= 0) { await new Promise((resolve) => setTimeout(resolve, 5)); continue }
    const records: OutgoingRecord[] = []
    for (let i = 0; i < due; i++) {
      const value = gen.record(now)
      records.push({ key: eventKey(value), value })
    }
    await writer.send(topic, records)
    sent += due
  }
  process.stdout.write(JSON.stringify({ sent }) + '\n')
  await writer.close()
}
