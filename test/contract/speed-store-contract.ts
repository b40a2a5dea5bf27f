// The speed store contract (docs/design.md, "Speed store"), one suite for every backend: memory here,
// Redis and Cosmos DB later, run unchanged. It uses only the SpeedStore interface and a factory.
//
// The factory must return a fresh, empty store for each call (e.g. a unique key prefix or
// container per call) that reads time only from `now`: retention is judged by that clock, so a
// backend that also relies on native TTLs must still filter by it when reading.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  addEvent, type ApplyBatch, emptyPartials, type HourglassEvent, mergePartials, MINUTE_MS,
  type PartialRow, sketchToBins, type SpeedStore
} from '../../src/model/index.js'

export type SpeedStoreFactory = (opts: { now: () => number, retentionMs: number }) => Promise<SpeedStore>

const H = 3_600_000
const M = MINUTE_MS

/** Rows from events, one per (minute, event_type, region): what a pipeline would hand over. */
export function rowsOf (events: HourglassEvent[]): PartialRow[] {
  const rows = new Map<string, PartialRow>()
  for (const e of events) {
    const start = Math.floor(e.ts / M) * M
    const key = `${start}|${e.event_type}|${e.region}`
    let row = rows.get(key)
    if (row === undefined) {
      row = { window_start: start, event_type: e.event_type, region: e.region, partials: emptyPartials() }
      rows.set(key, row)
    }
    addEvent(row.partials, e)
  }
  return [...rows.values()]
}

/** Rows in a comparable form: sorted, sketch as bins. */
function plain (rows: PartialRow[]): unknown[] {
  return rows
    .map((r) => ({
      window_start: r.window_start,
      event_type: r.event_type,
      region: r.region,
      events: r.partials.events,
      latency_sum: r.partials.latency_sum,
      latency_count: r.partials.latency_count,
      revenue_cents: r.partials.revenue_cents,
      response: sketchToBins(r.partials.response),
      sentiment: [r.partials.sentiment_sum, r.partials.sentiment_count, r.partials.sentiment_positive, r.partials.sentiment_neutral,
        r.partials.sentiment_negative]
    }))
    .sort((a, b) => a.window_start - b.window_start || a.event_type.localeCompare(b.event_type) || a.region.localeCompare(b.region))
}

function merged (...sets: PartialRow[][]): PartialRow[] {
  const out = new Map<string, PartialRow>()
  for (const rows of sets) {
    for (const r of rows) {
      const key = `${r.window_start}|${r.event_type}|${r.region}`
      const have = out.get(key)
      if (have === undefined) out.set(key, { ...r, partials: { ...r.partials, response: new Map(r.partials.response) } })
      else mergePartials(have.partials, r.partials)
    }
  }
  return [...out.values()]
}

export function speedStoreContract (name: string, factory: SpeedStoreFactory): void {
  // a recent, hour-aligned instant, so that backends with wall-clock TTLs behave sensibly too
  const T0 = Math.floor(Date.now() / H) * H - H

  async function open (t: { after: (fn: () => Promise<void>) => void }, start = T0 + 10 * M, retentionMs = H) {
    const clock = { t: start }
    const store = await factory({ now: () => clock.t, retentionMs })
    t.after(() => store.close())
    return { store, clock }
  }

  const batch = (deltas: PartialRow[], offset: string, extra: Partial<ApplyBatch> = {}, topic = 'events', partition = 0): ApplyBatch =>
    ({ deltas, position: { topic, partition, offset }, ...extra })

  const ev = (i: number, ts: number, event_type: string, region: string, more: Partial<HourglassEvent> = {}): HourglassEvent =>
    ({ event_id: `e${i}`, ts, event_type, region, processing_time: 2 + (i % 7), response_time: 10 + i * 3.7, ...more })

  const setA = [
    ev(1, T0 + 5_000, 'click', 'us-east'),
    ev(2, T0 + 6_000, 'click', 'us-east', { revenue_cents: 0 }),
    ev(3, T0 + 7_000, 'purchase', 'eu-west', { revenue_cents: 1999, text: 'great', enrichment: { score: 0.8, label: 'positive', entities: [] } }),
    ev(4, T0 + M + 1, 'click', 'eu-west'),
    ev(5, T0 + 2 * M + 59_999, 'page_view', 'us-east', { processing_time: undefined, response_time: 0 })
  ]
  const setB = [
    ev(6, T0 + 9_000, 'click', 'us-east'),
    ev(7, T0 + M + 30_000, 'purchase', 'eu-west', { revenue_cents: 250, text: 'bad', enrichment: { score: -0.7, label: 'negative', entities: ['X'] } }),
    ev(9, T0 + M + 31_000, 'purchase', 'eu-west', { text: 'ok', enrichment: { score: 0.1, label: 'neutral', entities: [] } }),
    ev(10, T0 + 7_500, 'purchase', 'eu-west', { text: 'fine', enrichment: { score: 0.30000000000000004, label: 'positive', entities: [] } }),
    ev(8, T0 + 2 * M + 1_000, 'page_view', 'ap-south', { response_time: 1234.5 })
  ]

  test(`${name}: apply then query returns the merged partials (counts, sums, bins), filtered`, async (t) => {
    const { store } = await open(t)
    assert.equal(await store.apply(batch(rowsOf(setA), '0')), true)
    assert.equal(await store.apply(batch(rowsOf(setB), '1')), true)
    const all = merged(rowsOf(setA), rowsOf(setB))
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, {})), plain(all))
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, { event_type: [], region: [] })), plain(all), 'empty filter lists mean all')
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, { event_type: ['click'] })), plain(all.filter((r) => r.event_type === 'click')))
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, { region: ['eu-west', 'ap-south'] })), plain(all.filter((r) => r.region !== 'us-east')))
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, { event_type: ['purchase', 'click'], region: ['eu-west'] })), plain(all.filter((r) => r.region === 'eu-west')))
    assert.deepEqual(await store.query(T0, T0 + 10 * M, { event_type: ['nope'] }), [])
    const click = (await store.query(T0, T0 + M, { event_type: ['click'] }))[0] as PartialRow
    assert.equal(click.partials.events, 3)
    assert.equal(click.partials.latency_count, 3)
    const purchase = (await store.query(T0, T0 + M, { event_type: ['purchase'] }))[0] as PartialRow
    assert.equal(purchase.partials.sentiment_sum, 0.8 + 0.30000000000000004, 'sums as doubles, exactly')
    assert.deepEqual([purchase.partials.sentiment_count, purchase.partials.sentiment_positive, purchase.partials.sentiment_negative], [2, 2, 0])
  })

  test(`${name}: apply neither keeps nor hands out references to the caller's objects`, async (t) => {
    const { store } = await open(t)
    const deltas = rowsOf(setA)
    await store.apply(batch(deltas, '0'))
    const before = plain(await store.query(T0, T0 + 10 * M, {}))
    for (const d of deltas) { d.partials.events += 100; d.partials.response.set(1, 1000) }
    const got = await store.query(T0, T0 + 10 * M, {})
    assert.deepEqual(plain(got), before)
    for (const r of got) { r.partials.events += 100; r.partials.response.set(2, 1000) }
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, {})), before)
  })

  test(`${name}: applying the same batch twice counts it once; the second apply returns false`, async (t) => {
    const { store } = await open(t)
    assert.equal(await store.position('events', 0), null)
    assert.equal(await store.apply(batch(rowsOf(setA), '41')), true)
    assert.equal(await store.apply(batch(rowsOf(setA), '41')), false)
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, {})), plain(rowsOf(setA)))
    assert.equal(await store.position('events', 0), '41')
    // an empty batch still moves the position
    assert.equal(await store.apply(batch([], '42')), true)
    assert.equal(await store.position('events', 0), '42')
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, {})), plain(rowsOf(setA)))
  })

  test(`${name}: a batch older than the last applied one changes nothing`, async (t) => {
    const { store } = await open(t)
    assert.equal(await store.apply(batch(rowsOf(setA), '10', { watermark: T0 + M, maxEventTime: T0 + 2 * M })), true)
    assert.equal(await store.apply(batch(rowsOf(setB), '5', { watermark: T0 + 5 * M, maxEventTime: T0 + 6 * M })), false)
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, {})), plain(rowsOf(setA)))
    assert.equal(await store.position('events', 0), '10')
    const c = await store.coverage()
    assert.equal(c.watermark, T0 + M)
    assert.equal(c.maxEventTime, T0 + 2 * M)
  })

  test(`${name}: positions are kept per (topic, partition), independently`, async (t) => {
    const { store } = await open(t)
    assert.equal(await store.apply(batch(rowsOf(setA), '100', {}, 'events', 0)), true)
    assert.equal(await store.apply(batch(rowsOf(setB), '5', {}, 'events', 1)), true)
    assert.equal(await store.apply(batch([], '1', {}, 'other', 0)), true)
    assert.equal(await store.apply(batch(rowsOf(setB), '5', {}, 'events', 1)), false)
    assert.equal(await store.position('events', 0), '100')
    assert.equal(await store.position('events', 1), '5')
    assert.equal(await store.position('other', 0), '1')
    assert.equal(await store.position('other', 1), null)
    assert.equal(await store.position('nope', 0), null)
    assert.deepEqual(plain(await store.query(T0, T0 + 10 * M, {})), plain(merged(rowsOf(setA), rowsOf(setB))))
  })

  test(`${name}: offsets compare as int64 numbers, not as strings or doubles`, async (t) => {
    const { store } = await open(t)
    assert.equal(await store.apply(batch([], '9')), true)
    assert.equal(await store.apply(batch([], '10')), true, '"10" is after "9"')
    assert.equal(await store.apply(batch([], '9')), false)
    assert.equal(await store.apply(batch([], '9007199254740992')), true) // 2^53
    assert.equal(await store.apply(batch([], '9007199254740993')), true, '2^53 + 1 is after 2^53')
    assert.equal(await store.position('events', 0), '9007199254740993')
    assert.equal(await store.apply(batch(rowsOf(setA), '9007199254740992')), false)
    assert.equal(await store.apply(batch([], '9223372036854775806')), true)
    assert.equal(await store.position('events', 0), '9223372036854775806')
    assert.deepEqual(await store.query(T0, T0 + 10 * M, {}), [])
  })

  test(`${name}: query ranges are half-open [from, to) over window_start`, async (t) => {
    const { store } = await open(t)
    await store.apply(batch(rowsOf(setA), '0'))
    const starts = async (from: number, to: number) => [...new Set((await store.query(from, to, {})).map((r) => r.window_start))].sort((a, b) => a - b)
    assert.deepEqual(await starts(T0, T0 + 3 * M), [T0, T0 + M, T0 + 2 * M])
    assert.deepEqual(await starts(T0 + M, T0 + 2 * M), [T0 + M])
    assert.deepEqual(await starts(T0, T0 + M), [T0])
    assert.deepEqual(await starts(T0 + 1, T0 + 2 * M), [T0 + M], 'a window starting before `from` is not included')
    assert.deepEqual(await starts(T0 + M, T0 + M), [])
    assert.deepEqual(await starts(T0 + 3 * M, T0 + 10 * M), [])
  })

  test(`${name}: windows are evicted at the retention, by the injected clock`, async (t) => {
    const { store, clock } = await open(t, T0 + 10 * M, H)
    await store.apply(batch(rowsOf([...setA, ...setB]), '0'))
    const starts = async () => [...new Set((await store.query(T0 - H, T0 + 3 * H, {})).map((r) => r.window_start))].sort((a, b) => a - b)
    assert.deepEqual(await starts(), [T0, T0 + M, T0 + 2 * M])
    // window T0 ends at T0 + 1 min: kept while T0 + 1 min > now − retention
    clock.t = T0 + H + M - 1
    assert.deepEqual(await starts(), [T0, T0 + M, T0 + 2 * M])
    clock.t = T0 + H + M
    assert.deepEqual(await starts(), [T0 + M, T0 + 2 * M])
    clock.t = T0 + H + 2 * M + 30_000
    assert.deepEqual(await starts(), [T0 + 2 * M])
    // a delta for a window already past the retention is not stored
    assert.equal(await store.apply(batch(rowsOf([ev(9, T0 + 5_000, 'click', 'us-east')]), '1')), true)
    assert.deepEqual(await starts(), [T0 + 2 * M])
    clock.t = T0 + 2 * H
    assert.deepEqual(await starts(), [])
    assert.equal(await store.position('events', 0), '1', 'positions outlive the windows')
  })

  test(`${name}: coverage reports oldest, newest, watermark, maxEventTime and coveredFrom`, async (t) => {
    const { store, clock } = await open(t, T0 + 10 * M, H)
    assert.deepEqual(await store.coverage(), { oldest: null, newest: null, watermark: null, maxEventTime: null, coveredFrom: null })
    await store.apply(batch(rowsOf(setA), '0', { watermark: T0 + M, maxEventTime: T0 + 2 * M + 59_999 }))
    let c = await store.coverage()
    assert.deepEqual(c, { oldest: T0, newest: T0 + 2 * M, watermark: T0 + M, maxEventTime: T0 + 2 * M + 59_999, coveredFrom: null })
    // watermark and maxEventTime never go back
    await store.apply(batch(rowsOf(setB), '1', { watermark: T0 + 30_000, maxEventTime: T0 + 40_000 }))
    c = await store.coverage()
    assert.equal(c.watermark, T0 + M)
    assert.equal(c.maxEventTime, T0 + 2 * M + 59_999)
    await store.apply(batch([], '2', { watermark: T0 + 3 * M, maxEventTime: T0 + 4 * M }))
    c = await store.coverage()
    assert.equal(c.watermark, T0 + 3 * M)
    assert.equal(c.maxEventTime, T0 + 4 * M)

    await store.setCoveredFrom(T0)
    assert.equal((await store.coverage()).coveredFrom, T0)
    // once now − retention passes it, coveredFrom follows the retention, rounded down to a minute:
    // the window holding now − retention is kept whole (a window expires one retention after it ends)
    clock.t = T0 + H + 30_000
    assert.equal((await store.coverage()).coveredFrom, T0)
    assert.equal((await store.coverage()).oldest, T0, 'the window holding now − retention is kept')
    clock.t = T0 + H + 2 * M
    c = await store.coverage()
    assert.deepEqual(c, { oldest: T0 + 2 * M, newest: T0 + 2 * M, watermark: T0 + 3 * M, maxEventTime: T0 + 4 * M, coveredFrom: T0 + 2 * M })
    clock.t = T0 + 3 * H
    c = await store.coverage()
    assert.deepEqual(c, { oldest: null, newest: null, watermark: T0 + 3 * M, maxEventTime: T0 + 4 * M, coveredFrom: T0 + 2 * H })
    // a later setCoveredFrom wins when it is after the retention horizon
    await store.setCoveredFrom(T0 + 2 * H + 30 * M)
    assert.equal((await store.coverage()).coveredFrom, T0 + 2 * H + 30 * M)
  })

  test(`${name}: with \`previous\`, apply is a compare-and-set on the stored position`, async (t) => {
    const { store } = await open(t)
    const rows = rowsOf([ev(1, T0, 'a', 'x')])
    assert.equal(await store.apply(batch(rows, '4', { previous: '2' })), false, 'the store has no position yet, not 2')
    assert.equal(await store.apply(batch(rows, '4', { previous: null })), true)
    assert.equal(await store.apply(batch(rows, '9', { previous: '3' })), false, 'another writer moved it to 4')
    assert.equal(await store.position('events', 0), '4')
    assert.equal(await store.apply(batch(rows, '9', { previous: '4' })), true)
    assert.equal((await store.query(T0, T0 + M, {}))[0]?.partials.events, 2)
    assert.equal(await store.apply(batch(rows, '12', { previous: null }, 'events', 1)), true, 'positions are per partition')
  })

  test(`${name}: dedup keys are remembered atomically with an applied batch, for the dedup window`, async (t) => {
    const { store, clock } = await open(t)
    assert.deepEqual(await store.seen([]), [])
    assert.deepEqual(await store.seen(['k1', 'k2']), [false, false])
    await store.apply(batch(rowsOf([ev(1, T0, 'a', 'x')]), '0', { dedupKeys: ['k1', 'k2'] }))
    assert.deepEqual(await store.seen(['k2', 'k3', 'k1']), [true, false, true])
    // a stale batch records nothing, keys included
    assert.equal(await store.apply(batch([], '0', { dedupKeys: ['k9'] })), false)
    assert.deepEqual(await store.seen(['k9']), [false])
    // keys are forgotten after the dedup window (five minutes), by the injected clock
    clock.t += 5 * M + 1000
    assert.deepEqual(await store.seen(['k1', 'k2']), [false, false])
  })

  test(`${name}: the change token of a range changes when its rows change and never comes back`, async (t) => {
    const { store, clock } = await open(t)
    const a0 = await store.changeToken(T0, T0 + 5 * M)
    await store.apply(batch(rowsOf([ev(1, T0 + M, 'a', 'x')]), '0'))
    const a1 = await store.changeToken(T0, T0 + 5 * M)
    assert.notEqual(a1, a0, 'a write into the range changes its token')
    assert.equal(await store.changeToken(T0, T0 + 5 * M), a1, 'no write: the same token')
    await store.apply(batch(rowsOf([ev(2, T0 + 2 * M, 'a', 'x')]), '1'))
    const a2 = await store.changeToken(T0, T0 + 5 * M)
    assert.ok(a2 !== a1 && a2 !== a0)
    // eviction changes it too
    clock.t = T0 + H + 2 * M + 1
    const a3 = await store.changeToken(T0, T0 + 5 * M)
    assert.ok(![a0, a1, a2].includes(a3))
  })

  test(`${name}: close() resolves, and a second close() too`, async () => {
    const store = await factory({ now: () => T0, retentionMs: H })
    await store.apply(batch(rowsOf(setA), '0'))
    await store.close()
    await store.close()
  })
}
