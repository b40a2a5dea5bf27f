import assert from 'node:assert/strict'
import { test } from 'node:test'
import { addEvent, emptyPartials, type HourglassEvent, type PartialRow } from '../src/model/index.js'
import { cloneRollup, finaliseRollup, mergeRollups, rollUp } from '../src/merger/merge.js'

const H = 3_600_000
const T0 = Date.parse('2026-03-01T00:00:00Z')

function row (windowStart: number, type: string, region: string, events: Partial<HourglassEvent>[]): PartialRow {
  const partials = emptyPartials()
  for (const e of events) addEvent(partials, { event_id: 'x', ts: windowStart, event_type: type, region, ...e })
  return { window_start: windowStart, event_type: type, region, partials }
}

test('hourly gold rows and minute speed rows roll up into one day bucket and finalise exactly', () => {
  const gold = [row(T0, 'click', 'eu', [{ processing_time: 10, revenue_cents: 150, response_time: 100 }]), row(T0 + H, 'buy', 'us', [{ processing_time: 30 }])]
  const speed = [row(T0 + 5 * H + 60_000, 'click', 'us', [{ processing_time: 20, revenue_cents: 50, response_time: 200 }])]
  const r = rollUp(new Map(), gold, 'day', [])
  rollUp(r, speed, 'day', [])
  const rows = finaliseRollup(r, ['total_events', 'avg_latency', 'total_revenue', 'p95_response'])
  assert.equal(rows.length, 1)
  assert.equal(rows[0]?.window_start, '2026-03-01T00:00:00.000Z')
  assert.equal(rows[0]?.total_events, 3)
  assert.equal(rows[0]?.avg_latency, 20)
  assert.equal(rows[0]?.total_revenue, 2)
  assert.ok(Math.abs((rows[0]?.p95_response as number) - 100) / 100 <= 0.01)
})

test('grouping keeps only the asked dimensions, rows are sorted, metrics are selected', () => {
  const rows = [row(T0 + H, 'b', 'us', [{}]), row(T0, 'b', 'eu', [{}]), row(T0, 'a', 'us', [{}, {}])]
  const out = finaliseRollup(rollUp(new Map(), rows, 'hour', ['event_type']), ['total_events'])
  assert.deepEqual(out, [
    { window_start: new Date(T0).toISOString(), event_type: 'a', total_events: 2 },
    { window_start: new Date(T0).toISOString(), event_type: 'b', total_events: 1 },
    { window_start: new Date(T0 + H).toISOString(), event_type: 'b', total_events: 1 }
  ])
  const empty = finaliseRollup(rollUp(new Map(), [row(T0, 'a', 'us', [{}])], 'hour', []), ['avg_latency', 'p95_response'])
  assert.deepEqual(empty, [{ window_start: new Date(T0).toISOString(), avg_latency: null, p95_response: null }])
})

test('a cloned rollup is not changed by merging into the clone (the cache stays immutable)', () => {
  const cached = rollUp(new Map(), [row(T0, 'a', 'us', [{ response_time: 5 }])], 'hour', [])
  const clone = cloneRollup(cached)
  mergeRollups(clone, rollUp(new Map(), [row(T0, 'a', 'us', [{ response_time: 5 }])], 'hour', []))
  rollUp(clone, [row(T0, 'a', 'us', [{ response_time: 7 }])], 'hour', [])
  assert.equal([...cached.values()][0]?.partials.events, 1)
  assert.equal([...[...cached.values()][0]!.partials.response.values()].reduce((a, b) => a + b, 0), 1)
  assert.equal([...clone.values()][0]?.partials.events, 3)
})
