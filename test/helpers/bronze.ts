// Events, a two-partition feed into the bronze sink, and brute-force gold, for the batch tests.
import assert from 'node:assert/strict'
import type { BronzeSink } from '../../src/batch/bronze-sink.js'
import type { HourglassEvent } from '../../src/model/event.js'
import { addEvent, emptyPartials, type PartialRow, type Partials } from '../../src/model/partials.js'
import type { Filters } from '../../src/model/query.js'
import { HOUR_MS } from '../../src/model/time.js'
import { prng } from '../../src/ingest/synthetic.js'

const TYPES = ['view', 'view', 'view', 'click', 'click', 'purchase', 'search']
const REGIONS = ['eu-west', 'us-east', 'ap-south']

export class EventMaker {
  #rand: () => number
  #next = 0
  constructor (seed: number, readonly regions: readonly string[] = REGIONS) {
    this.#rand = prng(seed)
  }

  /** n events with event times in [from, to), some optional fields absent. */
  make (n: number, from: number, to: number): HourglassEvent[] {
    const rand = this.#rand
    const out: HourglassEvent[] = []
    for (let k = 0; k < n; k++) {
      const type = TYPES[Math.floor(rand() * TYPES.length)] as string
      const e: HourglassEvent = { event_id: `ev-${this.#next++}`, ts: from + Math.floor(rand() * (to - from)), event_type: type, region: this.regions[Math.floor(rand() * this.regions.length)] as string }
      if (rand() < 0.7) e.processing_time = Math.round(rand() * 200_000) / 1000
      const r = rand()
      if (r < 0.03) e.response_time = 0
      else if (r < 0.85) e.response_time = Math.exp(4 + 1.1 * (rand() + rand() + rand() - 1.5))
      if (type === 'purchase' && rand() < 0.9) e.revenue_cents = Math.floor(rand() * 50_000)
      if (rand() < 0.5) e.user_id = `u-${Math.floor(rand() * 100)}`
      out.push(e)
    }
    return out
  }
}

/** Feeds a sink like a two-partition topic: offsets per partition count up from 0. */
export class Feed {
  readonly offsets = [0, 0]
  readonly all: HourglassEvent[] = []
  constructor (readonly sink: BronzeSink) {}
  add (events: HourglassEvent[]): void {
    events.forEach((e, k) => {
      const p = k % 2
      this.sink.add(e, { topic: 'events', partition: p, offset: String(this.offsets[p]!++) })
      this.all.push(e)
    })
  }
}

/** Brute force: dedup by (event_id, ts), then partials per (bucket, type, region) for [from, to). */
export function expected (events: HourglassEvent[], from: number, to: number, bucketMs = HOUR_MS, filters: Filters = {}): Map<string, Partials> {
  const seen = new Set<string>()
  const out = new Map<string, Partials>()
  for (const e of events) {
    const id = `${e.event_id}\u0000${e.ts}`
    if (seen.has(id)) continue
    seen.add(id)
    if (e.ts < from || e.ts >= to) continue
    if (filters.event_type !== undefined && !filters.event_type.includes(e.event_type)) continue
    if (filters.region !== undefined && !filters.region.includes(e.region)) continue
    const key = `${Math.floor(e.ts / bucketMs) * bucketMs}|${e.event_type}|${e.region}`
    let p = out.get(key)
    if (p === undefined) out.set(key, p = emptyPartials())
    addEvent(p, e)
  }
  return out
}

export function assertRowsEqual (rows: PartialRow[], want: Map<string, Partials>): void {
  const got = new Map(rows.map((r) => [`${r.window_start}|${r.event_type}|${r.region}`, r.partials]))
  assert.equal(got.size, rows.length, 'one row per key')
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
  for (const [key, w] of want) {
    const g = got.get(key) as Partials
    assert.equal(g.events, w.events, key)
    assert.equal(g.latency_count, w.latency_count, key)
    assert.equal(g.revenue_cents, w.revenue_cents, key)
    assert.ok(Math.abs(g.latency_sum - w.latency_sum) <= 1e-9 * Math.max(1, Math.abs(w.latency_sum)), `${key} latency_sum ${g.latency_sum} vs ${w.latency_sum}`)
    assert.deepEqual(new Map([...g.response].sort((a, b) => a[0] - b[0])), new Map([...w.response].sort((a, b) => a[0] - b[0])), key)
    assert.deepEqual([g.sentiment_count, g.sentiment_positive, g.sentiment_neutral, g.sentiment_negative],
      [w.sentiment_count, w.sentiment_positive, w.sentiment_neutral, w.sentiment_negative], `${key} sentiment counts`)
    assert.ok(Math.abs(g.sentiment_sum - w.sentiment_sum) <= 1e-9 * Math.max(1, Math.abs(w.sentiment_sum)), `${key} sentiment_sum`)
  }
}
