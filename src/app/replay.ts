// Rebuild the speed store from bronze for a time range: bronze events go through a speed pipeline
// of their own (dedup, windows, watermark) so the rebuilt windows are what the stream would have
// made, and the live pipeline's quality counters count only live records.
import { type Db, readBronzeEvents } from '../batch/index.js'
import type { Config } from '../config.js'
import { type SpeedStore, toWire } from '../model/index.js'
import { type Deduplicator, SpeedPipeline } from '../speed/index.js'

export interface ReplayOptions {
  dataDir: string
  db: Db
  store: SpeedStore
  config: Config
  from: number
  to: number
  now: () => number
  /** the live pipeline's deduplicator, so that it knows the replayed events (default: one of its own) */
  dedup?: Deduplicator
}

export const REPLAY_TOPIC = 'bronze-replay'

/** Returns the number of events replayed. */
export async function replayBronze (o: ReplayOptions): Promise<number> {
  const events = await readBronzeEvents({ dataDir: o.dataDir, db: o.db, from: o.from, to: o.to })
  if (events.length === 0) return 0
  const pipeline = new SpeedPipeline({ store: o.store, dedupWindowMs: o.config.dedupWindowMs, allowedLatenessMs: o.config.allowedLatenessMs, deadLetterKeep: 0, ...(o.dedup === undefined ? {} : { dedup: o.dedup }) })
  const base = (await o.store.position(REPLAY_TOPIC, 0)) ?? '-1'
  let offset = BigInt(base) + 1n
  const CHUNK = 5000
  for (let i = 0; i < events.length; i += CHUNK) {
    const records = events.slice(i, i + CHUNK).map((e) => ({ value: JSON.stringify(toWire(e)), offset: String(offset++) }))
    await pipeline.process({ topic: REPLAY_TOPIC, partition: 0, records }, o.now())
  }
  return events.length
}
