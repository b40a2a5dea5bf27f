// Queries that need the same batch part at the same time share one gold read (the part is not yet
// in the cache while the first read runs); a read that fails is not kept, so the next query reads again.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MergingMetricsService } from '../src/merger/index.js'
import { emptyPartials, type GoldSnapshot, METRIC_NAMES, type MetricsQuery, type PartialRow } from '../src/model/index.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { LIMITS_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'
import { until } from './helpers/wait.js'

const H = 3_600_000
const T0 = Date.parse('2026-03-01T00:00:00Z')
const B = T0 + 24 * H

function gatedGold () {
  const snapshot: GoldSnapshot = { version: 1, completeUntil: B, completeFrom: T0, publishedAt: B }
  const rows: PartialRow[] = []
  for (let t = T0; t < B; t += H) rows.push({ window_start: t, event_type: 'click', region: 'eu-west', partials: emptyPartials() })
  const gold = {
    reads: 0,
    fail: false,
    open: (): void => undefined,
    snapshot: () => snapshot,
    query: async () => {
      gold.reads++
      await new Promise<void>((resolve) => { gold.open = resolve })
      if (gold.fail) throw new Error('gold read failed')
      return rows.map((r) => ({ ...r, partials: emptyPartials() }))
    },
    dimensions: async () => ({ event_types: ['click'], regions: ['eu-west'] }),
    topEntities: async () => []
  }
  return gold
}

test('concurrent queries of one batch part share one gold read and get the same answer; a failed read is not kept', async (t) => {
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => B + H })
  t.after(() => store.close())
  const gold = gatedGold()
  const service = new MergingMetricsService({
    gold,
    speed: store,
    quality: { counts: () => ({ received: 0, valid: 0, invalid: 0, invalid_by_reason: {}, duplicates: 0, late: 0 }), deadLetters: () => [] },
    allowedLatenessMs: 60_000,
    now: () => B + H,
    limits: LIMITS_DEFAULTS
  })
  const q: MetricsQuery = { from: T0, to: B, granularity: 'hour', groupBy: [], filters: {}, metrics: [...METRIC_NAMES] }

  gold.fail = true
  const failing = [service.query(q), service.query(q)]
  await until('the first read', () => gold.reads === 1, 10_000)
  gold.open()
  for (const r of await Promise.allSettled(failing)) assert.equal(r.status, 'rejected')
  assert.equal(gold.reads, 1, 'the failing read was shared too')

  gold.fail = false
  const answers = [service.query(q), service.query(q), service.query(q)]
  await until('the second read', () => gold.reads === 2, 10_000)
  gold.open()
  const [a, b, c] = await Promise.all(answers)
  assert.equal(gold.reads, 2, 'after a failure the part is read again, once for three queries')
  assert.equal(a?.rows.length, 24)
  assert.deepEqual(b, a)
  assert.deepEqual(c, a)
  assert.equal((await service.query(q)).rows.length, 24)
  assert.equal(gold.reads, 2, 'then it comes from the cache')
})
