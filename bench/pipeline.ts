// Throughput of the speed pipeline (parse + validate → dedup → windows → memory store apply) on
// one core, fed with synthetic traffic in 1000-record batches; also the history generator's rate.
// Prints JSON; asserts nothing. `node --expose-gc --import tsx bench/pipeline.ts [records]`
// (--expose-gc keeps the generator's garbage out of the timed part; without it the figure is lower).
import { loadConfig } from '../src/config.js'
import { generateHistory, type HistoryBatch, sharesOf } from '../src/ingest/index.js'
import { MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'

const records = Number(process.argv[2] ?? 1_000_000)
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
let group: HistoryBatch[] = []
for (const b of generateHistory({ from, to, rate, seed: 7, shares, topic: 'bench' })) {
  for (const r of b.records) r.value = Buffer.from(r.value).toString()
  group.push(b)
  if (group.length === 100) { await run(group); group = [] }
}
await run(group)
const pipelineSeconds = timed / 1000
await store.close()
const c = pipeline.counts()

console.log(JSON.stringify({
  events_per_s: Math.round(processed / pipelineSeconds),
  records: processed,
  batches,
  batch_size: 1000,
  seconds: Number(pipelineSeconds.toFixed(3)),
  store_apply_ms_total: Number(applyMs.toFixed(1)),
  generator_records_per_s: Math.round(generated / generatorSeconds),
  counts: c,
  store_rows: store.rowCount
}, null, 2))
