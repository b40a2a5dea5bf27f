// Throughput of the speed pipeline (parse + validate → dedup → windows → store apply) on one core,
// fed with synthetic traffic in 1000-record batches (--batch), no broker; also the history
// generator's rate. Prints JSON; asserts nothing.
//   node --expose-gc --import tsx bench/pipeline.ts [--records 1000000] [--batch 1000] [--store memory|redis] [--rate 2000]
// (--expose-gc keeps the generator's garbage out of the timed part; without it the figure is lower).
// With --store redis, a Redis is started here; the JSON then splits the time into the pipeline's own
// part, the apply round trips, and the apply script's time inside redis-server (INFO commandstats).
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { startRedis } from '../scripts/services/index.js'
import { loadConfig } from '../src/config.js'
import { generateHistory, type HistoryBatch, sharesOf } from '../src/ingest/index.js'
import type { SpeedStore } from '../src/model/index.js'
import { MemorySpeedStore, RedisSpeedStore, SpeedPipeline } from '../src/speed/index.js'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    store: { type: 'string', default: 'memory' },
    rate: { type: 'string', default: '2000' }
  }
})
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
const pipeline = new SpeedPipeline({ store, dedupWindowMs, allowedLatenessMs, deadLetterKeep, collectValid: false, onApplied: (ms) => { applyMs += ms } })
let processed = 0
let batches = 0
let timed = 0
const gc = (globalThis as { gc?: () => void }).gc
const run = async (group: HistoryBatch[]): Promise<void> => {
  gc?.() // with --expose-gc, the generator's garbage is collected outside the timed part
  for (const b of group) {
    clock = (b.records[b.records.length - 1] as { at: number }).at
    started = performance.now()
    await pipeline.process(b, clock)
    timed += performance.now() - started
    processed += b.records.length
    batches++
  }
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
    seconds: Number(pipelineSeconds.toFixed(3)),
    store_apply_ms_total: Number(applyMs.toFixed(1)),
    ...(stats === null ? {} : { redis_ms_total: stats, redis_used_memory_bytes: memory }),
    generator_records_per_s: Math.round(generated / generatorSeconds),
    counts: c,
    ...(store instanceof MemorySpeedStore ? { store_rows: store.rowCount } : {})
  }, null, 2))
} finally {
  await store.close()
  await admin?.quit()
  await redis?.close()
}

/** milliseconds spent in redis-server per command (INFO commandstats), the busiest first */
function commandStats (info: string): Record<string, number> {
  const out: Array<[string, number]> = []
  for (const m of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) out.push([`${m[1]} (${m[2]} calls)`, Math.round(Number(m[3]) / 1000)])
  return Object.fromEntries(out.sort((a, b) => b[1] - a[1]).slice(0, 8))
}
