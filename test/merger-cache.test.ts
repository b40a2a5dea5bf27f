// The merger's caches must never change an answer: the batch part kept per manifest version, the
// settled speed part kept per store change token, and the finalised groups kept with them. Each
// cached answer is compared with a fresh computation (no speed cache) over the same data, to the
// last bit of every float, before and after the data changes under it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BatchCache, cloneRollup, FinalisedRollup, finaliseOver, finaliseRollup, MergingMetricsService, rollupBytes, rollUp, rollUpOver } from '../src/merger/index.js'
import {
  addEvent, type Dimension, emptyPartials, type Filters, type GoldSnapshot, type GoldSource, type Granularity,
  type LiveQuery, METRIC_NAMES, type MetricsQuery, type PartialRow
} from '../src/model/index.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { LIMITS_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'

const M = 60_000
const H = 3_600_000
const T0 = Date.parse('2026-03-01T00:00:00Z')
const TYPES = ['click', 'purchase', 'search']
const REGIONS = ['eu-west', 'us-east']

/** a small seeded generator (mulberry32), so every run sees the same data */
function random (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** rows for each window start × type × region, with fractional latencies (float sums depend on order) */
function rowsAt (starts: number[], seed: number): PartialRow[] {
  const r = random(seed)
  const out: PartialRow[] = []
  for (const start of starts) {
    for (const type of TYPES) {
      for (const region of REGIONS) {
        const partials = emptyPartials()
        const n = 1 + Math.floor(r() * 5)
        for (let i = 0; i < n; i++) {
          addEvent(partials, {
            event_id: 'x', ts: start, event_type: type, region,
            processing_time: r() * 100,
            response_time: Math.exp(3 + r() * 3),
            ...(type === 'purchase' ? { revenue_cents: Math.floor(r() * 10_000) } : {})
          })
        }
        out.push({ window_start: start, event_type: type, region, partials })
      }
    }
  }
  return out
}

const range = (from: number, to: number, step: number): number[] => {
  const out: number[] = []
  for (let t = from; t < to; t += step) out.push(t)
  return out
}

const METRICS = [...METRIC_NAMES]

test('rolling up over a kept batch part (copy on write) equals rolling up over a copy, and leaves the part as it was', () => {
  const gold = rowsAt(range(T0, T0 + 30 * H, H), 1)
  const speed = rowsAt(range(T0 + 30 * H, T0 + 31 * H + 5 * M, M), 2)
  const shapes: [Granularity, Dimension[]][] = [['hour', []], ['hour', ['event_type']], ['day', ['event_type']], ['day', ['event_type', 'region']]]
  for (const [granularity, groupBy] of shapes) {
    const base = rollUp(new Map(), gold, granularity, groupBy)
    const before = finaliseRollup(base, METRICS)
    const expected = finaliseRollup(rollUp(cloneRollup(base), speed, granularity, groupBy), METRICS)
    const kept = new FinalisedRollup(base)
    const label = `${granularity} by [${groupBy.join(',')}]`
    assert.deepEqual(finaliseOver(kept, rollUpOver(base, speed, granularity, groupBy), METRICS), expected, label)
    assert.deepEqual(finaliseOver(kept, rollUpOver(base, speed, granularity, groupBy), METRICS), expected, `${label}, finalised groups reused`)
    // two layers, as the service keeps them: settled speed minutes over the batch part, then the open ones
    for (const cut of [0, 30, speed.length - 6, speed.length]) {
      const settled = FinalisedRollup.over(kept, rollUpOver(base, speed.slice(0, cut), granularity, groupBy))
      const open = speed.slice(cut)
      assert.deepEqual(finaliseOver(settled, rollUpOver(settled.rollup, open, granularity, groupBy), METRICS), expected, `${label}, cut at ${cut}`)
    }
    assert.deepEqual(finaliseRollup(base, METRICS), before, `${label}: the kept part is unchanged`)
  }
})

/** gold over [T0, B) from fixed hourly rows, as one manifest version */
function goldOf (rows: PartialRow[], boundary: number): GoldSource & { queries: number } {
  const snapshot: GoldSnapshot = { version: 1, completeUntil: boundary, completeFrom: T0, publishedAt: boundary }
  const matches = (f: Filters, r: PartialRow) => (f.event_type === undefined || f.event_type.length === 0 || f.event_type.includes(r.event_type)) &&
    (f.region === undefined || f.region.length === 0 || f.region.includes(r.region))
  const gold = {
    queries: 0,
    snapshot: () => snapshot,
    query: async (_s: GoldSnapshot, from: number, to: number, f: Filters) => {
      gold.queries++
      return rows.filter((r) => r.window_start >= from && r.window_start < to && matches(f, r))
        .map((r) => ({ ...r, partials: { ...r.partials, response: new Map(r.partials.response) } }))
    },
    dimensions: async () => ({ event_types: TYPES, regions: REGIONS }),
    topEntities: async () => []
  }
  return gold
}

test('the settled speed part is kept while the store does not change, and let go of when it does (late apply, open window, eviction)', async (t) => {
  const B = T0 + 30 * H
  const clock = { now: B + 30 * M + 20_000 }
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => clock.now })
  t.after(() => store.close())
  await store.setCoveredFrom(B - 10 * M)
  let offset = 0
  const apply = async (rows: PartialRow[], partition = 0) => {
    assert.equal(await store.apply({ deltas: rows, position: { topic: 'events', partition, offset: String(offset++) }, watermark: clock.now - M, maxEventTime: clock.now }), true)
  }
  await apply(rowsAt(range(B - 10 * M, B + 31 * M, M), 3))
  const gold = goldOf(rowsAt(range(T0, B, H), 4), B)
  const options = { gold, speed: store, quality: { counts: () => ({ received: 0, valid: 0, invalid: 0, invalid_by_reason: {}, duplicates: 0, late: 0 }), deadLetters: () => [] }, allowedLatenessMs: M, now: () => clock.now, limits: LIMITS_DEFAULTS }
  const cached = new MergingMetricsService(options)
  const fresh = new MergingMetricsService({ ...options, speedCacheSize: 0 })

  const queries: MetricsQuery[] = [
    { from: B - 5 * H, to: clock.now, granularity: 'hour', groupBy: ['event_type'], filters: {}, metrics: METRICS },
    { from: B - 5 * H, to: clock.now, granularity: 'day', groupBy: ['event_type', 'region'], filters: {}, metrics: METRICS },
    { from: B - 2 * H, to: clock.now, granularity: 'hour', groupBy: [], filters: { region: ['eu-west'] }, metrics: ['total_events', 'p95_response'] },
    { from: B - 5 * H, to: clock.now, granularity: 'hour', groupBy: ['event_type'], filters: {}, metrics: ['avg_latency'] } // the first shape again
  ]
  const live: LiveQuery = { last: 15 * M, groupBy: ['region'], filters: {}, metrics: METRICS }
  const same = async (label: string) => {
    for (const q of queries) assert.deepEqual(await cached.query({ ...q, to: clock.now }), await fresh.query({ ...q, to: clock.now }), `${label}: ${q.granularity} by [${q.groupBy.join(',')}]`)
    assert.deepEqual(await cached.live(live), await fresh.live(live), `${label}: live`)
  }
  const answer = async () => (await cached.query({ ...queries[0]!, to: clock.now })).rows

  await same('first queries')
  const misses = cached.speedCache.misses
  assert.equal(misses, 4, 'each shape (three, and live) rolled its settled minutes up once')
  assert.equal(cached.answerCache.misses, queries.length + 1)
  await same('again')
  assert.equal(cached.answerCache.misses, queries.length + 1, 'nothing changed: every answer came from the cache')
  assert.equal(cached.answerCache.hits, queries.length + 1)
  assert.equal(cached.speedCache.misses, misses)
  assert.equal(cached.speedCache.hits, 1, 'the first shape asked again (other metrics) found its settled part')
  assert.equal(fresh.speedCache.hits + fresh.speedCache.misses + fresh.answerCache.hits + fresh.answerCache.misses, 0, 'speedCacheSize 0 reads the store every time')
  const kept = await cached.query({ ...queries[0]!, to: clock.now })
  kept.rows.pop()
  assert.equal((await cached.query({ ...queries[0]!, to: clock.now })).rows.length, kept.rows.length + 1, 'an answer\'s row list is the caller\'s own')
  assert.throws(() => { (kept.rows[0] as { total_events: number }).total_events = -1 }, TypeError, 'kept rows are frozen')
  const first = await answer()

  // a late batch from another partition lands in a settled minute (below the watermark)
  await apply(rowsAt([B + 5 * M], 5), 1)
  const afterLate = await answer()
  assert.notDeepEqual(afterLate, first, 'the late rows count')
  await same('after an apply into a settled minute')
  assert.ok(cached.speedCache.misses > misses)

  // an open minute changes: read fresh, the settled part stays
  const settledMisses = cached.speedCache.misses
  const answerMisses = cached.answerCache.misses
  await apply(rowsAt([B + 30 * M], 6))
  assert.notDeepEqual(await answer(), afterLate)
  await same('after an apply into the open minute')
  assert.equal(cached.speedCache.misses, settledMisses, 'a change in the open minutes does not touch the settled part')
  assert.equal(cached.answerCache.misses, answerMisses + queries.length + 1, 'but every answer over it is made again')

  // the clock moves past the retention of the oldest speed minutes: they are evicted
  clock.now = B + 63 * M
  await same('after eviction')
  const evicted = await answer()
  clock.now += 1000
  await same('a second later')
  assert.deepEqual(await answer(), evicted)
})

test('memory store change token: changes with an apply in its range or an eviction, not with an apply outside it, and never comes back', async (t) => {
  const clock = { now: T0 + 10 * M }
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => clock.now, retentionMs: 10 * M })
  t.after(() => store.close())
  let offset = 0
  const apply = (starts: number[]) => store.apply({ deltas: rowsAt(starts, offset + 10), position: { topic: 't', partition: 0, offset: String(offset++) } })
  const seen = new Set<string>()
  const token = async (): Promise<string> => store.changeToken(T0 + 2 * M, T0 + 5 * M)
  const changed = async (label: string) => {
    const now = await token()
    assert.ok(!seen.has(now), `${label}: a new token (${now})`)
    seen.add(now)
  }

  await changed('empty')
  await apply([T0 + 2 * M, T0 + 3 * M])
  await changed('two windows created')
  assert.equal(await token(), await token(), 'reading changes nothing')
  await apply([T0 + 5 * M, T0 + 1 * M])
  assert.ok(seen.has(await token()), 'windows outside the range')
  await apply([T0 + 3 * M])
  await changed('a window changed')
  await apply([T0 + 4 * M])
  await changed('a window created')
  clock.now = T0 + 13 * M + 1 // windows before T0 + 3m have expired
  await changed('one window evicted')
  clock.now = T0 + 14 * M + 1
  await changed('another window evicted')
  clock.now = T0 + 16 * M
  await changed('all evicted')
})

test('the batch-part cache stays within its byte budget, least recently used out first; a part larger than the budget is not kept', () => {
  const part = (groups: number, bins: number): FinalisedRollup => {
    const rows: PartialRow[] = []
    for (let g = 0; g < groups; g++) {
      const partials = emptyPartials()
      for (let b = 0; b < bins; b++) addEvent(partials, { event_id: `e${b}`, ts: T0, event_type: 'click', region: 'eu-west', response_time: 2 ** b })
      rows.push({ window_start: T0 + g * H, event_type: 'click', region: 'eu-west', partials })
    }
    return new FinalisedRollup(rollUp(new Map(), rows, 'hour', []))
  }
  const one = rollupBytes(part(10, 20))
  assert.ok(one > 10 * 20 * 16, `a part of 10 groups × 20 bins is estimated at ${one} bytes`)
  assert.ok(rollupBytes(part(20, 20)) > rollupBytes(part(10, 20)) && rollupBytes(part(10, 40)) > one, 'more groups or bins cost more')
  const cache = new BatchCache<FinalisedRollup>(512, { maxBytes: 3 * one, sizeOf: rollupBytes })
  for (let i = 0; i < 10; i++) cache.set(`p${i}`, part(10, 20))
  assert.equal(cache.size, 3, 'three parts of the budget\'s size fit')
  assert.equal(cache.get('p0'), undefined, 'the oldest went first')
  assert.notEqual(cache.get('p9'), undefined)
  cache.set('huge', part(40, 20))
  assert.equal(cache.get('huge'), undefined, 'larger than the whole budget: not kept')
  assert.equal(new BatchCache<FinalisedRollup>(512, { maxBytes: 0, sizeOf: rollupBytes }).size, 0)
})
