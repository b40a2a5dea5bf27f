// Throughput of the speed pipeline (parse + validate → dedup → windows → memory store apply) on
// one core, fed with synthetic traffic in 1000-record batches; also the history generator's rate.
// Prints JSON; asserts nothing. `node --expose-gc --import tsx bench/pipeline.ts [records] [decode-threads] [in-flight]`
// (--expose-gc keeps the generator's garbage out of the timed part; without it the figure is lower). With decode threads
// (a DecodePool) and batches in flight > 1, a batch is decoded while those ahead of it are applied; main_thread_busy
// is the share of the time the main thread worked (the rest it waited for the threads).
import { loadConfig } from '../src/config.js'
import { generateHistory, type HistoryBatch, sharesOf } from '../src/ingest/index.js'
import { DecodePool, MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'

const records = Number(process.argv[2] ?? 1_000_000)
const threads = Number(process.argv[3] ?? 0)
const inFlight = Math.max(1, Number(process.argv[4] ?? 1))
/** the settings of a start without flags */
const settings = loadConfig({})
const { retentionMs, dedupWindowMs, allowedLatenessMs, deadLetterKeep } = settings
const shares = sharesOf(settings)
const rate = 2000 // records per second of event time
const from = Date.UTC(2026, 0, 5, 12)
const to = from + Math.ceil((records / rate) * 1000)

// the generator alone (records are dropped as they come)
let generated = 0
let started = performance.now()
for (const b of generateHistory({ from, to, rate, seed: 7, shares })) generated += b.records.length
const generatorSeconds = (performance.now() - started) / 1000

// the pipeline: batches are made (untimed) 100 at a time, then processed (timed), with values as
// flat strings, like those decoded from Kafka
let clock = from
const store = new MemorySpeedStore({ now: () => clock, retentionMs, dedupWindowMs })
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
let group: HistoryBatch[] = []
for (const b of generateHistory({ from, to, rate, seed: 7, shares, topic: 'bench' })) {
  for (const r of b.records) r.value = Buffer.from(r.value).toString()
  group.push(b)
  if (group.length === 100) { await run(group); group = [] }
}
await run(group)
const pipelineSeconds = timed / 1000
await store.close()
await pool?.close()
const c = pipeline.counts()

console.log(JSON.stringify({
  events_per_s: Math.round(processed / pipelineSeconds),
  records: processed,
  batches,
  batch_size: 1000,
  decode_threads: threads,
  batches_in_flight: inFlight,
  main_thread_busy: Number((busy / timed).toFixed(2)),
  seconds: Number(pipelineSeconds.toFixed(3)),
  store_apply_ms_total: Number(applyMs.toFixed(1)),
  generator_records_per_s: Math.round(generated / generatorSeconds),
  counts: c,
  store_rows: store.rowCount
}, null, 2))
