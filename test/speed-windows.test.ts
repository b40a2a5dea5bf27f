import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type HourglassEvent, sketchCount } from '../src/model/index.js'
import { MinuteWindows } from '../src/speed/windows.js'
import { DEFAULTS } from './helpers/settings.js'

const T = Date.UTC(2026, 0, 1, 12)
const M = 60_000
const ev = (ts: number, event_type = 'click', region = 'us-east', more: Partial<HourglassEvent> = {}): HourglassEvent =>
  ({ event_id: 'e' + ts, ts, event_type, region, ...more })

test('windows: events land in their UTC minute per (event_type, region), with partials', () => {
  const w = new MinuteWindows({ allowedLatenessMs: DEFAULTS.allowedLatenessMs })
  w.add(ev(T + 1, 'click', 'us-east', { processing_time: 4, response_time: 100 }))
  w.add(ev(T + 59_999, 'click', 'us-east', { processing_time: 6, response_time: 200 }))
  w.add(ev(T + M, 'click', 'us-east'))
  w.add(ev(T + 2, 'purchase', 'us-east', { revenue_cents: 1234 }))
  w.add(ev(T + 3, 'click', 'eu-west'))
  const rows = w.drain().sort((a, b) => a.window_start - b.window_start || a.event_type.localeCompare(b.event_type) || a.region.localeCompare(b.region))
  assert.deepEqual(rows.map((r) => [r.window_start - T, r.event_type, r.region, r.partials.events]), [
    [0, 'click', 'eu-west', 1], [0, 'click', 'us-east', 2], [0, 'purchase', 'us-east', 1], [M, 'click', 'us-east', 1]
  ])
  const click = rows[1]?.partials
  assert.equal(click?.latency_sum, 10)
  assert.equal(click?.latency_count, 2)
  assert.equal(click && sketchCount(click.response), 2)
  assert.equal(rows[2]?.partials.revenue_cents, 1234)
  assert.deepEqual(w.drain(), [], 'drain hands deltas out once')
})

test('windows: watermark = max event time − allowed lateness; a window ending at or before it is late', () => {
  const w = new MinuteWindows({ allowedLatenessMs: M })
  assert.equal(w.watermark, null)
  assert.equal(w.add(ev(T + 3 * M + 30_000)), true)
  assert.equal(w.maxEventTime, T + 3 * M + 30_000)
  assert.equal(w.watermark, T + 2 * M + 30_000)
  assert.equal(w.add(ev(T + M + 59_999)), false, 'window [T+1m, T+2m) ended before the watermark')
  assert.equal(w.add(ev(T + 2 * M)), true, 'window [T+2m, T+3m) is still open')
  assert.equal(w.add(ev(T + 4 * M - 1)), true)
  assert.equal(w.watermark, T + 3 * M - 1)
  assert.equal(w.add(ev(T + 2 * M + 1)), true, 'window ends at T+3m, just after the watermark')
  assert.equal(w.add(ev(T + 4 * M)), true)
  assert.equal(w.isLate(T + 2 * M + 1), true)
  assert.equal(w.add(ev(T + 2 * M + 1)), false, 'window ends at T+3m = the watermark: late')
  const rows = w.drain()
  assert.equal(rows.reduce((n, r) => n + r.partials.events, 0), 5, 'late events are not added')
})

test('windows: with zero allowed lateness only windows wholly before the newest event are late', () => {
  const w = new MinuteWindows({ allowedLatenessMs: 0 })
  assert.equal(w.add(ev(T + M)), true)
  assert.equal(w.add(ev(T + 59_999)), false)
  assert.equal(w.add(ev(T + M + 59_999)), true)
})

test('windows: rollback restores the watermark and drops the pending deltas', () => {
  const w = new MinuteWindows({ allowedLatenessMs: DEFAULTS.allowedLatenessMs })
  w.add(ev(T))
  w.drain()
  w.begin()
  w.add(ev(T + 10 * M))
  assert.equal(w.isLate(T), true)
  w.rollback()
  assert.equal(w.maxEventTime, T)
  assert.deepEqual(w.drain(), [])
  assert.equal(w.add(ev(T + 1)), true)
})

test('windows: lateness is judged per source partition; the watermark is the newest of all', () => {
  const w = new MinuteWindows({ allowedLatenessMs: M })
  w.begin('p0')
  assert.equal(w.add(ev(T + 50 * M)), true) // p0 read up to now (a rewind)
  w.commit()
  w.begin('p1')
  assert.equal(w.add(ev(T + M)), true, 'p1 is read from an hour ago: not late, its own stream is there')
  assert.equal(w.add(ev(T + 5 * M)), true)
  assert.equal(w.add(ev(T + 3 * M - 1)), false, 'late in p1: its minute ended before p1 newest − lateness')
  w.commit()
  assert.equal(w.watermark, T + 49 * M, 'the newest event of all partitions − lateness')
  w.begin('p0')
  assert.equal(w.add(ev(T + 40 * M)), false, 'p0 keeps its own newest time across batches')
  w.rollback()
  w.begin('p1')
  assert.equal(w.isLate(T + 4 * M), false)
  assert.equal(w.isLate(T + 4 * M - 1), true)
  w.begin('p2')
  assert.equal(w.add(ev(T)), true, 'a partition not seen before judges by its own events only')
})

test('windows: restore undoes committed batches of one partition after batches of others; the watermark follows the rest', () => {
  const w = new MinuteWindows({ allowedLatenessMs: M })
  w.begin('p0')
  w.add(ev(T + 10 * M))
  w.commit()
  const p1Before = w.newestOf('p1')
  assert.equal(p1Before, -Infinity)
  w.begin('p1')
  w.add(ev(T + 30 * M))
  w.drain()
  w.commit()
  w.begin('p0')
  w.add(ev(T + 20 * M))
  w.drain()
  w.commit()
  assert.equal(w.maxEventTime, T + 30 * M)
  w.restore('p1', p1Before) // p1's batch was not applied
  assert.equal(w.maxEventTime, T + 20 * M, 'the newest of p0, kept')
  assert.equal(w.newestOf('p1'), -Infinity)
  w.begin('p1')
  assert.equal(w.add(ev(T + M)), true, 'p1 judges lateness as before its batch')
  w.commit()
  w.restore('p0', T + 10 * M)
  assert.equal(w.newestOf('p0'), T + 10 * M)
  assert.equal(w.maxEventTime, T + 10 * M)
})
