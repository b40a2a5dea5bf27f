// Ingest throughput, and freshness at a fixed rate, through a real Kafka broker (started here). Prints JSON; asserts nothing.
//
//   node --import tsx bench/ingest.ts [--events 500000] [--partitions 4] [--store memory|redis|cosmos]
//                                     [--rate 50000] [--seconds 10] [--decode-workers 0] [--bronze-share-wait 1s]
//   node --import tsx bench/ingest.ts --format avro [--events 100000]   (Avro decode vs JSON.parse: bench/avro-decode.ts)
// (--seconds 600: the ten-minute RSS run at the default one-hour retention)
//
// 1. throughput: N synthetic events are produced to a fresh topic first; then, on that topic,
//    (a) raw kafkajs consumption with a no-op eachBatch handler (its own group) and
//    (b) the speed path: KafkaSource → SpeedPipeline (validate, dedup, windows) → one store apply
//        per batch with its position (exactly-once), in its own group;
//    events/s of each and their ratio.
//    With --store cosmos, (b) runs twice on the same topic, each in its own group: on the Cosmos DB
//    store (a Cosmos DB API server, @vercel/cosmosdb-server, started here as a child process on
//    loopback: the stand-in for Azure Cosmos DB), then on the Redis store; cosmos_events_per_s,
//    redis_events_per_s and ratio_to_redis compare them (from the first batch on, as `ratio`).
//    With --decode-workers N > 0, (b) parses and validates in N worker threads (HOURGLASS_DECODE_WORKERS), then
//    runs once more in this thread in its own group: decode_workers compares the two.
// 2. freshness: the whole app (`serve --source kafka`, a child process at the default settings,
//    bench/service-child.ts) consumes a second topic while another child produces synthetic traffic
//    at a fixed rate, with a probe event every 50 ms (its own region); this process polls
//    /v1/metrics/live over HTTP every 10 ms and records, per probe, the time from its send to its
//    first appearance in the answer: p50/p99/max. Meanwhile the service's RSS is sampled, and its
//    CPU profile (10 ms samples) tells what the bronze consumer costs (`bronze`): the time under its
//    consumer's batches (record texts, the feed, parsing what the speed path did not validate for it, the
//    validations it takes) and under its sink (appends, Parquet writes), by event, and its share of the main thread's
//    JavaScript time (the samples' times include waiting for a core on a loaded machine, so per event they run high).
//    --bronze-share-wait 0 makes bronze parse every record itself (HOURGLASS_BRONZE_SHARE_WAIT): runs with
//    and without, alternating, compare the two.
// 3. targets_met: each target of the issue with its value, goal and whether this run met it.
// The broker, this process and the producer child share the machine (2 cores here): the figures
// are what one box does with everything on it.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SPEED_PARTITIONS_AT_ONCE } from '../src/app/sources.js'
import { loadConfig } from '../src/config.js'
import { type RawBatch, sharesOf, TrafficGenerator } from '../src/ingest/index.js'
import { createKafka, eventKey, KafkaSource, KafkaWriter, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import type { MetricsResult, SpeedStore } from '../src/model/index.js'
import { CosmosSpeedStore, DecodePool, MemorySpeedStore, RedisSpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { startCosmosServer, startServices } from '../scripts/services/index.js'
import { timeUnder } from './cpu-profile.js'
import { rawKafkajs } from './raw-kafkajs.js'
import { ServiceChild } from './service-child.js'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '500000' },
    partitions: { type: 'string', default: '4' },
    store: { type: 'string', default: 'memory' },
    rate: { type: 'string', default: '50000' },
    seconds: { type: 'string', default: '10' },
    'decode-workers': { type: 'string', default: '0' },
    'bronze-share-wait': { type: 'string' },
    format: { type: 'string', default: 'json' },
    // child mode: produce at a rate with probes, print probe send times
    'produce-child': { type: 'string' },
    brokers: { type: 'string' }
  }
})

if (args['produce-child'] !== undefined) {
  await produceChild(args.brokers as string, args['produce-child'], Number(args.rate), Number(args.seconds))
  process.exit(0)
}

// --format avro: Avro decoding against JSON.parse on the same events, in this process (no services)
if (args.format === 'avro') {
  const { avroVsJson } = await import('./avro-decode.js')
  console.log(JSON.stringify({ format: 'avro', ...avroVsJson(Math.min(Number(args.events), 100_000), 5, sharesOf(loadConfig({}))) }, null, 2))
  process.exit(0)
}
if (args.format !== 'json') throw new Error(`--format json|avro, not ${args.format}`)

const EVENTS = Number(args.events)
const PARTITIONS = Number(args.partitions)
const RATE = Number(args.rate)
const SECONDS = Number(args.seconds)
const DECODE_WORKERS = Number(args['decode-workers'])
type StoreKind = 'memory' | 'redis' | 'cosmos'
const STORE = args.store as StoreKind
if (!['memory', 'redis', 'cosmos'].includes(STORE)) throw new Error(`--store memory|redis|cosmos, not ${STORE}`)
/** the settings of a start without flags */
const settings = loadConfig({})
const { retentionMs, dedupWindowMs, allowedLatenessMs, deadLetterKeep } = settings

// cosmos is compared with redis: both run
const services = await startServices({ kafka: true, redis: STORE !== 'memory', log: false, kafkaOptions: { numPartitions: PARTITIONS } })
const cosmos = STORE === 'cosmos' ? await startCosmosServer() : null
const brokers = (services.kafka as { brokers: string }).brokers
const dir = await mkdtemp(join(tmpdir(), 'hg-bench-ingest-'))
try {
  const result: Record<string, unknown> = { events: EVENTS, partitions: PARTITIONS, store: args.store }

  // --- 1. throughput ------------------------------------------------------------------------
  const topic = `bench-ingest-${process.pid}`
  const writer = new KafkaWriter({ brokers, logLevel: 'nothing', maxBatch: 10_000 })
  await writer.connect()
  await writer.createTopic(topic, PARTITIONS)
  const gen = new TrafficGenerator({ seed: 11, shares: sharesOf(settings) })
  const t = performance.now()
  // event times as if produced at 50,000/s just now: the partitions' batches interleave within the
  // allowed lateness, so the windows do the work of on-time events (not mostly late ones)
  const span = Math.ceil(EVENTS / 50)
  const base = Date.now() - span - 60_000
  const chunk = 20_000
  for (let i = 0; i < EVENTS; i += chunk) {
    const records: OutgoingRecord[] = []
    for (let j = i; j < Math.min(EVENTS, i + chunk); j++) {
      const value = gen.record(base + Math.floor((j * span) / EVENTS))
      records.push({ key: eventKey(value), value })
    }
    await writer.send(topic, records)
  }
  result.produce_events_per_s = Math.round(EVENTS / ((performance.now() - t) / 1000))

  // (a) raw kafkajs, no-op handler
  const raw = await rawKafkajs(createKafka({ brokers, logLevel: 'nothing' }), topic, `raw-${process.pid}`, EVENTS)
  result.raw_kafkajs_events_per_s = raw.events_per_s
  result.raw_kafkajs_events_per_s_after_first_batch = raw.events_per_s_after_first_batch

  // (b) KafkaSource → pipeline → store
  const speed = await speedPath(topic, STORE, `speed-${process.pid}`, DECODE_WORKERS)
  result.speed_events_per_s = speed.events_per_s
  result.speed_events_per_s_after_first_batch = speed.events_per_s_after_first_batch
  result.speed_batches = speed.batches
  result.speed_time = speed.time
  result.speed_counts = speed.counts
  if (STORE === 'cosmos') {
    const redis = await speedPath(topic, 'redis', `speed-redis-${process.pid}`)
    result.cosmos_events_per_s = speed.events_per_s_after_first_batch
    result.redis_events_per_s = redis.events_per_s_after_first_batch
    result.ratio_to_redis = Number((speed.events_per_s_after_first_batch / redis.events_per_s_after_first_batch).toFixed(3))
  }
  if (DECODE_WORKERS > 0) {
    const inThread = await speedPath(topic, STORE, `speed-in-thread-${process.pid}`, 0)
    result.decode_workers = {
      threads: DECODE_WORKERS,
      events_per_s: speed.events_per_s_after_first_batch,
      in_thread_events_per_s: inThread.events_per_s_after_first_batch,
      ratio_to_in_thread: Number((speed.events_per_s_after_first_batch / inThread.events_per_s_after_first_batch).toFixed(3))
    }
  }
  // the ratio from the first batch on: both include a group join before it, which is not throughput
  result.ratio = Number(((result.speed_events_per_s_after_first_batch as number) / (result.raw_kafkajs_events_per_s_after_first_batch as number)).toFixed(3))
  result.ratio_including_join = Number(((result.speed_events_per_s as number) / (result.raw_kafkajs_events_per_s as number)).toFixed(3))
  await writer.close()

  // --- 2. freshness at a fixed rate ---------------------------------------------------------------
  {
    const ftopic = `bench-fresh-${process.pid}`
    const w = new KafkaWriter({ brokers, logLevel: 'nothing' })
    await w.connect()
    await w.createTopic(ftopic, PARTITIONS)
    await w.close()
    const storeEnv: Record<string, string> = STORE === 'memory'
      ? {}
      : STORE === 'redis'
        ? { HOURGLASS_REDIS_URL: (services.redis as { url: string }).url, HOURGLASS_REDIS_PREFIX: `f${process.pid}` }
        : (cosmos as NonNullable<typeof cosmos>).env('bench', `f${process.pid}`)
    // the service alone in its own process, at the default settings (one hour of retention)
    const service = await ServiceChild.start({
      HOURGLASS_STORE: STORE, ...storeEnv, HOURGLASS_DATA_DIR: join(dir, 'data'), HOURGLASS_SOURCE: 'kafka', HOURGLASS_KAFKA_BROKERS: brokers,
      HOURGLASS_KAFKA_TOPICS: ftopic, HOURGLASS_KAFKA_GROUP: `fresh-${process.pid}`, HOURGLASS_KAFKA_BRONZE_GROUP: `fresh-bronze-${process.pid}`,
      HOURGLASS_DLQ_TOPIC: `${ftopic}.dlq`, HOURGLASS_LOG_LEVEL: 'warn', HOURGLASS_SEED_DAYS: '0',
      HOURGLASS_DECODE_WORKERS: String(DECODE_WORKERS),
      ...(args['bronze-share-wait'] === undefined ? {} : { HOURGLASS_BRONZE_SHARE_WAIT: args['bronze-share-wait'] })
    })
    const cpuFrom = await service.cpuSeconds()
    const rss: number[] = []
    const sampleRss = setInterval(() => { service.rss().then((b) => rss.push(b), () => undefined) }, 1000)
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--produce-child', ftopic, '--brokers', brokers, '--rate', String(RATE), '--seconds', String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const sentAt = new Map<string, number>()
    const seenAt = new Map<string, number>()
    let produced: { sent: number, seconds: number } | null = null
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { probe?: string, at?: number, sent?: number, seconds?: number }
      if (m.probe !== undefined) sentAt.set(m.probe, m.at as number)
      else if (m.sent !== undefined) produced = { sent: m.sent, seconds: m.seconds as number }
    })
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
    let running = true
    void exited.then(() => { setTimeout(() => { running = false }, 3000) })
    while (running) {
      const answer = await service.get<MetricsResult>('/v1/metrics/live?last=5m&event_type=probe&group_by=region')
      const at = Date.now()
      for (const row of answer.rows) {
        const region = row.region as string
        if (!seenAt.has(region)) seenAt.set(region, at)
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const lat: number[] = []
    let missing = 0
    for (const [probe, at] of sentAt) {
      const seen = seenAt.get(probe)
      if (seen === undefined) missing++
      else lat.push(seen - at)
    }
    clearInterval(sampleRss)
    const cpuSeconds = (await service.cpuSeconds()) - cpuFrom
    const consumed = (await service.get<{ received: number }>('/v1/quality')).received
    const metrics = await service.metrics()
    const profile = await service.stop()
    lat.sort((a, b) => a - b)
    const q = (p: number): number | null => lat.length === 0 ? null : lat[Math.min(lat.length - 1, Math.floor(p * (lat.length - 1)))] as number
    const p = produced as { sent: number, seconds: number } | null
    result.freshness = {
      target_rate: RATE,
      seconds: SECONDS,
      produced: p?.sent ?? null,
      achieved_rate: p === null ? null : Math.round(p.sent / p.seconds),
      consumed,
      probes: sentAt.size,
      probes_not_seen: missing,
      p50_ms: q(0.5),
      p99_ms: q(0.99),
      max_ms: lat.length === 0 ? null : lat[lat.length - 1]
    }
    const perEvent = (ms: number): number => consumed === 0 ? 0 : Number(((ms * 1000) / consumed).toFixed(2))
    // the profile covers the service's whole life (start, the rewind of an empty store, the run): time under a file
    // bronze: its consumer's batches (bronze-source.ts: texts of the records; the feed; the validations it takes from
    // the speed path, offered from there) and its sink's writes
    const bronze = profile === null ? null : timeUnder(profile, /src\/(app\/bronze-(feed|share)|ingest\/kafka\/bronze-source)\.ts$/, ['parseEvent'])
    const bronzeSink = profile === null ? null : timeUnder(profile, /src\/batch\/bronze-sink\.ts$/)
    // the main thread's time in JavaScript (not idle, not GC), less loading modules at start (tsx compiles them); on a
    // loaded machine a sample's time includes waiting for a core
    const mainThread = profile === null ? null : timeUnder(profile, /^(file|node):/).totalMs - timeUnder(profile, /^node:internal\/modules\//).totalMs
    const speedPipeline = profile === null ? null : timeUnder(profile, /src\/speed\/pipeline\.ts$/)
    const mb = (b: number | undefined): number | null => b === undefined ? null : Math.round(b / 1_048_576)
    result.service_cpu = {
      // the whole service: both consumers (each decodes every fetch), the API answering the probes' polls, DuckDB
      cpu_us_per_event: perEvent(cpuSeconds * 1000),
      speed_pipeline_us_per_event: speedPipeline === null ? null : perEvent(speedPipeline.totalMs)
    }
    const bronzeMs = bronze === null || bronzeSink === null ? null : bronze.totalMs + bronzeSink.totalMs
    result.bronze = {
      share_wait: args['bronze-share-wait'] ?? 'default',
      consumer_us_per_event: bronze === null ? null : perEvent(bronze.totalMs),
      // records bronze parsed itself (all of them with --bronze-share-wait 0)
      parse_us_per_event: bronze === null ? null : perEvent(bronze.byName.parseEvent ?? 0),
      sink_us_per_event: bronzeSink === null ? null : perEvent(bronzeSink.totalMs),
      us_per_event: bronzeMs === null ? null : perEvent(bronzeMs),
      share_of_main_thread: bronzeMs === null || mainThread === null || mainThread <= 0 ? null : Number((bronzeMs / mainThread).toFixed(3))
    }
    result.rss = {
      retention_ms: retentionMs,
      seconds: SECONDS,
      start_mb: mb(rss[0]),
      max_mb: mb(rss.length === 0 ? undefined : Math.max(...rss)),
      end_mb: mb(rss[rss.length - 1]),
      // at the end: V8's heap (used, and reserved), memory outside it that V8 tracks (buffers), and the rest (DuckDB, code, …)
      heap_used_mb: mb(metrics.get('nodejs_heap_size_used_bytes')),
      heap_total_mb: mb(metrics.get('nodejs_heap_size_total_bytes')),
      external_mb: mb(metrics.get('nodejs_external_memory_bytes')),
      other_mb: mb((rss[rss.length - 1] ?? 0) - (metrics.get('nodejs_heap_size_total_bytes') ?? 0) - (metrics.get('nodejs_external_memory_bytes') ?? 0)),
      // the last sample against the one at a third of the run: flat is about 0
      growth_mb_per_min: rss.length < 6 ? null : Number((((rss[rss.length - 1] as number) - (rss[Math.floor(rss.length / 3)] as number)) / 1_048_576 / ((rss.length - 1 - Math.floor(rss.length / 3)) / 60)).toFixed(1))
    }
  }
  // the ingest targets, reported (not asserted): what this run shows against them
  const fresh = result.freshness as { p99_ms: number | null, target_rate: number }
  const rssMax = (result.rss as { max_mb: number | null }).max_mb
  const target = (value: number | null, goal: number, atMost = false): { value: number | null, goal: string, met: boolean | null } =>
    ({ value, goal: (atMost ? '≤ ' : '≥ ') + goal, met: value === null ? null : atMost ? value <= goal : value >= goal })
  const targets = {
    ratio: target(result.ratio as number, STORE === 'memory' ? 0.8 : 0.6),
    speed_events_per_s: target(result.speed_events_per_s_after_first_batch as number, 200_000),
    // at 50,000 events/s only (--rate 50000, the default): null otherwise
    freshness_p99_ms: fresh.target_rate === 50_000 ? target(fresh.p99_ms, 1000, true) : target(null, 1000, true),
    rss_max_mb: target(rssMax, 300, true)
  }
  result.targets_met = { ...targets, all: Object.values(targets).every((t) => t.met === true) }
  console.log(JSON.stringify(result, null, 2))
} finally {
  await cosmos?.close()
  await services.stop()
  await rm(dir, { recursive: true, force: true })
}

/** A fresh store: `name` is its Redis key prefix or Cosmos DB container. */
async function makeStore (kind: StoreKind, name: string): Promise<SpeedStore> {
  if (kind === 'cosmos') {
    const c = cosmos as NonNullable<typeof cosmos>
    return await CosmosSpeedStore.open({ endpoint: c.endpoint, key: c.key, database: 'bench', container: name, clientOptions: c.clientOptions, retentionMs, dedupWindowMs })
  }
  if (kind === 'redis') return new RedisSpeedStore({ url: (services.redis as { url: string }).url, keyPrefix: name, retentionMs, dedupWindowMs })
  return new MemorySpeedStore({ retentionMs, dedupWindowMs })
}

/** (b): KafkaSource → SpeedPipeline → one store apply per batch, on `topic` from the start in group `group`. */
async function speedPath (topic: string, kind: StoreKind, group: string, decodeWorkers = 0): Promise<{
  events_per_s: number, events_per_s_after_first_batch: number, batches: number, time: Record<string, number>, counts: unknown
}> {
  const store = await makeStore(kind, `t${group}`)
  /** ms with a handler running (handlers of several partitions overlap), and the sum of store.apply round trips */
  let handlerMs = 0
  let applyMs = 0
  let running = 0
  let busySince = 0
  const pool = decodeWorkers === 0 ? null : new DecodePool({ threads: decodeWorkers, maxRecordBytes: settings.maxRecordBytes })
  const pipeline = new SpeedPipeline({
    store, dedupWindowMs, allowedLatenessMs, deadLetterKeep, collectValid: false, onApplied: (ms) => { applyMs += ms },
    ...(pool === null ? {} : { decode: (values, now) => pool.decode(values, now) })
  })
  let n = 0
  let first = 0
  let applies = 0
  let done!: () => void
  const finished = new Promise<void>((resolve) => { done = resolve })
  const source = new KafkaSource({
    brokers,
    topics: [topic],
    groupId: group,
    partitionsConsumedConcurrently: SPEED_PARTITIONS_AT_ONCE, // as the app's
    ...(pool === null ? {} : { onFetchedAhead: (b: RawBatch) => pipeline.decodeAhead(b, Date.now()) }), // as the app's
    positions: (tp, p) => store.position(tp, p),
    rebuildFrom: () => Date.now() - retentionMs,
    logLevel: 'nothing'
  })
  let cpuFrom = process.cpuUsage()
  await source.start(async (batch) => {
    if (first === 0) { first = performance.now(); cpuFrom = process.cpuUsage() }
    if (running++ === 0) busySince = performance.now()
    const r = await pipeline.process(batch, Date.now()).finally(() => { if (--running === 0) handlerMs += performance.now() - busySince })
    if (r.applied) applies++
    n += batch.records.length
    if (n >= EVENTS) done()
  })
  const t = performance.now()
  await finished
  const end = performance.now()
  const cpu = process.cpuUsage(cpuFrom)
  await source.stop()
  await store.close()
  await pool?.close()
  const us = (ms: number): number => Number(((ms * 1000) / EVENTS).toFixed(2))
  return {
    events_per_s: Math.round(EVENTS / ((end - t) / 1000)),
    events_per_s_after_first_batch: Math.round(EVENTS / ((end - first) / 1000)),
    batches: applies,
    // µs per event from the first batch on: wall time; with a handler (the pipeline) running; the store.apply round
    // trips, summed (they overlap each other and other handlers); with no handler running (kafkajs fetching and
    // decoding); CPU of this process (all threads)
    time: {
      wall_us_per_event: us(end - first),
      handler_us_per_event: us(handlerMs),
      apply_sum_us_per_event: us(applyMs),
      outside_handler_us_per_event: us(end - first - handlerMs),
      cpu_us_per_event: us((cpu.user + cpu.system) / 1000)
    },
    counts: pipeline.counts()
  }
}

/** The child: synthetic traffic at `rate` for `seconds`, a probe event every 50 ms; prints probe send times. */
async function produceChild (brokers: string, topic: string, rate: number, seconds: number): Promise<void> {
  const writer = new KafkaWriter({ brokers, logLevel: 'nothing' })
  await writer.connect()
  const gen = new TrafficGenerator({ seed: 5, shares: { duplicate: 0, late: 0, invalid: 0 } })
  const started = Date.now()
  let sent = 0
  let probes = 0
  let nextProbe = started
  const out: string[] = []
  while (Date.now() - started < seconds * 1000) {
    const now = Date.now()
    // small sends (≤ 50 ms of traffic, at most 2000): a probe waits for no more than its own send
    const due = Math.min(Math.max(1, Math.ceil(rate / 20)), 2000, Math.floor((rate * (now - started)) / 1000) - sent)
    if (due <= 0) { await new Promise((resolve) => setTimeout(resolve, 2)); continue }
    const records: OutgoingRecord[] = []
    for (let i = 0; i < due; i++) {
      const value = gen.record(now)
      records.push({ key: eventKey(value), value })
    }
    let probe: string | null = null
    if (now >= nextProbe) {
      probe = 'p' + probes++
      nextProbe = now + 50
      records.push({ key: probe, value: JSON.stringify({ event_id: 'probe-' + probe, timestamp: now, event_type: 'probe', region: probe }) })
    }
    const at = Date.now()
    await writer.send(topic, records)
    sent += records.length
    if (probe !== null) out.push(JSON.stringify({ probe, at }))
    if (out.length >= 20) process.stdout.write(out.splice(0).join('\n') + '\n')
  }
  if (out.length > 0) process.stdout.write(out.join('\n') + '\n')
  process.stdout.write(JSON.stringify({ sent, seconds: (Date.now() - started) / 1000 }) + '\n')
  await writer.close()
}
