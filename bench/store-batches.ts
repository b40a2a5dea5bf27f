// What the store benchmarks (bench/redis-store.ts, bench/cosmos-store.ts) apply: the same command
// line and the same synthetic batches, so their figures compare.
import { parseArgs } from 'node:util'
import { type ApplyBatch, emptyPartials, MINUTE_MS, type PartialRow } from '../src/model/index.js'

export interface BatchShape {
  batches: number
  /** rows per batch, spread over 5 minute windows × (event_type, region) pairs */
  deltas: number
  /** sketch bins per row */
  bins: number
  partitions: number
}

export const EVENTS_PER_ROW = 10

/** --batches --deltas --bins --partitions, with the bench's own defaults */
export function batchShape (defaults: BatchShape): BatchShape {
  const { values } = parseArgs({
    options: {
      batches: { type: 'string', default: String(defaults.batches) },
      deltas: { type: 'string', default: String(defaults.deltas) },
      bins: { type: 'string', default: String(defaults.bins) },
      partitions: { type: 'string', default: String(defaults.partitions) }
    }
  })
  return { batches: Number(values.batches), deltas: Number(values.deltas), bins: Number(values.bins), partitions: Number(values.partitions) }
}

/** The command line's batch shape, the minute the bench pretends it is, and its batch maker. */
export function storeBench (defaults: BatchShape): { shape: BatchShape, now: number, makeBatch: (i: number, partition: number, windowsFrom: number) => ApplyBatch } {
  const shape = batchShape(defaults)
  return { shape, now: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS, makeBatch: (i, partition, windowsFrom) => makeBatch(shape, i, partition, windowsFrom) }
}

const types = Array.from({ length: 20 }, (_, i) => `type_${i}`)
const regions = Array.from({ length: 10 }, (_, i) => `region-${i}`)

/** Batch number `i` of a partition: `deltas` rows of EVENTS_PER_ROW events each, and a dedup key per event. */
export function makeBatch (shape: BatchShape, i: number, partition: number, windowsFrom: number): ApplyBatch {
  const deltas: PartialRow[] = []
  for (let d = 0; d < shape.deltas; d++) {
    const k = (i * shape.deltas + d) % (types.length * regions.length)
    const partials = emptyPartials()
    partials.events = EVENTS_PER_ROW
    partials.latency_count = EVENTS_PER_ROW
    partials.latency_sum = 37.25 + d
    partials.revenue_cents = d * 13
    for (let b = 0; b < shape.bins; b++) partials.response.set(300 + b * 3 + (d % 5), 1 + (b % 3))
    deltas.push({
      window_start: windowsFrom + (d % 5) * MINUTE_MS,
      event_type: types[k % types.length] as string,
      region: regions[Math.floor(k / types.length) % regions.length] as string,
      partials
    })
  }
  const dedupKeys = Array.from({ length: shape.deltas * EVENTS_PER_ROW }, (_, j) => `${windowsFrom}|p${partition}-b${i}-e${j}`)
  return { deltas, position: { topic: 'events', partition, offset: String(i * 1000) }, dedupKeys, watermark: windowsFrom, maxEventTime: windowsFrom + 4 * MINUTE_MS }
}

/** the p-quantile of xs (ms), 3 decimals */
export function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return Number((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0).toFixed(3))
}
