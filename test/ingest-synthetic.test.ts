import assert from 'node:assert/strict'
import { test } from 'node:test'
import { diurnalFactor, EVENT_TYPES, generateHistory, type HistoryRecord, LiveTraffic, REGIONS, type Shares, SyntheticSource } from '../src/ingest/index.js'
import { MINUTE_MS, parseEvent, validateEvent } from '../src/model/index.js'
import { SHARES_DEFAULTS } from './helpers/settings.js'
import { sleep } from './helpers/wait.js'

const FROM = Date.UTC(2026, 0, 5)
const DAY = 86_400_000

function sample (hours: number, rate: number, seed = 42, shares: Shares = SHARES_DEFAULTS): HistoryRecord[] {
  const out: HistoryRecord[] = []
  for (const b of generateHistory({ from: FROM, to: FROM + hours * 3_600_000, rate, seed, shares })) out.push(...b.records)
  return out
}

/** classify a record stream by content alone: invalid, duplicate (same bytes as before), late, or on time */
function classify (records: HistoryRecord[]) {
  const seen = new Set<string>()
  const c = { invalid: 0, duplicate: 0, late: 0, ok: 0, reasons: new Map<string, number>(), types: new Map<string, number>(), regions: new Map<string, number>(), purchases: 0, revenueOnOthers: 0 }
  for (const r of records) {
    const v = parseEvent(r.value, r.at)
    if (!v.ok) { c.invalid++; c.reasons.set(v.reason, (c.reasons.get(v.reason) ?? 0) + 1); continue }
    if (seen.has(r.value)) { c.duplicate++; continue }
    seen.add(r.value)
    const e = v.event
    if (r.at - e.ts > MINUTE_MS) c.late++
    else c.ok++
    c.types.set(e.event_type, (c.types.get(e.event_type) ?? 0) + 1)
    c.regions.set(e.region, (c.regions.get(e.region) ?? 0) + 1)
    if (e.event_type === 'purchase') { c.purchases++; assert.ok(e.revenue_cents !== undefined && e.revenue_cents > 0) } else if (e.revenue_cents !== undefined) c.revenueOnOthers++
    assert.ok(e.response_time !== undefined && e.response_time >= 0)
    assert.ok(e.processing_time !== undefined && e.processing_time > 0)
  }
  return c
}

test('synthetic history: shares of duplicates, late and invalid records are near the configured ones', () => {
  const records = sample(24, 3) // ≈ 259 200 records over a day
  assert.ok(Math.abs(records.length - 3 * 86_400) / (3 * 86_400) < 0.01, `${records.length} records`)
  const c = classify(records)
  const n = records.length
  assert.ok(Math.abs(c.duplicate / n - SHARES_DEFAULTS.duplicate) < 0.002, `duplicates ${c.duplicate / n}`)
  assert.ok(Math.abs(c.late / n - SHARES_DEFAULTS.late) < 0.001, `late ${c.late / n}`)
  assert.ok(Math.abs(c.invalid / n - SHARES_DEFAULTS.invalid) < 0.001, `invalid ${c.invalid / n}`)
})

test('synthetic history: other shares are honoured, zero included', () => {
  const none = classify(sample(2, 5, 1, { duplicate: 0, late: 0, invalid: 0 }))
  assert.deepEqual([none.duplicate, none.late, none.invalid], [0, 0, 0])
  const many = sample(2, 20, 1, { duplicate: 0.1, late: 0.05, invalid: 0.2 })
  const c = classify(many)
  assert.ok(Math.abs(c.duplicate / many.length - 0.1) < 0.01)
  assert.ok(Math.abs(c.late / many.length - 0.05) < 0.01)
  assert.ok(Math.abs(c.invalid / many.length - 0.2) < 0.01)
})

test('synthetic: ≥ 8 event types and ≥ 6 regions, with skewed popularity; revenue on purchases only', () => {
  const c = classify(sample(6, 10))
  assert.ok(c.types.size >= 8, [...c.types.keys()].join())
  assert.ok(c.regions.size >= 6, [...c.regions.keys()].join())
  assert.ok(EVENT_TYPES.length >= 8 && REGIONS.length >= 6)
  const types = [...c.types.values()].sort((a, b) => b - a)
  const regions = [...c.regions.values()].sort((a, b) => b - a)
  assert.ok((types[0] as number) > 4 * (types[types.length - 1] as number), `types ${types.join()}`)
  assert.ok((regions[0] as number) > 3 * (regions[regions.length - 1] as number), `regions ${regions.join()}`)
  assert.ok(c.purchases > 0)
  assert.equal(c.revenueOnOthers, 0)
})

test('synthetic: response times are log-normal-ish: median near the type median, long right tail', () => {
  const times: number[] = []
  for (const r of sample(3, 10, 9)) {
    const v = parseEvent(r.value, r.at)
    if (v.ok && v.event.event_type === 'click' && v.event.response_time !== undefined) times.push(v.event.response_time)
  }
  times.sort((a, b) => a - b)
  const q = (p: number) => times[Math.floor(p * (times.length - 1))] as number
  assert.ok(q(0.5) > 30 && q(0.5) < 55, `median ${q(0.5)}`)
  assert.ok(q(0.95) / q(0.5) > 2, 'a right tail: p95 well above the median')
  assert.ok(q(0.5) / q(0.05) > 2)
})

test('synthetic: revenue has at most 2 decimals (every valid purchase passes validation)', () => {
  let purchases = 0
  for (const r of sample(4, 10, 3, { duplicate: 0, late: 0, invalid: 0 })) {
    const v = validateEvent(JSON.parse(r.value), r.at)
    assert.ok(v.ok, r.value)
    if (v.event.event_type === 'purchase') purchases++
  }
  assert.ok(purchases > 500)
})

test('synthetic: invalid records fail validation for varied reasons', () => {
  const c = classify(sample(4, 10, 5))
  assert.ok(c.reasons.size >= 7, [...c.reasons.keys()].join())
  for (const reason of ['not_json', 'not_object', 'bad_revenue', 'future_timestamp', 'bad_timestamp']) assert.ok(c.reasons.has(reason), reason)
})

test('synthetic: deterministic for a seed, different for another', () => {
  const a = sample(1, 20, 11).map((r) => r.value)
  const b = sample(1, 20, 11).map((r) => r.value)
  const c = sample(1, 20, 12).map((r) => r.value)
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, c)
})

test('synthetic history: emission times in [from, to), in order; offsets count up; diurnal: peak ≈ 2× trough', () => {
  const records = sample(24, 2, 8)
  let last = -Infinity
  records.forEach((r, i) => {
    assert.ok(r.at >= FROM && r.at < FROM + DAY)
    assert.ok(r.at >= last)
    last = r.at
    assert.equal(r.offset, String(i))
  })
  const perHour = new Array(24).fill(0)
  for (const r of records) perHour[Math.floor((r.at - FROM) / 3_600_000)]++
  const ratio = Math.max(...perHour) / Math.min(...perHour)
  assert.ok(ratio > 1.7 && ratio < 2.3, `peak/trough ${ratio}`)
  assert.ok(Math.abs(diurnalFactor(Date.UTC(2026, 0, 1, 15)) / diurnalFactor(Date.UTC(2026, 0, 1, 3)) - 2) < 1e-9)
})

test('live traffic: the count follows rate × diurnal factor exactly over time (injected clock)', () => {
  const t0 = Date.UTC(2026, 0, 5, 9) // factor 1 at 09:00 UTC
  const live = new LiveTraffic({ rate: 50, seed: 1, shares: SHARES_DEFAULTS, startOffset: '9007199254740990' })
  assert.deepEqual(live.take(t0), [])
  let n = 0
  let expected = 0
  let offset = 9007199254740990n
  for (let t = t0 + 137; t <= t0 + 60_000; t += 137) {
    const recs = live.take(t)
    for (const r of recs) assert.equal(r.offset, String(offset++))
    n += recs.length
    expected += (50 * diurnalFactor(t - 68.5) * 137) / 1000
  }
  assert.ok(Math.abs(n - expected) <= 1, `${n} vs ${expected}`)
  // a long pause is skipped, not caught up in one burst
  assert.ok(live.take(t0 + 3_600_000).length <= 50 * 10 * 1.4)
})

test('live traffic: event times lie in the interval taken, late ones minutes before', () => {
  const t0 = Date.UTC(2026, 0, 5, 15)
  const live = new LiveTraffic({ rate: 1000, seed: 2, shares: SHARES_DEFAULTS })
  live.take(t0)
  const recs = live.take(t0 + 10_000)
  let late = 0
  for (const r of recs) {
    const v = parseEvent(r.value, t0 + 10_000)
    if (!v.ok) continue
    if (v.event.ts < t0) { late++; assert.ok(v.event.ts >= t0 - 10 * MINUTE_MS) } else assert.ok(v.event.ts <= t0 + 10_000)
  }
  assert.ok(late > 0)
})

test('SyntheticSource: emits batches at roughly the rate, offsets increasing, and stops gracefully', async () => {
  const source = new SyntheticSource({ rate: 2000, seed: 3, shares: SHARES_DEFAULTS, tickMs: 50, startOffset: 100 })
  const offsets: bigint[] = []
  let batches = 0
  let inHandler = false
  const started = Date.now()
  await source.start(async (batch) => {
    assert.equal(inHandler, false, 'the handler is awaited before the next batch')
    inHandler = true
    assert.equal(batch.topic, 'synthetic')
    assert.equal(batch.partition, 0)
    batches++
    for (const r of batch.records) offsets.push(BigInt(r.offset))
    await sleep(5)
    inHandler = false
  })
  await sleep(1000)
  await source.stop()
  await source.done
  const elapsed = (Date.now() - started) / 1000
  const count = offsets.length
  const after = count
  await sleep(150)
  assert.equal(offsets.length, after, 'nothing after stop()')
  assert.ok(batches >= 3, `${batches} batches`)
  const expected = 2000 * elapsed * diurnalFactor(Date.now())
  assert.ok(count > 0.3 * expected && count < 3 * expected, `${count} records in ${elapsed}s, expected ≈ ${expected}`)
  assert.equal(offsets[0], 100n)
  offsets.forEach((o, i) => assert.equal(o, 100n + BigInt(i)))
  assert.equal(source.nextOffset, String(100 + count))
})

test('SyntheticSource: a failing handler rejects done', async () => {
  const keepAlive = setInterval(() => undefined, 1000) // the source's timers are unref'd
  const source = new SyntheticSource({ rate: 1000, seed: 3, shares: SHARES_DEFAULTS, tickMs: 20 })
  await source.start(async () => { throw new Error('sink full') })
  await assert.rejects(source.done, /sink full/)
  await source.stop()
  clearInterval(keepAlive)
})
