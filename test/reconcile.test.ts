// Reconciliation's parts without services: the pure comparison (src/merger/reconcile.ts), the log
// of the newest hours, the speed ledger over a real memory store whose clock moves (it must keep a
// whole hour past the store's one-hour retention), and one reconciliation pass over a stand-in gold.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type CountRow, reconcileGold, reconcileHours, ReconciliationLog, type Reconciliation, SpeedLedger } from '../src/merger/index.js'
import { emptyPartials, type GoldSnapshot, type GoldSource, HOUR_MS, MINUTE_MS, type PartialRow } from '../src/model/index.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { STORE_DEFAULTS } from './helpers/settings.js'

const H0 = Date.UTC(2026, 0, 20, 10) // an hour start

function row (t: number, eventType: string, region: string, events: number, revenueCents = 0): CountRow {
  return { window_start: t, event_type: eventType, region, partials: { events, revenue_cents: revenueCents } }
}

test('reconcileHours: totals, differences and the groups that differ', () => {
  const gold = [row(H0, 'buy', 'eu', 10, 1500), row(H0, 'view', 'us', 100), row(H0 + HOUR_MS, 'view', 'us', 7)]
  // speed: two buy events (3.00) missing in eu (late), one view counted twice in us (a duplicate)
  const speed = [row(H0, 'buy', 'eu', 5, 800), row(H0 + 5 * MINUTE_MS, 'buy', 'eu', 3, 400), row(H0 + 59 * MINUTE_MS, 'view', 'us', 101)]
  const [out] = reconcileHours({ hours: [H0], gold, speed, coverage: { coveredFrom: H0 - 10 * MINUTE_MS, closedUntil: H0 + 2 * HOUR_MS }, batchVersion: 4 })
  assert.ok(out?.comparable === true)
  const r = out.reconciliation
  assert.deepEqual({ ...r, differing_groups: undefined }, {
    hour: H0,
    batch_version: 4,
    speed_events: 109,
    batch_events: 110,
    events_diff: -1,
    events_relative_diff: -1 / 110,
    speed_revenue_cents: 1200,
    batch_revenue_cents: 1500,
    revenue_diff_cents: -300,
    revenue_relative_diff: -0.2,
    differing_groups: undefined
  })
  assert.deepEqual(r.differing_groups.map((g) => [g.event_type, g.region, g.events_diff, g.revenue_diff_cents]), [['buy', 'eu', -2, -300], ['view', 'us', 1, 0]])
})

test('reconcileHours: an hour the speed side does not hold whole, or has not closed, is not comparable', () => {
  const hours = [H0, H0 + HOUR_MS, H0 + 2 * HOUR_MS]
  const out = reconcileHours({ hours, gold: [], speed: [], coverage: { coveredFrom: H0 + MINUTE_MS, closedUntil: H0 + 2 * HOUR_MS + 59 * MINUTE_MS }, batchVersion: 1 })
  assert.deepEqual(out.map((o) => o.comparable ? 'ok' : o.notComparable.reason), ['speed_not_covered', 'ok', 'speed_open'])
  const none = reconcileHours({ hours: [H0], gold: [], speed: [], coverage: { coveredFrom: null, closedUntil: null }, batchVersion: 1 })
  assert.deepEqual(none, [{ comparable: false, notComparable: { hour: H0, reason: 'speed_not_covered' } }])
})

test('reconcileHours: relative differences are 0 when both sides are empty and null when only the batch is', () => {
  const coverage = { coveredFrom: H0, closedUntil: H0 + 2 * HOUR_MS }
  const [onlySpeed, empty] = reconcileHours({ hours: [H0 + HOUR_MS, H0], gold: [], speed: [row(H0, 'a', 'b', 2, 5)], coverage, batchVersion: 1 })
  assert.ok(empty?.comparable === true && onlySpeed?.comparable === true)
  assert.equal(onlySpeed.reconciliation.hour, H0, 'ascending hours')
  assert.equal(onlySpeed.reconciliation.events_relative_diff, null)
  assert.equal(onlySpeed.reconciliation.revenue_relative_diff, null)
  assert.equal(onlySpeed.reconciliation.differing_groups.length, 1)
  assert.equal(empty.reconciliation.events_relative_diff, 0)
  assert.equal(empty.reconciliation.revenue_relative_diff, 0)
  assert.deepEqual(empty.reconciliation.differing_groups, [])
})

function rec (hour: number, version = 1): Reconciliation {
  return { hour, batch_version: version, speed_events: 1, batch_events: 1, events_diff: 0, events_relative_diff: 0, speed_revenue_cents: 0, batch_revenue_cents: 0, revenue_diff_cents: 0, revenue_relative_diff: 0, differing_groups: [] }
}

test('ReconciliationLog: newest hour first, one entry per hour, at most its capacity', () => {
  const log = new ReconciliationLog(3)
  log.add([rec(H0 + HOUR_MS), rec(H0)])
  log.add([rec(H0 + 3 * HOUR_MS), rec(H0 + 2 * HOUR_MS)])
  assert.deepEqual(log.latest(10).map((r) => (r.hour - H0) / HOUR_MS), [3, 2, 1])
  log.add([rec(H0 + 2 * HOUR_MS, 2)])
  assert.deepEqual(log.latest(2).map((r) => [(r.hour - H0) / HOUR_MS, r.batch_version]), [[3, 1], [2, 2]])
  assert.equal(log.recorded, 5)
  assert.deepEqual(log.latest(0), [])
})

/** A memory store with a movable clock, fed one event per minute (1 event, 1.00 of revenue). */
function feed (): { store: MemorySpeedStore, at: (t: number) => void, minute: (m: number) => Promise<void> } {
  let now = H0
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => now, retentionMs: HOUR_MS, sweepIntervalMs: 3_600_000 })
  let offset = 0
  return {
    store,
    at: (t) => { now = t },
    // the event of minute m arrives at m + 30 s; the watermark trails it by a minute
    minute: async (m) => {
      const ts = H0 + m * MINUTE_MS + 30_000
      now = ts
      const partials = emptyPartials(); partials.events = 1; partials.revenue_cents = 100
      const delta: PartialRow = { window_start: H0 + m * MINUTE_MS, event_type: 'buy', region: 'eu', partials }
      assert.equal(await store.apply({ deltas: [delta], position: { topic: 't', partition: 0, offset: String(offset++) }, watermark: ts - MINUTE_MS, maxEventTime: ts }), true)
    }
  }
}

test('SpeedLedger keeps a whole closed hour that the one-hour store has already begun to evict', async (t) => {
  const { store, minute } = feed()
  t.after(() => store.close())
  await store.setCoveredFrom(H0)
  const ledger = new SpeedLedger({ store })
  for (let m = 0; m < 62; m++) {
    await minute(m)
    if (m % 10 === 0) await ledger.capture()
  }
  await ledger.capture()
  // now 11:01:30: the store has evicted 10:00, the ledger still holds it
  assert.ok(((await store.coverage()).coveredFrom as number) > H0)
  assert.deepEqual(ledger.coverage(), { coveredFrom: H0, closedUntil: H0 + 60 * MINUTE_MS })
  const rows = ledger.rows(H0, H0 + HOUR_MS)
  assert.equal(rows.reduce((s, r) => s + r.partials.events, 0), 60)
  assert.equal(rows.reduce((s, r) => s + r.partials.revenue_cents, 0), 6000)
  ledger.release(H0 + HOUR_MS)
  assert.deepEqual(ledger.coverage(), { coveredFrom: H0 + HOUR_MS, closedUntil: H0 + HOUR_MS })
  assert.equal(ledger.size, 0)
})

test('SpeedLedger: minutes the store evicted before they were read break the run; the ledger starts again', async (t) => {
  const { store, minute, at } = feed()
  t.after(() => store.close())
  await store.setCoveredFrom(H0)
  const ledger = new SpeedLedger({ store })
  await minute(0); await minute(1); await minute(2)
  await ledger.capture()
  assert.deepEqual(ledger.coverage(), { coveredFrom: H0, closedUntil: H0 + MINUTE_MS })
  at(H0 + 90 * MINUTE_MS) // nobody read for 88 minutes: the store now covers from 10:30 only
  await ledger.capture()
  const c = ledger.coverage()
  assert.equal(c.coveredFrom, H0 + 30 * MINUTE_MS)
  assert.equal(ledger.rows(H0, H0 + HOUR_MS).length, 0)
})

test('reconcileGold: compares the hours before B the ledger holds, once each, and keeps the open ones', async (t) => {
  const { store, minute } = feed()
  t.after(() => store.close())
  await store.setCoveredFrom(H0)
  const ledger = new SpeedLedger({ store })
  for (let m = 0; m < 62; m++) { await minute(m); if (m % 20 === 0) await ledger.capture() }
  let snapshot: GoldSnapshot | null = { version: 3, completeUntil: H0 + HOUR_MS, completeFrom: H0 - 24 * HOUR_MS, publishedAt: 0 }
  const gold: GoldSource = {
    snapshot: () => snapshot,
    // gold counted 62 events (two late ones the speed layer left out) and 64.00 of revenue
    query: async (_s, from, to) => [{ window_start: H0, event_type: 'buy', region: 'eu', partials: { ...emptyPartials(), events: 62, revenue_cents: 6400 } }].filter((r) => r.window_start >= from && r.window_start < to),
    dimensions: async () => ({ event_types: [], regions: [] }),
    topEntities: async () => []
  }
  const log = new ReconciliationLog()
  const out = await reconcileGold({ gold, ledger, log })
  assert.deepEqual(out.map((o) => o.comparable), [true])
  const [r] = log.latest(5)
  assert.equal(r?.hour, H0)
  assert.equal(r?.batch_version, 3)
  assert.deepEqual([r?.speed_events, r?.batch_events, r?.events_diff, r?.revenue_diff_cents], [60, 62, -2, -400])
  assert.deepEqual(await reconcileGold({ gold, ledger, log }), [], 'an hour is compared once')
  assert.equal(log.recorded, 1)

  // B moves on to 12:00 while the speed layer has closed 11:00..11:00 only: 11:00 stays for later
  snapshot = { ...snapshot, version: 4, completeUntil: H0 + 2 * HOUR_MS }
  const open = await reconcileGold({ gold, ledger, log })
  assert.deepEqual(open.map((o) => o.comparable ? 'ok' : o.notComparable.reason), ['speed_open'])
  assert.equal(ledger.coverage().coveredFrom, H0 + HOUR_MS, 'the open hour is kept')
  snapshot = null
  assert.deepEqual(await reconcileGold({ gold, ledger, log }), [], 'no gold: nothing to compare')
})
