// Rebuild the speed store from bronze for a time range: bronze events go through a speed pipeline
// of their own (dedup, windows, watermark) so the rebuilt windows are what the stream would have
// made, and the live pipeline's quality counters count only live records.
import { type Db, readBronzeEvents } from '../batch/index.js'
import type { Config } from '../config.js'
import { iso, MAX_FUTURE_MS, type SpeedStore, toWire } from '../model/index.js'
import { type Deduplicator, SpeedPipeline } from '../speed/index.js'
import type { AppContext } from './context.js'

export interface ReplayOptions {
  dataDir: string
  db: Db
  store: SpeedStore
  config: Pick<Config, 'dedupWindowMs' | 'allowedLatenessMs'>
  from: number
  to: number
  now: () => number
  /** the live pipeline's deduplicator, so that it knows the replayed events (default: one of its own) */
  dedup?: Deduplicator
}

export const REPLAY_TOPIC = 'bronze-replay'
const CHUNK = 5000

/** Returns the number of events replayed. */
export async function replayBronze (o: ReplayOptions): Promise<number> {
  const events = await readBronzeEvents({ dataDir: o.dataDir, db: o.db, from: o.from, to: o.to })
  if (events.length === 0) return 0
  const pipeline = new SpeedPipeline({
    store: o.store,
    dedupWindowMs: o.config.dedupWindowMs,
    allowedLatenessMs: o.config.allowedLatenessMs,
    deadLetterKeep: 0,
    ...(o.dedup === undefined ? {} : { dedup: o.dedup })
  })
  const base = (await o.store.position(REPLAY_TOPIC, 0)) ?? '-1'
  let offset = BigInt(base) + 1n
  for (let i = 0; i < events.length; i += CHUNK) {
    const records = events.slice(i, i + CHUNK).map((e) => ({ value: JSON.stringify(toWire(e)), offset: String(offset++) }))
    await pipeline.process({ topic: REPLAY_TOPIC, partition: 0, records }, o.now())
  }
  return events.length
}

/**
 * Replay the bronze of the retention (up to the latest valid event time) into the store through
 * `dedup` (the live pipeline's, so a live duplicate of a replayed event is dropped), mark the store
 * covered from there, and say so (`why` prefixes the line; an empty why and nothing replayed: silent).
 */
export async function rebuildFromBronze (ctx: AppContext, store: SpeedStore, dedup: Deduplicator, why: string): Promise<void> {
  const { config, dataDir, db, now } = ctx
  const from = now() - config.retentionMs
  const replayed = await replayBronze({ dataDir, db, store, config, from, to: now() + MAX_FUTURE_MS, now, dedup })
  await store.setCoveredFrom(from)
  if (replayed > 0 || why !== '') ctx.progress(`speed: ${why}rebuilt from bronze, ${replayed.toLocaleString('en-US')} events since ${iso(from)}`)
}
