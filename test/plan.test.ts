import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Coverage } from '../src/model/index.js'
import { alignRange, planQuery } from '../src/merger/plan.js'

const H = 3_600_000
const M = 60_000
const T0 = Date.parse('2026-01-10T00:00:00Z')
const now = T0 + 50 * H + 30 * M // 2026-01-12T02:30Z
const live: Coverage = { oldest: now - H, newest: now, watermark: now - 2 * M, maxEventTime: now - 1000, coveredFrom: now - H }
const base = { granularity: 'hour' as const, boundary: T0 + 50 * H, historyFrom: T0 - 7 * 24 * H, speed: live, now, speedStaleMs: 120_000 }

test('a range straddling B is cut at B: batch below, speed above, complete', () => {
  const p = planQuery({ ...base, from: T0 + 2 * H, to: T0 + 51 * H })
  assert.deepEqual(p.batch, { from: T0 + 2 * H, to: T0 + 50 * H })
  assert.deepEqual(p.speed, { from: T0 + 50 * H, to: T0 + 51 * H })
  assert.deepEqual(p.sources.map((s) => s.layer), ['batch', 'speed'])
  assert.deepEqual(p.gaps, [])
})

test('wholly in batch: no speed part', () => {
  const p = planQuery({ ...base, from: T0, to: T0 + 10 * H })
  assert.equal(p.speed, null)
  assert.deepEqual(p.sources.map((s) => s.layer), ['batch'])
})

test('wholly in speed with minute granularity is allowed; minute over gold is refused', () => {
  const p = planQuery({ ...base, granularity: 'minute', from: T0 + 50 * H + 5 * M, to: T0 + 50 * H + 20 * M })
  assert.equal(p.batch, null)
  assert.deepEqual(p.gaps, [])
  assert.throws(() => planQuery({ ...base, granularity: 'minute', from: T0 + 49 * H, to: T0 + 50 * H + 20 * M }), { code: 'HG_ERR_MINUTE_NOT_AVAILABLE' })
})

test('speed part older than the speed coverage is a gap (batch late)', () => {
  const p = planQuery({ ...base, boundary: T0 + 48 * H, from: T0 + 40 * H, to: T0 + 51 * H })
  assert.deepEqual(p.gaps, [{ from: new Date(T0 + 48 * H).toISOString(), to: new Date(now - H).toISOString(), reason: 'speed_not_covered' }])
})

test('a speed layer that is behind reports the range it has not caught up with', () => {
  const behind = { ...live, maxEventTime: now - 10 * M }
  const p = planQuery({ ...base, speed: behind, from: T0 + 50 * H, to: T0 + 51 * H })
  assert.deepEqual(p.gaps, [{ from: new Date(now - 9 * M).toISOString(), to: new Date(now).toISOString(), reason: 'speed_behind' }])
})

test('no gold: everything is speed; before history is a gap', () => {
  const p = planQuery({ ...base, boundary: null, from: now - 30 * M, to: now })
  assert.equal(p.batch, null)
  assert.equal(p.gaps.length, 0)
  const q = planQuery({ ...base, from: base.historyFrom - 2 * H, to: T0 })
  assert.deepEqual(q.gaps.map((g) => g.reason), ['before_history'])
})

test('ranges are aligned outward to the granularity', () => {
  assert.deepEqual(alignRange(T0 + 90 * M, T0 + 150 * M, 'hour'), { from: T0 + H, to: T0 + 3 * H })
  assert.deepEqual(alignRange(T0 + 5 * H, T0 + 6 * H, 'day'), { from: T0, to: T0 + 24 * H })
  assert.deepEqual(alignRange(T0, T0 + H, 'hour'), { from: T0, to: T0 + H })
})
