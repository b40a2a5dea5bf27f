// `hourglass seed`: synthetic history through the same path live events take to gold: records are
// validated like the stream's (invalid ones are counted and left out), valid ones land in bronze
// Parquet, and the batch job (run by the caller) rolls them up.
import { type BronzeSink, BronzeSink as Sink, type Db, readBronzeState } from '../batch/index.js'
import type { Config } from '../config.js'
import { generateHistory, sharesOf } from '../ingest/index.js'
import { DAY_MS, HOUR_MS, parseEvent, utcDate } from '../model/index.js'
import { bronzeEnrichment } from './enrichment.js'

export const HISTORY_TOPIC = 'synthetic-history'
/** seed writes bronze in flushes of this many events (larger than bronzeFlushEvents: history comes all at once) */
const SEED_FLUSH_EVENTS = 200_000

export interface SeedOptions {
  config: Config
  dataDir: string
  db: Db
  now: number
  progress: (line: string) => void
  /** do nothing when bronze already holds data (serve on a used folder) */
  onlyIfEmpty: boolean
}

export interface SeedSummary {
  seeded: boolean
  records: number
  valid: number
  invalid: number
  elapsedMs: number
}

export async function seedHistory (o: SeedOptions): Promise<SeedSummary> {
  const started = Date.now()
  const state = await readBronzeState(o.dataDir)
  if (o.onlyIfEmpty && state.partitions.length > 0) return { seeded: false, records: 0, valid: 0, invalid: 0, elapsedMs: 0 }
  const previous = state.partitions.find((p) => p.topic === HISTORY_TOPIC && p.partition === 0)
  // whole hours: the first gold hour is a full one
  const from = Math.floor((o.now - o.config.seedDays * DAY_MS) / HOUR_MS) * HOUR_MS
  const enrich = bronzeEnrichment(o.config)
  const sink: BronzeSink = new Sink({
    dataDir: o.dataDir, db: o.db, flushMs: o.config.bronzeFlushMs, maxBuffered: o.config.bronzeFlushEvents, ...(enrich === undefined ? {} : { enrich })
  })
  let records = 0; let valid = 0; let invalid = 0
  let day = ''
  const days = `${o.config.seedDays} day${o.config.seedDays === 1 ? '' : 's'}`
  o.progress(`seed: ${days} of synthetic history (${o.config.syntheticRate} events/s) into ${o.dataDir}/bronze`)
  try {
    for (const batch of generateHistory({
      from,
      to: o.now,
      rate: o.config.syntheticRate,
      seed: 20_240_501,
      shares: sharesOf(o.config),
      topic: HISTORY_TOPIC,
      startOffset: previous === undefined ? 0 : Number(BigInt(previous.last_offset) + 1n),
      chunkSize: 1000
    })) {
      for (const r of batch.records) {
        records++
        const v = parseEvent(r.value, r.at)
        if (!v.ok) { invalid++; continue }
        valid++
        sink.add(v.event, { topic: batch.topic, partition: batch.partition, offset: r.offset }, r.at)
      }
      const last = batch.records[batch.records.length - 1]
      if (last !== undefined && utcDate(last.at) !== day) {
        day = utcDate(last.at)
        o.progress(`seed: ${day}, ${records.toLocaleString('en-US')} records so far`)
      }
      if (sink.buffered >= SEED_FLUSH_EVENTS) await sink.flush()
    }
    // history ends here: it must not hold the bronze watermark back once the live stream goes on
    // (markFinished flushes what is buffered, then marks it in the same write of the state)
    await sink.markFinished(HISTORY_TOPIC, 0)
  } finally {
    await sink.close()
  }
  const elapsedMs = Date.now() - started
  o.progress(`seed: ${records.toLocaleString('en-US')} records (${invalid.toLocaleString('en-US')} invalid, left out) in ${(elapsedMs / 1000).toFixed(1)} s`)
  return { seeded: true, records, valid, invalid, elapsedMs }
}
