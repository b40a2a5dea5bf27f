// The anomaly detector without services (src/model/anomaly.ts, anomaly-input.ts): the seasonal baseline from hourly
// rows, the series from minute rows, and what is (and is not) an anomaly.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AnomalyDetection, AnomalyLog } from '../src/merger/index.js'
import {
  type Anomaly, DAY_MS, detectAnomalies, detectGroup, type DetectorSettings, emptyPartials, type Expected, expectedAt, groupKey,
  groupSeries, type GroupSeries, HOUR_MS, hourlyBaseline, median, MINUTE_MS, type MinuteValues, type PartialRow, robustSpread, sketchAdd
} from '../src/model/index.js'

const SETTINGS: DetectorSettings = { sensitivity: 6, minVolume: 5, historyMinutes: 60 }
const T0 = Date.UTC(2026, 0, 20, 12)

/** a deterministic wiggle: ±amp around 0, repeating */
const wiggle = (i: number, amp: number): number => amp * Math.sin(i * 2.3) * Math.cos(i * 0.7)

function flatSeries (minutes: Map<number, MinuteValues>, base: Expected | null): GroupSeries {
  return { event_type: 'buy', region: 'eu', minutes, baseline: () => base }
}

function normalMinutes (from: number, to: number, events = 100): Map<number, MinuteValues> {
  const out = new Map<number, MinuteValues>()
  for (let t = from, i = 0; t < to; t += MINUTE_MS, i++) {
    out.set(t, { total_events: Math.round(events + wiggle(i, events * 0.08)), p95_response: 200 + wiggle(i + 3, 8), total_revenue: 500 + wiggle(i + 7, 40) })
  }
  return out
}

const BASE: Expected = { total_events: 100, p95_response: 200, total_revenue: 500 }

test('median and robustSpread', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 2, 3]), 2.5)
  assert.ok(Number.isNaN(median([])))
  assert.deepEqual(robustSpread([1, 2, 3, 4, 100]), { center: 3, mad: 1 })
})

test('normal minutes raise nothing; a spike, a drop, a p95 shift and a revenue dip are found with their kind', () => {
  const minutes = normalMinutes(T0 - HOUR_MS, T0 + 30 * MINUTE_MS)
  assert.deepEqual(detectGroup(flatSeries(minutes, BASE), T0, T0 + 30 * MINUTE_MS, T0 - HOUR_MS, SETTINGS), [])
  const at = (m: number): number => T0 + m * MINUTE_MS
  minutes.set(at(3), { ...minutes.get(at(3)) as MinuteValues, total_events: 260 })
  minutes.set(at(8), { ...minutes.get(at(8)) as MinuteValues, total_events: 40 })
  minutes.set(at(13), { ...minutes.get(at(13)) as MinuteValues, p95_response: 320 })
  minutes.set(at(18), { ...minutes.get(at(18)) as MinuteValues, total_revenue: 150 })
  const found = detectGroup(flatSeries(minutes, BASE), T0, T0 + 20 * MINUTE_MS, T0 - HOUR_MS, SETTINGS)
  assert.deepEqual(found.map((a) => [a.window_start, a.metric, a.kind]), [
    [at(3), 'total_events', 'spike'], [at(8), 'total_events', 'drop'], [at(13), 'p95_response', 'shift'], [at(18), 'total_revenue', 'drop']
  ])
  const spike = found[0] as Anomaly
  assert.equal(spike.event_type, 'buy')
  assert.equal(spike.observed, 260)
  assert.ok(Math.abs(spike.expected - 100) < 5, `expected ${spike.expected}`)
  assert.ok(spike.score > SETTINGS.sensitivity)
})

test('a drop to zero is found even where the history is flat (MAD 0), and a missing minute is a zero', () => {
  const minutes = new Map<number, MinuteValues>()
  for (let t = T0 - HOUR_MS; t < T0 + 5 * MINUTE_MS; t += MINUTE_MS) minutes.set(t, { total_events: 10, p95_response: 100, total_revenue: 0 })
  minutes.delete(T0 + 2 * MINUTE_MS)
  const found = detectGroup(flatSeries(minutes, null), T0, T0 + 5 * MINUTE_MS, T0 - HOUR_MS, SETTINGS)
  assert.deepEqual(found.map((a) => [a.window_start, a.metric, a.kind, a.observed, a.expected]), [[T0 + 2 * MINUTE_MS, 'total_events', 'drop', 0, 10]])
})

test('a group expected to see fewer events than the minimum volume never alerts', () => {
  const minutes = new Map<number, MinuteValues>()
  for (let t = T0 - HOUR_MS; t < T0; t += MINUTE_MS) minutes.set(t, { total_events: 2, p95_response: 100, total_revenue: 5 })
  minutes.set(T0, { total_events: 40, p95_response: 900, total_revenue: 500 })
  assert.deepEqual(detectGroup(flatSeries(minutes, null), T0, T0 + 5 * MINUTE_MS, T0 - HOUR_MS, SETTINGS), [])
  assert.equal(detectGroup(flatSeries(minutes, null), T0, T0 + MINUTE_MS, T0 - HOUR_MS, { ...SETTINGS, minVolume: 1 }).length > 0, true)
})

test('sensitivity: a higher threshold lets a moderate spike pass', () => {
  const minutes = normalMinutes(T0 - HOUR_MS, T0 + MINUTE_MS)
  minutes.set(T0, { ...minutes.get(T0) as MinuteValues, total_events: 160 })
  assert.equal(detectGroup(flatSeries(minutes, BASE), T0, T0 + MINUTE_MS, T0 - HOUR_MS, SETTINGS).length, 1)
  assert.equal(detectGroup(flatSeries(minutes, BASE), T0, T0 + MINUTE_MS, T0 - HOUR_MS, { ...SETTINGS, sensitivity: 20 }).length, 0)
})

test('the seasonal baseline follows the daily curve: a rise that happens every day is no spike', () => {
  // events/minute: 20 at night, 200 by day, the same each day; today is like the others
  const rate = (t: number): number => 20 + 180 * Math.max(0, Math.sin(Math.PI * ((t % DAY_MS) / DAY_MS)))
  const day0 = Date.UTC(2026, 0, 10)
  const hourly: PartialRow[] = []
  for (let d = 0; d < 7; d++) {
    for (let h = 0; h < 24; h++) {
      const start = day0 + d * DAY_MS + h * HOUR_MS
      const p = emptyPartials()
      for (let m = 0; m < 60; m++) p.events += Math.round(rate(start + m * MINUTE_MS))
      sketchAdd(p.response, 150, p.events)
      hourly.push({ window_start: start, event_type: 'view', region: 'us', partials: p })
    }
  }
  const today = day0 + 7 * DAY_MS
  const baseline = hourlyBaseline(hourly, day0, today)
  const hours = baseline.get(groupKey('view', 'us'))
  assert.ok(hours !== undefined && baseline.has(groupKey(null, null)))
  const noon = expectedAt(hours, today + 12 * HOUR_MS)
  assert.ok(noon !== null && Math.abs(noon.total_events - rate(today + 12 * HOUR_MS)) < 3, JSON.stringify(noon))
  // the morning ramp, where one hour differs most from the next
  const speed: PartialRow[] = []
  for (let t = today + 4 * HOUR_MS; t < today + 8 * HOUR_MS; t += MINUTE_MS) {
    const p = emptyPartials()
    p.events = Math.round(rate(t) * (1 + wiggle(t / MINUTE_MS, 0.03)))
    sketchAdd(p.response, 150, p.events)
    speed.push({ window_start: t, event_type: 'view', region: 'us', partials: p })
  }
  const groups = groupSeries(speed, baseline)
  assert.deepEqual(groups.map((g) => [g.event_type, g.region]), [[null, null], ['view', 'us']])
  assert.deepEqual(detectAnomalies(groups, today + 5 * HOUR_MS, today + 8 * HOUR_MS, today + 4 * HOUR_MS, SETTINGS), [])
  // a group the baseline knows but the speed layer has no row of at all has gone to zero
  const gone = groupSeries(speed.filter((r) => r.window_start < today + 7 * HOUR_MS), baseline)
  const found = detectAnomalies(gone, today + 7 * HOUR_MS, today + 7 * HOUR_MS + MINUTE_MS, today + 4 * HOUR_MS, SETTINGS)
  assert.deepEqual(found.map((a) => [a.event_type, a.region, a.metric, a.kind]), [[null, null, 'total_events', 'drop'], ['view', 'us', 'total_events', 'drop']])
})

test('AnomalyLog: one entry per minute, group and metric; filters; the oldest go past the capacity; listeners told once', () => {
  const log = new AnomalyLog(3)
  const heard: Anomaly[] = []
  const stop = log.subscribe((a) => heard.push(a))
  const a = (m: number, event_type: string | null, metric: Anomaly['metric'] = 'total_events'): Anomaly =>
    ({ window_start: T0 + m * MINUTE_MS, event_type, region: event_type === null ? null : 'eu', metric, kind: 'spike', observed: 9, expected: 1, score: 8 })
  assert.equal(log.add([a(1, 'buy'), a(1, null)]).length, 2)
  assert.equal(log.add([a(1, 'buy')]).length, 0, 'judged again: nothing new')
  assert.deepEqual(log.list({ from: T0, to: T0 + HOUR_MS, event_type: ['buy'] }).map((x) => x.event_type), ['buy'])
  assert.deepEqual(log.list({ from: T0, to: T0 + HOUR_MS }).map((x) => x.event_type), [null, 'buy'], 'overall first')
  log.add([a(2, 'buy'), a(3, 'buy', 'total_revenue')])
  assert.equal(log.size, 3)
  assert.deepEqual(log.list({ from: T0, to: T0 + HOUR_MS }).map((x) => x.window_start), [T0 + MINUTE_MS, T0 + 2 * MINUTE_MS, T0 + 3 * MINUTE_MS])
  assert.equal(heard.length, 4)
  assert.deepEqual(log.counts().sort((x, y) => x.metric.localeCompare(y.metric)), [
    { metric: 'total_events', kind: 'spike', n: 3 }, { metric: 'total_revenue', kind: 'spike', n: 1 }
  ])
  stop()
  assert.equal(log.listeners, 0)
})

test('AnomalyDetection: two processes reading one store at different times record the same anomalies', async () => {
  // a shared store stand-in: minute rows of one group, closed up to the watermark the test moves
  const rows: PartialRow[] = []
  const start = T0 - HOUR_MS
  for (let t = start, i = 0; t < T0 + 30 * MINUTE_MS; t += MINUTE_MS, i++) {
    const p = emptyPartials()
    p.events = t === T0 + 7 * MINUTE_MS ? 0 : t === T0 + 20 * MINUTE_MS ? 300 : Math.round(100 + wiggle(i, 8))
    sketchAdd(p.response, 120, p.events)
    p.revenue_cents = p.events * 250
    if (p.events > 0) rows.push({ window_start: t, event_type: 'buy', region: 'eu', partials: p })
  }
  let watermark = T0
  const store = {
    coverage: async () => ({ oldest: start, newest: T0 + 29 * MINUTE_MS, watermark, maxEventTime: watermark, coveredFrom: start }),
    query: async (from: number, to: number) => rows.filter((r) => r.window_start >= from && r.window_start < to)
  }
  const gold = { snapshot: () => null, query: async () => [], dimensions: async () => ({ event_types: [], regions: [] }), topEntities: async () => [] }
  const settings = { ...SETTINGS, baselineDays: 7 }
  const often = new AnomalyLog()
  const seldom = new AnomalyLog()
  const a = new AnomalyDetection({ store, gold, log: often, settings })
  const b = new AnomalyDetection({ store, gold, log: seldom, settings })
  for (; watermark <= T0 + 30 * MINUTE_MS; watermark += 30_000) await a.run()
  await b.run()
  const all = { from: start, to: T0 + HOUR_MS }
  assert.deepEqual(often.list(all), seldom.list(all))
  assert.deepEqual(often.list(all).filter((x) => x.metric === 'total_events').map((x) => [x.window_start, x.event_type, x.kind]), [
    [T0 + 7 * MINUTE_MS, null, 'drop'], [T0 + 7 * MINUTE_MS, 'buy', 'drop'], [T0 + 20 * MINUTE_MS, null, 'spike'], [T0 + 20 * MINUTE_MS, 'buy', 'spike']
  ])
})
