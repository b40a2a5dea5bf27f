// Scale-out: aggregate events/s of 1, 2, 3 … `serve --source kafka --store redis` processes in one
// consumer group on one topic, through a real Kafka broker and a real Redis (both started here).
// Prints JSON; asserts nothing.
//
//   node --import tsx bench/scale.ts [--events 300000] [--partitions 6] [--max 3]
//
// For k = 1 … max: k serve processes (the CLI from the sources, each its own Node process) start in a
// fresh group on a fresh, empty topic, a fresh Redis key prefix and a fresh data folder. Once the
// group is stable with k members, each holding partitions, they are stopped (SIGSTOP, well within
// their session timeout), N synthetic events are produced, and they are continued (SIGCONT): the
// run's rate is N over the time from then until the store's position of every partition reaches its
// end, so start-up, joins and producing do not count. Raw kafkajs (a no-op eachBatch, one consumer)
// reads the first run's topic afterwards as the reference. One of the k processes leads the data
// folder and also runs the bronze feed (reading every record again and writing Parquet), as in a
// deployment.
//
// Everything shares the machine: the broker, Redis, the k processes and this one. On 2 cores the
// curve flattens from k = 2 on, or falls (the cores, not the group, are the limit: each added process
// contends for the same two); per_process_events_per_s shows it. Scale-out pays off where each
// process has cores of its own.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { AssignerProtocol } from 'kafkajs'
import { loadConfig } from '../src/config.js'
import { sharesOf, TrafficGenerator } from '../src/ingest/index.js'
import { createKafka, eventKey, KafkaWriter, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { startServices } from '../scripts/services/index.js'
import { rawKafkajs } from './raw-kafkajs.js'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    partitions: { type: 'string', default: '6' },
    max: { type: 'string', default: '3' }
  }
})
const EVENTS = Number(args.events)
const PARTITIONS = Number(args.partitions)
const MAX = Number(args.max)
const ENTRY = fileURLToPath(new URL('../scripts/hourglass-dev.ts', import.meta.url))
const settings = loadConfig({})

const services = await startServices({ kafka: true, redis: true, log: false, kafkaOptions: { numPartitions: PARTITIONS } })
const brokers = (services.kafka as { brokers: string }).brokers
const redisUrl = (services.redis as { url: string }).url
const kafka = createKafka({ brokers, logLevel: 'nothing' })
const dir = await mkdtemp(join(tmpdir(), 'hg-bench-scale-'))
const children = new Set<ChildProcess>()
try {
  const topic = (k: number): string => `bench-scale-${k}-${process.pid}`
  const runs: Record<string, number>[] = []
  for (let k = 1; k <= MAX; k++) runs.push(await run(topic(k), k))
  const raw = (await rawKafkajs(kafka, topic(1), `raw-${process.pid}`, EVENTS)).events_per_s_after_first_batch
  const one = runs[0]?.events_per_s ?? 0
  console.log(JSON.stringify({
    events: EVENTS,
    partitions: PARTITIONS,
    cores: availableParallelism(),
    load_average_1m_at_end: Number((loadavg()[0] as number).toFixed(2)),
    raw_kafkajs_events_per_s: raw,
    runs: runs.map((r) => ({
      ...r,
      ratio_to_raw_kafkajs: Number((r.events_per_s as number / raw).toFixed(3)),
      speedup_over_one: Number((r.events_per_s as number / one).toFixed(2))
    })),
    note: `the broker, Redis, every serve process and this one share ${availableParallelism()} cores: the aggregate flattens (or falls: more ` +
      'processes contend for the same cores) once they are busy; ' +
      'per_process_events_per_s is what each process did. One process per run also runs the bronze feed (the leader).'
  }, null, 2))
} finally {
  for (const c of children) c.kill('SIGKILL')
  await services.stop()
  await rm(dir, { recursive: true, force: true })
}

/** N synthetic events, their event times as if produced at 50,000/s just now. */
async function produce (topic: string): Promise<void> {
  const writer = new KafkaWriter({ brokers, logLevel: 'nothing', maxBatch: 10_000 })
  await writer.connect()
  const gen = new TrafficGenerator({ seed: 3, shares: sharesOf(settings) })
  const base = Date.now() - Math.ceil(EVENTS / 50) - 60_000
  for (let i = 0; i < EVENTS; i += 20_000) {
    const records: OutgoingRecord[] = []
    for (let j = i; j < Math.min(EVENTS, i + 20_000); j++) {
      const value = gen.record(base + Math.floor(j / 50))
      records.push({ key: eventKey(value), value })
    }
    await writer.send(topic, records)
  }
  await writer.close()
}

/** k serve processes in a fresh group on a fresh topic; the aggregate rate over N events produced once the group is stable. */
async function run (topic: string, k: number): Promise<Record<string, number>> {
  const writer = new KafkaWriter({ brokers, logLevel: 'nothing' })
  await writer.connect()
  await writer.createTopic(topic, PARTITIONS)
  await writer.close()
  const group = `scale-${k}-${process.pid}`
  const store = new RedisSpeedStore({ url: redisUrl, keyPrefix: group, retentionMs: settings.retentionMs, dedupWindowMs: settings.dedupWindowMs })
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('HOURGLASS_')))
  Object.assign(env, {
    HOURGLASS_KAFKA_BROKERS: brokers,
    HOURGLASS_KAFKA_TOPICS: topic,
    HOURGLASS_KAFKA_GROUP: group,
    HOURGLASS_KAFKA_BRONZE_GROUP: `${group}-bronze`,
    HOURGLASS_DLQ_TOPIC: `${topic}.dlq`,
    HOURGLASS_REDIS_URL: redisUrl,
    HOURGLASS_REDIS_PREFIX: group,
    HOURGLASS_DATA_DIR: join(dir, group),
    HOURGLASS_SEED_DAYS: '0',
    HOURGLASS_LOG_LEVEL: 'error'
  })
  const procs: ChildProcess[] = []
  for (let i = 0; i < k; i++) {
    const c = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'serve', '--source', 'kafka', '--store', 'redis', '--port', '0'], { env, stdio: 'ignore' })
    children.add(c)
    procs.push(c)
  }
  try {
    const applied = async (): Promise<bigint> => {
      let sum = 0n
      for (let p = 0; p < PARTITIONS; p++) sum += BigInt((await store.position(topic, p)) ?? '-1') + 1n
      return sum
    }
    // stable with k members, each holding partitions
    const admin = kafka.admin()
    await admin.connect()
    const deadline = Date.now() + 180_000
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${k} processes did not form a stable group`)
      const g = (await admin.describeGroups([group])).groups[0]
      const held = (g?.members ?? []).map((m) => m.memberAssignment.length === 0
        ? 0
        : (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic]?.length ?? 0))
      if (g?.state === 'Stable' && held.length === k && held.every((n) => n > 0)) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await admin.disconnect()
    for (const c of procs) c.kill('SIGSTOP')
    const p0 = performance.now()
    await produce(topic)
    const produceSeconds = (performance.now() - p0) / 1000
    for (const c of procs) c.kill('SIGCONT')
    const t0 = performance.now()
    while (await applied() < BigInt(EVENTS)) {
      if (procs.some((c) => c.exitCode !== null || c.signalCode !== null)) throw new Error(`a serve process of run ${k} exited`)
      if (performance.now() - t0 > 300_000) throw new Error(`${k} processes did not apply ${EVENTS} events in 300 s`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const seconds = (performance.now() - t0) / 1000
    const rate = Math.round(EVENTS / seconds)
    return {
      processes: k,
      events_per_s: rate,
      per_process_events_per_s: Math.round(rate / k),
      seconds: Number(seconds.toFixed(2)),
      produce_seconds: Number(produceSeconds.toFixed(2))
    }
  } finally {
    for (const c of procs) {
      const exited = new Promise((resolve) => c.once('close', resolve))
      c.kill('SIGTERM')
      await exited
      children.delete(c)
    }
    await store.close()
  }
}
