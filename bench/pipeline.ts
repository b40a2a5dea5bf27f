// Throughput of the speed pipeline (parse + validate → dedup → windows → store apply) on one core,
// fed with synthetic traffic in 1000-record batches (--batch), no broker; also the history
// generator's rate. Prints JSON; asserts nothing.
//   node --expose-gc --import tsx bench/pipeline.ts [--records 1000000] [--batch 1000] [--store memory|redis] [--rate 2000]
//                                                   [--threads 0] [--in-flight 1] [--enrich SHARE]
// --enrich SHARE: instead, events/s with and without enrichment (wink, the default budget) in one run, SHARE of the valid
// events carrying a review text, memory store (bench/enrich-run.ts); e.g. --records 100000 --enrich 0.2.
// (--expose-gc keeps the generator's garbage out of the timed part; without it the figure is lower). With decode
// threads (a DecodePool) and batches in flight > 1, a batch is decoded while those ahead of it are applied;
// main_thread_busy is the share of the time the main thread worked (the rest it waited for the threads or the store).
// With --store redis, a Redis is started here; the JSON then splits the time into the pipeline's own
// part, the apply round trips, and the apply script's time inside redis-server (INFO commandstats).
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { startRedis } from '../scripts/services/index.js'
import { loadConfig } from '../src/config.js'
import { generateHistory, type HistoryBatch, sharesOf } from '../src/ingest/index.js'
import type { SpeedStore } from '../src/model/index.js'
import { DecodePool, MemorySpeedStore, RedisSpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { enrichComparison } from './enrich-run.js'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    store: { type: 'string', default: 'memory' },
    rate: { type: 'string', default: '2000' },
    threads: { type: 'string', default: '0' },
    'in-flight': { type: 'string', default: '1' },
    enrich: { type: 'string' }
  }
})
const threads = Number(args.threads)
const inFlight = Math.max(1, Number(args['in-flight']))
const records = Number(args.records)
const batchSize = Number(args.batch)
if (args.store !== 'memory' && args.store !== 'redis') throw new Error(`--store memory|redis, not ${args.store}`)
/** the settings of a start without flags */
const settings = loadConfig({})
const { retentionMs, dedupWindowMs, allowedLatenessMs, deadLetterKeep } = settings
const shares = sharesOf(settings)
/** records per second of event time */
const rate = Number(args.rate)
const from = Date.UTC(2026, 0, 5, 12)
const to = from + Math.ceil((records / rate) * 1000)

if (args.enrich !== undefined) {
  const batches = [...generateHistory({ from, to, rate, seed: 7, shares, topic: 'bench', chunkSize: batchSize })]
  console.log(JSON.stringify(await enrichComparison(batches, Number(args.enrich), settings), null, 2))
  process.exit(0)
}

// the generator alone (records are dropped as they come)
let generated = 0
let started = performance.now()
for (const b of generateHistory({ from, to, rate, seed: 7, shares, chunkSize: batchSize })) generated += b.records.length
const generatorSeconds = (performance.now() - started) / 1000

// the pipeline: batches are made (untimed) 100 at a time, then processed (timed), with values as
// flat strings, like those decoded from Kafka
let clock = from
const redis = args.store === 'redis' ? await startRedis({ log: false }) : null
const admin = redis === null ? null : new Redis(redis.url)
const store: SpeedStore & { close: () => Promise<void> } = redis === null
  ? new MemorySpeedStore({ now: () => clock, retentionMs, dedupWindowMs })
  : new RedisSpeedStore({ url: redis.url, keyPrefix: 'bench', now: () => clock, retentionMs, dedupWindowMs })
let applyMs = 0
const pool = threads === 0 ? null : new DecodePool({ threads, maxRecordBytes: settings.maxRecordBytes })
const pipeline = new SpeedPipeline({
  store, dedupWindowMs, allowedLatenessMs, deadLetterKeep, collectValid: false, onApplied: (ms) => { applyMs += ms },
  ...(pool === null ? {} : { decode: (values, now) => pool.decode(values, now) })
})
let processed = 0
let batches = 0
let timed = 0
const gc = (globalThis as { gc?: () => void }).gc
let busy = 0
const run = async (group: HistoryBatch[]): Promise<void> => {
  gc?.() // with --expose-gc, the generator's garbage is collected outside the timed part
  started = performance.now()
  const elu = performance.eventLoopUtilization()
  const pending: Promise<unknown>[] = []
  for (const b of group) {
    clock = (b.records[b.records.length - 1] as { at: number }).at
    pending.push(pipeline.process(b, clock))
    if (pending.length >= inFlight) await pending.shift()
    processed += b.records.length
    batches++
  }
  await Promise.all(pending)
  timed += performance.now() - started
  busy += performance.eventLoopUtilization(elu).active
}
try {
  await admin?.config('RESETSTAT')
  let group: HistoryBatch[] = []
  for (const b of generateHistory({ from, to, rate, seed: 7, shares, topic: 'bench', chunkSize: batchSize })) {
    for (const r of b.records) r.value = Buffer.from(r.value).toString()
    group.push(b)
    if (group.length === 100) { await run(group); group = [] }
  }
  await run(group)
  const pipelineSeconds = timed / 1000
  const c = pipeline.counts()
  const stats = admin === null ? null : commandStats(await admin.info('commandstats'))
  const memory = admin === null ? null : Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
  console.log(JSON.stringify({
    store: args.store,
    events_per_s: Math.round(processed / pipelineSeconds),
    records: processed,
    batches,
    batch_size: batchSize,
    decode_threads: threads,
    batches_in_flight: inFlight,
    main_thread_busy: Number((busy / timed).toFixed(2)),
    seconds: Number(pipelineSeconds.toFixed(3)),
    store_apply_ms_total: Number(applyMs.toFixed(1)),
    ...(stats === null ? {} : { redis_ms_total: stats, redis_used_memory_bytes: memory }),
    generator_records_per_s: Math.round(generated / generatorSeconds),
    counts: c,
    ...(store instanceof MemorySpeedStore ? { store_rows: store.rowCount } : {})
  }, null, 2))
} finally {
  await store.close()
  await pool?.close()
  await admin?.quit()
  await redis?.close()
}

/** milliseconds spent in redis-server per command (INFO commandstats), the busiest first */
function commandStats (info: string): Record<string, number> {
  const out: Array<[string, number]> = []
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) out.push([`${m[1]} (${m[2]} calls)`, Math.round(Number(m[3]) / 1000)])
  return Object.fromEntries(out.sort((a, b) => b[1] - a[1]).slice(0, 8))
}
