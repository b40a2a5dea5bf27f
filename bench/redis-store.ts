// The Redis speed store against a real Redis (started here through scripts/services): apply
// rate for realistic batches (one Lua script each), alone and from several partitions at once,
// then query, coverage, changeToken and seen over a full hour of windows. Prints JSON; asserts
// nothing.
//
//   node --import tsx bench/redis-store.ts [--batches 200] [--deltas 500] [--bins 30] [--partitions 4]
//
// A batch: `deltas` rows spread over 5 minute windows × (event_type, region) pairs, each with
// `bins` sketch bins, and as many dedup keys as events (10 per row).
import { startRedis } from '../scripts/services/index.js'
import { loadConfig } from '../src/config.js'
import { type ApplyBatch, MINUTE_MS } from '../src/model/index.js'
import { EVENTS_PER_ROW, pct, storeBench } from './store-batches.js'
import { RedisSpeedStore } from '../src/speed/index.js'

const { shape, now, makeBatch } = storeBench({ batches: 200, deltas: 500, bins: 30, partitions: 4 })
const { batches, deltas: deltasPerBatch, bins: binsPerDelta, partitions } = shape

async function timed (n: number, fn: () => Promise<unknown>): Promise<{ p50_ms: number, p99_ms: number }> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn()
    ms.push(performance.now() - t0)
  }
  return { p50_ms: pct(ms, 0.5), p99_ms: pct(ms, 0.99) }
}

const { retentionMs, dedupWindowMs } = loadConfig({}) // the defaults
const redis = await startRedis({ log: false })
try {
  const store = new RedisSpeedStore({ url: redis.url, keyPrefix: 'bench', retentionMs, dedupWindowMs, now: () => now })
  // warm up (script load, connection)
  await store.apply(makeBatch(0, 99, now - 10 * MINUTE_MS))

  // one partition, batches back to back, prepared beforehand
  const prepared = Array.from({ length: batches }, (_, i) => makeBatch(i + 1, 0, now - 60 * MINUTE_MS + (i % 12) * 5 * MINUTE_MS))
  const argBytes = JSON.stringify(prepared[0]?.deltas.map((d) => [...d.partials.response])).length
  const applyMs: number[] = []
  let t0 = performance.now()
  for (const b of prepared) {
    const s = performance.now()
    await store.apply(b)
    applyMs.push(performance.now() - s)
  }
  const serialSeconds = (performance.now() - t0) / 1000

  // several partitions at once, each with its own client (as several consumers would)
  const stores = Array.from({ length: partitions }, () => new RedisSpeedStore({ url: redis.url, keyPrefix: 'bench', retentionMs, dedupWindowMs, now: () => now }))
  const perPartition = Math.max(1, Math.floor(batches / partitions))
  const work = stores.map((s, p) => Array.from({ length: perPartition }, (_, i) => makeBatch(i + 1, p + 1, now - 60 * MINUTE_MS + (i % 12) * 5 * MINUTE_MS)))
  t0 = performance.now()
  await Promise.all(stores.map(async (s, p) => { for (const b of work[p] as ApplyBatch[]) await s.apply(b) }))
  const parallelSeconds = (performance.now() - t0) / 1000
  for (const s of stores) await s.close()

  const from = now - 60 * MINUTE_MS
  const to = now + MINUTE_MS
  const rows = (await store.query(from, to, {})).length
  const fields = rows * (4 + binsPerDelta)
  const query = await timed(30, () => store.query(from, to, {}))
  const queryFiltered = await timed(30, () => store.query(from, to, { event_type: ['type_3'], region: ['region-1'] }))
  const query5m = await timed(50, () => store.query(now - 5 * MINUTE_MS, to, {}))
  const token = await timed(200, () => store.changeToken(from, to))
  const coverage = await timed(200, () => store.coverage())
  const keys = (prepared[0] as ApplyBatch).dedupKeys as string[]
  const seen = await timed(100, () => store.seen(keys))
  await store.close()

  console.log(JSON.stringify({
    batch: { deltas: deltasPerBatch, bins_per_delta: binsPerDelta, dedup_keys: deltasPerBatch * EVENTS_PER_ROW, windows: 5, sketch_json_bytes: argBytes },
    apply_one_partition: {
      batches,
      applies_per_s: Math.round(batches / serialSeconds),
      deltas_per_s: Math.round((batches * deltasPerBatch) / serialSeconds),
      hash_increments_per_s: Math.round((batches * deltasPerBatch * (binsPerDelta + 4)) / serialSeconds),
      p50_ms: pct(applyMs, 0.5),
      p99_ms: pct(applyMs, 0.99)
    },
    apply_parallel: {
      partitions,
      batches: perPartition * partitions,
      applies_per_s: Math.round((perPartition * partitions) / parallelSeconds),
      deltas_per_s: Math.round((perPartition * partitions * deltasPerBatch) / parallelSeconds)
    },
    query_hour: { windows: 61, rows, fields, ...query },
    query_hour_filtered: queryFiltered,
    query_last_5_min: query5m,
    change_token_hour: token,
    coverage,
    seen_5000_keys: seen
  }, null, 2))
} finally {
  await redis.close()
}
