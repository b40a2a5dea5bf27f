// Reconciliation end to end: the real app (file source → speed layer + bronze → batch job
// → gold) compares the speed layer with gold for the hour gold publishes while the speed layer still
// holds it. The event set has late events, which the speed layer leaves to the batch: the batch must
// exceed the speed layer by exactly their count and revenue, as a brute force over the raw events
// says. The clock is fixed at 12:30 and the retention is 2 h, so the speed layer holds 10:30-12:30:
// 11:00 is comparable, 10:00 (half evicted) is not.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { iso } from '../src/model/index.js'
import { batchEvents, type Ev, H, M, makeLines, speedEvents, validRecords } from './helpers/events.js'

const T = Date.UTC(2026, 0, 20, 12, 30)
const HOUR = T - 90 * M // 11:00, the hour both layers hold when gold reaches 12:00

interface Body {
  reconciliations: Array<{
    hour: string
    batch_version: number
    speed_events: number
    batch_events: number
    events_diff: number
    events_relative_diff: number | null
    speed_revenue: number
    batch_revenue: number
    revenue_diff: number
    revenue_relative_diff: number | null
    differing_groups: Array<{ event_type: string, region: string, events_diff: number, revenue_diff: number }>
  }>
  recorded: number
}

const key = (e: Ev): string => e.event_id + '|' + e.ts
const inHour = (e: Ev): boolean => e.ts >= HOUR && e.ts < HOUR + H
const cents = (events: Ev[]): number => events.reduce((s, e) => s + (e.revenue === undefined ? 0 : Math.round(e.revenue * 100)), 0)

async function get (app: App, url: string): Promise<{ status: number, json: () => unknown, body: string }> {
  const res = await app.server.inject({ method: 'GET', url })
  return { status: res.statusCode, json: () => res.json(), body: res.body }
}

test('late events show as batch > speed by exactly their count and revenue, in /v1/reconciliation and /metrics', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-reconcile-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const lines = makeLines(T - 3 * H, T - 10_000, 12_000, 7, 'r')
  const file = join(dir, 'events.jsonl')
  await writeFile(file, lines.join('\n') + '\n')

  const config = loadConfig({}, { dataDir: join(dir, 'data'), source: `file:${file}`, logLevel: 'silent', seedDays: '0', retentionMs: '2h' })
  const app = await buildApp(config, { now: () => T, schedule: false })
  t.after(() => app.close())
  const before = (await get(app, '/v1/reconciliation')).json() as Body
  assert.deepEqual(before, { reconciliations: [], recorded: 0 }, 'no gold yet: nothing reconciled')
  await app.startSource()
  await app.source?.done

  const built = await app.runBatchNow()
  assert.equal(built.published, true)
  assert.equal(built.completeUntil, T - 30 * M)

  // the brute force: what each layer counts over 11:00-12:00, and the late events between them
  const records = validRecords(lines, T)
  const batch = batchEvents(records).filter(inHour)
  const speed = speedEvents(records).filter(inHour)
  const inSpeed = new Set(speed.map(key))
  const late = batch.filter((e) => !inSpeed.has(key(e)))
  assert.equal(speed.length + late.length, batch.length, 'the speed layer holds a subset of the batch')
  assert.ok(late.length >= 10, `the hour has late events (${late.length})`)

  const res = await get(app, '/v1/reconciliation?limit=24')
  assert.equal(res.status, 200, res.body)
  const body = res.json() as Body
  assert.equal(body.recorded, 1)
  assert.equal(body.reconciliations.length, 1, 'only 11:00: the speed layer holds 10:00 in part only')
  const r = body.reconciliations[0] as Body['reconciliations'][number]
  assert.equal(r.hour, iso(HOUR))
  assert.equal(r.batch_version, built.version)
  assert.equal(r.batch_events, batch.length)
  assert.equal(r.speed_events, speed.length)
  assert.equal(r.events_diff, -late.length)
  assert.equal(r.events_relative_diff, -late.length / batch.length)
  assert.equal(r.batch_revenue, cents(batch) / 100)
  assert.equal(r.speed_revenue, cents(speed) / 100)
  assert.equal(Math.round(r.revenue_diff * 100), -cents(late))
  // the late events of this set are all in region eu: only eu groups differ
  const lateGroups = new Set(late.map((e) => `${e.event_type}|${e.region}`))
  assert.deepEqual(r.differing_groups.map((g) => `${g.event_type}|${g.region}`).sort(), [...lateGroups].sort())
  assert.equal(r.differing_groups.reduce((s, g) => s + g.events_diff, 0), -late.length)

  const metrics = (await get(app, '/metrics')).body
  assert.match(metrics, new RegExp(`^hourglass_reconciliation_events_diff ${-late.length}$`, 'm'))
  assert.match(metrics, new RegExp(`^hourglass_reconciliation_batch_events ${batch.length}$`, 'm'))
  assert.match(metrics, new RegExp(`^hourglass_reconciliation_speed_events ${speed.length}$`, 'm'))
  assert.match(metrics, new RegExp(`^hourglass_reconciliation_hour_timestamp_seconds ${HOUR / 1000}$`, 'm'))
  assert.match(metrics, /^hourglass_reconciled_hours_total 1$/m)
  assert.doesNotMatch(metrics, /hourglass_reconciliation_[a-z_]+\{/, 'no labels: one series per gauge')

  // a batch run that publishes nothing compares nothing again
  assert.equal((await app.runBatchNow()).published, false)
  assert.equal(((await get(app, '/v1/reconciliation')).json() as Body).recorded, 1)
})

test('GET /v1/reconciliation: limit is 1..48; a bad or unknown parameter is a 400 with its code', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-reconcile-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const config = loadConfig({}, { dataDir: join(dir, 'data'), source: 'none', logLevel: 'silent', seedDays: '0' })
  const app = await buildApp(config, { now: () => T, schedule: false })
  t.after(() => app.close())
  for (const url of ['/v1/reconciliation?limit=1', '/v1/reconciliation?limit=48', '/v1/reconciliation']) {
    assert.equal((await get(app, url)).status, 200, url)
  }
  for (const [url, code] of [
    ['/v1/reconciliation?limit=0', 'HG_ERR_BAD_LIMIT'],
    ['/v1/reconciliation?limit=49', 'HG_ERR_BAD_LIMIT'],
    ['/v1/reconciliation?limit=-1', 'HG_ERR_BAD_LIMIT'],
    ['/v1/reconciliation?limit=ten', 'HG_ERR_BAD_LIMIT'],
    ['/v1/reconciliation?limit=', 'HG_ERR_BAD_LIMIT'],
    ['/v1/reconciliation?hour=2026-01-20T11:00:00Z', 'HG_ERR_UNKNOWN_PARAMETER'],
    ['/v1/reconciliation?limit=1&limit=2', 'HG_ERR_VALIDATION']
  ] as const) {
    const res = await get(app, url)
    assert.equal(res.status, 400, url)
    assert.equal((res.json() as { code: string }).code, code, url)
  }
  assert.match((await get(app, '/v1/reconciliation?limit=49')).body, /from 1 to 48/)
  // nothing reconciled yet: the gauges are NaN, not a misleading 0
  const metrics = (await get(app, '/metrics')).body
  assert.match(metrics, /^hourglass_reconciliation_events_diff nan$/im)
  assert.match(metrics, /^hourglass_reconciliation_revenue_diff nan$/im)
  assert.match(metrics, /^hourglass_reconciled_hours_total 0$/m)
})
