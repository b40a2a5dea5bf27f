import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseEvent, parseInstant, toWire, validateEvent } from '../src/model/index.js'

const NOW = Date.parse('2026-01-20T12:30:00Z')
const ok = { event_id: 'e1', timestamp: '2026-01-20T12:00:00Z', event_type: 'click', region: 'eu' }

test('instants: ISO-8601 with or without a zone, epoch ms; impossible dates refused', () => {
  const table: [unknown, number | null][] = [
    ['2026-01-20T12:30:00Z', NOW],
    ['2026-01-20T12:30:00.5Z', NOW + 500],
    ['2026-01-20T12:30:00.123456789Z', NOW + 123],
    ['2026-01-20T14:30:00+02:00', NOW],
    ['2026-01-20T07:00:00-0530', NOW],
    ['2026-01-20T12:30', NOW],
    ['2026-01-20 12:30:00Z', NOW],
    ['2026-01-20', Date.parse('2026-01-20T00:00:00Z')],
    [NOW, NOW],
    [String(NOW), NOW],
    ['2024-02-29T00:00:00Z', Date.parse('2024-02-29T00:00:00Z')],
    ['2026-02-29T00:00:00Z', null],
    ['2026-02-30T00:00:00Z', null],
    ['2026-04-31', null],
    ['2026-13-01', null],
    ['2026-01-20T24:00:00Z', null],
    ['2026-01-20T12:60:00Z', null],
    ['2026-01-20T12:30:00+25:00', null],
    ['2026-1-2', null],
    ['yesterday', null],
    ['', null],
    [1.5, null],
    [Number.NaN, null],
    [null, null],
    [{}, null]
  ]
  for (const [input, expected] of table) assert.equal(parseInstant(input), expected, JSON.stringify(input))
})

test('instants in the canonical form (toISOString) read exactly, hour after hour, and invalid ones in that form are refused', () => {
  let x = 12345
  const rand = (): number => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648 }
  let t = Date.UTC(2025, 11, 31, 22, 0, 0)
  for (let i = 0; i < 20_000; i++) {
    t += Math.floor(rand() * 2000) // through hour, day, month and year changes
    assert.equal(parseInstant(new Date(t).toISOString()), t)
    if (i % 1000 === 0) assert.equal(parseInstant(new Date(t - 7 * 86_400_000).toISOString()), t - 7 * 86_400_000, 'an older hour in between')
  }
  const bad = ['2026-02-30T12:00:00.000Z', '2026-01-20T24:00:00.000Z', '2026-01-20T12:60:00.000Z', '2026-01-20T12:00:60.000Z', '2026-01-2xT12:00:00.000Z', '2026-01-20T12:0a:00.000Z', '2026-01-20T12:00:00.0x0Z']
  for (const text of bad) {
    assert.equal(parseInstant('2026-01-20T12:30:00.000Z'), Date.UTC(2026, 0, 20, 12, 30))
    assert.equal(parseInstant(text), null, text)
  }
})

test('validation: each rule has its stable reason code', () => {
  const table: [unknown, string][] = [
    [[1, 2], 'not_object'],
    [null, 'not_object'],
    [{ ...ok, event_id: '' }, 'bad_event_id'],
    [{ ...ok, event_id: 'x'.repeat(129) }, 'bad_event_id'],
    [{ ...ok, timestamp: undefined }, 'bad_timestamp'],
    [{ ...ok, timestamp: '2026-02-30T00:00:00Z' }, 'bad_timestamp'],
    [{ ...ok, timestamp: NOW + 6 * 60_000 }, 'future_timestamp'],
    [{ ...ok, event_type: 7 }, 'bad_event_type'],
    [{ ...ok, event_type: 'x'.repeat(65) }, 'bad_event_type'],
    [{ ...ok, region: '' }, 'bad_region'],
    [{ ...ok, processing_time: -1 }, 'bad_processing_time'],
    [{ ...ok, response_time: '5' }, 'bad_response_time'],
    [{ ...ok, revenue: -0.01 }, 'bad_revenue'],
    [{ ...ok, revenue: 1.005 }, 'bad_revenue'],
    [{ ...ok, user_id: 5 }, 'bad_user_id'],
    [{ ...ok, text: 5 }, 'bad_text'],
    [{ ...ok, text: ['great'] }, 'bad_text'],
    [{ ...ok, text: 'x'.repeat(4097) }, 'bad_text']
  ]
  for (const [input, reason] of table) {
    const v = validateEvent(input, NOW)
    assert.equal(v.ok, false, JSON.stringify(input))
    if (!v.ok) {
      assert.equal(v.reason, reason, JSON.stringify(input))
      assert.ok(v.detail.length > 0)
    }
  }
  const bad = parseEvent('{"event_id":', NOW)
  assert.equal(bad.ok ? '' : bad.reason, 'not_json')
})

test('a valid event is normalised (ms, integer cents) and round-trips through its wire form', () => {
  const v = validateEvent({ ...ok, processing_time: 12.5, response_time: 0, revenue: 19.99, user_id: 'u1', text: 'Lovely 😀', timestamp: NOW + 4 * 60_000 }, NOW)
  assert.ok(v.ok)
  if (!v.ok) return
  assert.equal(v.event.revenue_cents, 1999)
  assert.equal(v.event.text, 'Lovely 😀')
  assert.equal(v.event.ts, NOW + 4 * 60_000)
  const again = parseEvent(JSON.stringify(toWire(v.event)), NOW)
  assert.ok(again.ok)
  if (again.ok) assert.deepEqual(again.event, v.event)
  const cents = validateEvent({ ...ok, revenue: 0.29 }, NOW)
  assert.ok(cents.ok && cents.event.revenue_cents === 29)
})

test('text is optional: absent, null or empty leave none; 4096 characters are taken', () => {
  for (const text of [undefined, null, '']) {
    const v = validateEvent({ ...ok, text }, NOW)
    assert.ok(v.ok && v.event.text === undefined, String(text))
  }
  const long = validateEvent({ ...ok, text: 'y'.repeat(4096) }, NOW)
  assert.ok(long.ok && long.event.text?.length === 4096)
})
