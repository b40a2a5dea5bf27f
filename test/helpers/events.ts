// The event sets and the brute force shared by the end-to-end tests (test/correctness.test.ts
// through the file source, test/kafka-e2e.test.ts through Kafka): JSON lines with duplicates, late
// and invalid records, the event contract restated independently, and what each layer must count.
import assert from 'node:assert/strict'
import { prng } from '../../src/ingest/synthetic.js'
import type { Granularity, MetricsResult, ResultRow } from '../../src/model/index.js'
import { winkEnrich } from '../../src/enrich/index.js'
import { bucketStart, type Enrichment, iso, type SentimentLabel } from '../../src/model/index.js'

export const M = 60_000
export const H = 3_600_000
const TYPES = ['view', 'click', 'buy', 'search']
const REGIONS = ['eu', 'us', 'ap']

export interface Ev {
  event_id: string, ts: number, event_type: string, region: string, processing_time?: number, response_time?: number, revenue?: number, text?: string
}

/** review texts of every fourth event (LineOptions.texts), without drawing from the random sequence */
const TEXTS = ['Great service, I love it!', 'Awful delay in London, never again.', 'The parcel came on Monday.', 'Nice app from Contoso.', 'Bad.']

export interface LineOptions {
  /** late events (3 to 20 minutes behind the stream) among the others; default true */
  late?: boolean
  /** review texts on every fourth event (enriched by the app's default enricher); default false */
  texts?: boolean
}

/** Lines of a JSON Lines file: events in time order over [from, to) plus duplicates, late and invalid records. */
export function makeLines (from: number, to: number, n: number, seed: number, idPrefix: string, options: LineOptions = {}): string[] {
  const withLate = options.late ?? true
  const rand = prng(seed)
  const lines: string[] = []
  const emitted: Ev[] = []
  for (let i = 0; i < n; i++) {
    const ts = Math.floor(from + ((to - from) * i) / n)
    const type = TYPES[Math.floor(rand() * rand() * TYPES.length)] as string
    const e: Ev = { event_id: `${idPrefix}-${i}`, ts, event_type: type, region: REGIONS[Math.floor(rand() * REGIONS.length)] as string }
    if (rand() < 0.9) e.processing_time = Math.round(rand() * 2000) / 10
    if (rand() < 0.95) e.response_time = rand() < 0.02 ? 0 : Math.exp(4 + rand() * 2 + rand())
    if (type === 'buy') e.revenue = Math.round(rand() * 50_000) / 100
    if (options.texts === true && i % 4 === 0) e.text = TEXTS[(i / 4) % TEXTS.length] as string
    emitted.push(e)
    lines.push(JSON.stringify({ ...e, timestamp: new Date(ts).toISOString(), ts: undefined }))
    const r = rand()
    if (r < 0.02 && emitted.length > 5) {
      // a duplicate: an event sent again shortly after (same bytes)
      const d = emitted[emitted.length - 1 - Math.floor(rand() * 5)] as Ev
      lines.push(JSON.stringify({ ...d, timestamp: new Date(d.ts).toISOString(), ts: undefined }))
    } else if (r < 0.03 && withLate) {
      // a late event: 3 to 20 minutes behind the stream (epoch-ms timestamp form)
      const late: Ev = { event_id: `${idPrefix}-late-${i}`, ts: ts - (3 + Math.floor(rand() * 17)) * M, event_type: type, region: 'eu', processing_time: 7, response_time: 123, revenue: 1.5 }
      lines.push(JSON.stringify({ ...late, timestamp: late.ts, ts: undefined }))
    } else if (r < 0.04) {
      const bad = [
        '{not json',
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: ts, event_type: 'view', region: 'eu', revenue: -1 }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: ts, event_type: 'view', region: 'eu', revenue: 1.234 }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: 'yesterday', event_type: 'view', region: 'eu' }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: ts, region: 'eu' }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: to + 24 * H, event_type: 'view', region: 'eu' }) // a day in the future
      ]
      lines.push(bad[Math.floor(rand() * bad.length)] as string)
    }
  }
  return lines
}

export interface Parsed { e: Ev, line: number }

/** The brute force: valid records (by the event contract, independently restated), in file order. */
export function validRecords (lines: string[], now: number): Parsed[] {
  const out: Parsed[] = []
  lines.forEach((text, line) => {
    let v: Record<string, unknown>
    try { v = JSON.parse(text) as Record<string, unknown> } catch { return }
    const ts = typeof v.timestamp === 'number' ? v.timestamp : typeof v.timestamp === 'string' ? Date.parse(v.timestamp) : NaN
    if (!Number.isFinite(ts) || ts > now + 5 * M) return
    if (typeof v.event_type !== 'string' || typeof v.region !== 'string' || typeof v.event_id !== 'string') return
    if (v.revenue !== undefined && (typeof v.revenue !== 'number' || !/^\d+(\.\d{1,2})?$/.test(String(v.revenue)))) return
    out.push({ e: { ...(v as unknown as Ev), ts }, line })
  })
  return out
}

/** What the batch layer counts: every valid event once (dedup by event_id + timestamp), late ones included. */
export function batchEvents (records: Parsed[]): Ev[] {
  const seen = new Set<string>()
  return records.filter(({ e }) => { const k = e.event_id + '|' + e.ts; if (seen.has(k)) return false; seen.add(k); return true }).map((r) => r.e)
}

/**
 * What the speed layer counts: deduplicated, minus events whose minute closed (watermark = newest −
 * allowed lateness), for the records in the order the pipeline saw them.
 */
export function speedEvents (records: Parsed[], allowedLatenessMs = M): Ev[] {
  const seen = new Set<string>()
  let newest = -Infinity
  const out: Ev[] = []
  for (const { e } of records) {
    const k = e.event_id + '|' + e.ts
    const dup = seen.has(k)
    seen.add(k)
    newest = Math.max(newest, e.ts)
    if (dup) continue
    if (bucketStart(e.ts, 'minute') + M <= newest - allowedLatenessMs) continue // late
    out.push(e)
  }
  return out
}

export interface Expected {
  total_events: number, revenue_cents: number, latency: number[], response: number[]
  /** the enriched events' scores, and their count by label */
  sentiment: number[], labels: Record<SentimentLabel, number>
}

const enrichments = new Map<string, Enrichment>()
/** what the default enricher (wink) makes of a text: deterministic, so the brute force can ask it too */
function enrichmentOf (text: string): Enrichment {
  let e = enrichments.get(text)
  if (e === undefined) enrichments.set(text, e = winkEnrich(text))
  return e
}

export function brute (events: Ev[], from: number, to: number, g: Granularity, groupBy: ('event_type' | 'region')[]): Map<string, Expected> {
  const out = new Map<string, Expected>()
  for (const e of events) {
    if (e.ts < from || e.ts >= to) continue
    const key = [iso(bucketStart(e.ts, g)), ...groupBy.map((d) => e[d])].join('|')
    let x = out.get(key)
    if (x === undefined) {
      x = { total_events: 0, revenue_cents: 0, latency: [], response: [], sentiment: [], labels: { positive: 0, neutral: 0, negative: 0 } }
      out.set(key, x)
    }
    if (e.text !== undefined) {
      const s = enrichmentOf(e.text)
      x.sentiment.push(s.score)
      x.labels[s.label]++
    }
    x.total_events++
    if (e.revenue !== undefined) x.revenue_cents += Math.round(e.revenue * 100)
    if (e.processing_time !== undefined) x.latency.push(e.processing_time)
    if (e.response_time !== undefined) x.response.push(e.response_time)
  }
  return out
}

export function assertEqualsBrute (res: MetricsResult, expected: Map<string, Expected>, groupBy: ('event_type' | 'region')[], label: string): void {
  const got = new Map<string, ResultRow>(res.rows.map((r) => [[r.window_start, ...groupBy.map((d) => r[d])].join('|'), r]))
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), `${label}: the same buckets`)
  for (const [key, x] of expected) {
    const r = got.get(key) as ResultRow
    assert.equal(r.total_events, x.total_events, `${label} ${key}: total_events`)
    assert.equal(r.total_revenue, x.revenue_cents / 100, `${label} ${key}: total_revenue`)
    if (x.latency.length === 0) assert.equal(r.avg_latency, null)
    else {
      const avg = x.latency.reduce((a, b) => a + b, 0) / x.latency.length
      // served rounded to 0.1 ms: within half a step of the exact mean, and a whole number of steps
      const served = r.avg_latency as number
      assert.ok(Math.abs(served - avg) <= 0.05 + 1e-9 * avg, `${label} ${key}: avg_latency ${served} vs ${avg}`)
      assert.equal(Math.round(served * 10) / 10, served, `${label} ${key}: avg_latency ${served} is rounded to 0.1 ms`)
    }
    if (x.response.length === 0) assert.equal(r.p95_response, null)
    else {
      const sorted = [...x.response].sort((a, b) => a - b)
      const exact = sorted[Math.floor(0.95 * (sorted.length - 1))] as number
      const p95 = r.p95_response as number
      // the sketch's 1% relative error, then the rounding to 0.1 ms
      assert.ok(Math.abs(p95 - exact) <= 0.01 * exact + 0.05, `${label} ${key}: p95 ${p95} vs exact ${exact}`)
      assert.equal(Math.round(p95 * 10) / 10, p95, `${label} ${key}: p95 ${p95} is rounded to 0.1 ms`)
    }
    if (r.avg_sentiment === undefined) continue // a query for other metrics
    assert.deepEqual([r.sentiment_positive, r.sentiment_neutral, r.sentiment_negative], [x.labels.positive, x.labels.neutral, x.labels.negative],
      `${label} ${key}: sentiment labels`)
    if (x.sentiment.length === 0) assert.equal(r.avg_sentiment, null, `${label} ${key}: avg_sentiment`)
    else {
      // served rounded to 3 decimals; the sum's order differs between the layers
      const avg = x.sentiment.reduce((a, b) => a + b, 0) / x.sentiment.length
      assert.ok(Math.abs((r.avg_sentiment as number) - avg) <= 0.0005 + 1e-9, `${label} ${key}: avg_sentiment ${r.avg_sentiment} vs ${avg}`)
    }
  }
}
