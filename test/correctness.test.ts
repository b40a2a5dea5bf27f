// Acceptance 2 of the walking skeleton: a fixed event set with duplicates, late and invalid
// records is replayed through the file source (speed layer + bronze sink) and the batch job; for
// ranges wholly in batch, wholly in speed, straddling B and straddling a gap, the merged answer
// must equal a brute-force computation over the raw events: counts and sums exact, p95 within 1%
// of the exact quantile, and the gap reported. Real Parquet, real DuckDB, the real app; the clock
// is injected so hour boundaries fall where the test says.
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type App, buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import type { Granularity, MetricsResult, ResultRow } from '../src/model/index.js'
import { bucketStart, iso } from '../src/model/index.js'
import { prng } from '../src/ingest/synthetic.js'

const M = 60_000
const H = 3_600_000
const T = Date.UTC(2026, 0, 20, 12, 30) // "now" of the first run: 12:30 UTC
const TYPES = ['view', 'click', 'buy', 'search']
const REGIONS = ['eu', 'us', 'ap']

interface Ev { event_id: string, ts: number, event_type: string, region: string, processing_time?: number, response_time?: number, revenue?: number }

/** Lines of a JSON Lines file: events in time order over [from, to) plus duplicates, late and invalid records. */
function makeLines (from: number, to: number, n: number, seed: number, idPrefix: string): string[] {
  const rand = prng(seed)
  const lines: string[] = []
  const emitted: Ev[] = []
  for (let i = 0; i < n; i++) {
    const ts = Math.floor(from + ((to - from) * i) / n)
    const type = TYPES[Math.floor(rand() * rand() * TYPES.length)] as string
    const e: Ev = { event_id: `${idPrefix}-${i}`, ts, event_type: type, region: REGIONS[Math.floor(rand() * REGIONS.length)] as string }
    if (rand() < 0.9) e.processing_time = Math.round(rand() * 2000) / 10
    if (rand() < 0.95) e.response_time = rand() < 0.02 ? 0 : Math.exp(4 + rand() * 2 + rand())
    if (type === 'buy') e.revenue = Math.round(rand() * 50_000) / 100
    emitted.push(e)
    lines.push(JSON.stringify({ ...e, timestamp: new Date(ts).toISOString(), ts: undefined }))
    const r = rand()
    if (r < 0.02 && emitted.length > 5) {
      // a duplicate: an event sent again shortly after (same bytes)
      const d = emitted[emitted.length - 1 - Math.floor(rand() * 5)] as Ev
      lines.push(JSON.stringify({ ...d, timestamp: new Date(d.ts).toISOString(), ts: undefined }))
    } else if (r < 0.03) {
      // a late event: 3 to 20 minutes behind the stream (epoch-ms timestamp form)
      const late: Ev = { event_id: `${idPrefix}-late-${i}`, ts: ts - (3 + Math.floor(rand() * 17)) * M, event_type: type, region: 'eu', processing_time: 7, response_time: 123, revenue: 1.5 }
      lines.push(JSON.stringify({ ...late, timestamp: late.ts, ts: undefined }))
    } else if (r < 0.04) {
      const bad = [
        '{not json',
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: ts, event_type: 'view', region: 'eu', revenue: -1 }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: ts, event_type: 'view', region: 'eu', revenue: 1.234 }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: 'yesterday', event_type: 'view', region: 'eu' }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: ts, region: 'eu' }),
        JSON.stringify({ event_id: `${idPrefix}-bad-${i}`, timestamp: to + 24 * H, event_type: 'view', region: 'eu' }) // a day in the future
      ]
      lines.push(bad[Math.floor(rand() * bad.length)] as string)
    }
  }
  return lines
}

interface Parsed { e: Ev, line: number }

/** The brute force: valid records (by the event contract, independently restated), in file order. */
function validRecords (lines: string[], now: number): Parsed[] {
  const out: Parsed[] = []
  lines.forEach((text, line) => {
    let v: Record<string, unknown>
    try { v = JSON.parse(text) as Record<string, unknown> } catch { return }
    const ts = typeof v.timestamp === 'number' ? v.timestamp : typeof v.timestamp === 'string' ? Date.parse(v.timestamp) : NaN
    if (!Number.isFinite(ts) || ts > now + 5 * M) return
    if (typeof v.event_type !== 'string' || typeof v.region !== 'string' || typeof v.event_id !== 'string') return
    if (v.revenue !== undefined && (typeof v.revenue !== 'number' || !/^\d+(\.\d{1,2})?$/.test(String(v.revenue)))) return
    out.push({ e: { ...(v as unknown as Ev), ts }, line })
  })
  return out
}

/** What the batch layer counts: every valid event once (dedup by event_id + timestamp), late ones included. */
function batchEvents (records: Parsed[]): Ev[] {
  const seen = new Set<string>()
  return records.filter(({ e }) => { const k = e.event_id + '|' + e.ts; if (seen.has(k)) return false; seen.add(k); return true }).map((r) => r.e)
}

/** What the speed layer counts: deduplicated, minus events whose minute closed (watermark = newest − 1 min). */
function speedEvents (records: Parsed[]): Ev[] {
  const seen = new Set<string>()
  let newest = -Infinity
  const out: Ev[] = []
  for (const { e } of records) {
    const k = e.event_id + '|' + e.ts
    const dup = seen.has(k)
    seen.add(k)
    newest = Math.max(newest, e.ts)
    if (dup) continue
    if (bucketStart(e.ts, 'minute') + M <= newest - M) continue // late
    out.push(e)
  }
  return out
}

interface Expected { total_events: number, revenue_cents: number, latency: number[], response: number[] }

function brute (events: Ev[], from: number, to: number, g: Granularity, groupBy: ('event_type' | 'region')[]): Map<string, Expected> {
  const out = new Map<string, Expected>()
  for (const e of events) {
    if (e.ts < from || e.ts >= to) continue
    const key = [iso(bucketStart(e.ts, g)), ...groupBy.map((d) => e[d])].join('|')
    let x = out.get(key)
    if (x === undefined) { x = { total_events: 0, revenue_cents: 0, latency: [], response: [] }; out.set(key, x) }
    x.total_events++
    if (e.revenue !== undefined) x.revenue_cents += Math.round(e.revenue * 100)
    if (e.processing_time !== undefined) x.latency.push(e.processing_time)
    if (e.response_time !== undefined) x.response.push(e.response_time)
  }
  return out
}

function assertEqualsBrute (res: MetricsResult, expected: Map<string, Expected>, groupBy: ('event_type' | 'region')[], label: string): void {
  const got = new Map<string, ResultRow>(res.rows.map((r) => [[r.window_start, ...groupBy.map((d) => r[d])].join('|'), r]))
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), `${label}: the same buckets`)
  for (const [key, x] of expected) {
    const r = got.get(key) as ResultRow
    assert.equal(r.total_events, x.total_events, `${label} ${key}: total_events`)
    assert.equal(r.total_revenue, x.revenue_cents / 100, `${label} ${key}: total_revenue`)
    if (x.latency.length === 0) assert.equal(r.avg_latency, null)
    else {
      const avg = x.latency.reduce((a, b) => a + b, 0) / x.latency.length
      assert.ok(Math.abs((r.avg_latency as number) - avg) <= 1e-9 * avg, `${label} ${key}: avg_latency ${r.avg_latency} vs ${avg}`)
    }
    if (x.response.length === 0) assert.equal(r.p95_response, null)
    else {
      const sorted = [...x.response].sort((a, b) => a - b)
      const exact = sorted[Math.floor(0.95 * (sorted.length - 1))] as number
      const p95 = r.p95_response as number
      assert.ok(exact === 0 ? p95 === 0 : Math.abs(p95 - exact) / exact <= 0.01, `${label} ${key}: p95 ${p95} vs exact ${exact}`)
    }
  }
}

async function query (app: App, qs: string): Promise<MetricsResult> {
  const res = await app.server.inject({ method: 'GET', url: '/v1/metrics?' + qs })
  assert.equal(res.statusCode, 200, res.body)
  return res.json<MetricsResult>()
}

async function runFile (dataDir: string, path: string, now: number): Promise<App> {
  const config = loadConfig({}, { dataDir, source: `file:${path}`, logLevel: 'silent', seedDays: '0' })
  const app = await buildApp(config, { now: () => now, schedule: false })
  await app.startSource()
  await app.source?.done
  return app
}

test('merged answers equal brute force in batch, in speed, across B and across a gap', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-correct-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')

  // Run 1, at 12:30: six hours of events up to 12:29:50.
  const linesA = makeLines(T - 6 * H, T - 10_000, 24_000, 1, 'a')
  const fileA = join(dir, 'a.jsonl')
  await writeFile(fileA, linesA.join('\n') + '\n')
  const recordsA = validRecords(linesA, T)
  const app1 = await runFile(dataDir, fileA, T)
  t.after(() => app1.close())
  const quality = app1.service.quality()
  assert.equal(quality.received, linesA.length, 'every record was received')
  assert.equal(quality.valid, recordsA.length, 'the same records are valid as by the brute force')
  assert.ok(quality.invalid > 100 && quality.duplicates > 100 && quality.late > 100, JSON.stringify(quality))
  assert.equal(app1.pipeline.deadLetters(10_000).length, quality.invalid, 'every invalid record is kept as a dead letter')

  const built = await app1.runBatchNow()
  assert.equal(built.completeUntil, T - 30 * M, 'B = 12:00: the hour 12:00-13:00 is not complete')
  const B = T - 30 * M
  const allA = batchEvents(recordsA)
  const speedA = speedEvents(recordsA)
  const G = ['event_type'] as ('event_type' | 'region')[]

  // wholly in batch
  const inBatch = await query(app1, `from=${iso(T - 6 * H - 30 * M)}&to=${iso(B - H)}&granularity=hour&group_by=event_type`)
  assert.deepEqual(inBatch.meta.sources.map((s) => s.layer), ['batch'])
  assert.equal(inBatch.meta.complete, true)
  assertEqualsBrute(inBatch, brute(allA, T - 6 * H - 30 * M, B - H, 'hour', G), G, 'wholly in batch')

  // wholly in speed, minute granularity
  const inSpeed = await query(app1, `from=${iso(B)}&to=${iso(T)}&granularity=minute&group_by=event_type,region`)
  assert.deepEqual(inSpeed.meta.sources.map((s) => s.layer), ['speed'])
  assert.equal(inSpeed.meta.complete, true, JSON.stringify(inSpeed.meta.gaps))
  assertEqualsBrute(inSpeed, brute(speedA, B, T, 'minute', ['event_type', 'region']), ['event_type', 'region'], 'wholly in speed')

  // straddling B: batch below 12:00, speed above, hourly and daily
  const across = await query(app1, `from=${iso(B - 3 * H)}&to=${iso(T)}&granularity=hour&group_by=event_type`)
  assert.deepEqual(across.meta.sources.map((s) => s.layer), ['batch', 'speed'])
  assert.equal(across.meta.boundary, iso(B))
  assert.equal(across.meta.complete, true)
  const expectAcross = brute(allA, B - 3 * H, B, 'hour', G)
  for (const [k, v] of brute(speedA, B, T, 'hour', G)) expectAcross.set(k, v)
  assertEqualsBrute(across, expectAcross, G, 'straddling B')

  const day = await query(app1, `from=${iso(T - 12 * H - 30 * M)}&granularity=day`)
  const mixed = [...allA.filter((e) => e.ts < B), ...speedA.filter((e) => e.ts >= B)]
  assertEqualsBrute(day, brute(mixed, bucketStart(T, 'day'), T + H, 'day', []), [], 'day straddling B')

  await app1.close()

  // Run 2, at 14:30: the speed layer restarted (in memory: it holds only what bronze replays of the
  // last hour, which is nothing) and the batch has not run since 12:30, so B is still 12:00.
  // The log then grows by 12:30-14:29; the file source resumes after what bronze already holds.
  const T2 = T + 2 * H
  const linesB = makeLines(T, T2 - 10_000, 8000, 2, 'b')
  await appendFile(fileA, linesB.join('\n') + '\n')
  const recordsB = validRecords(linesB, T2)
  const app2 = await runFile(dataDir, fileA, T2)
  t.after(() => app2.close())
  const speedB = speedEvents(recordsB)
  assert.equal(app2.service.quality().received, linesB.length, 'run 2 read only the new records')

  const gap = await query(app2, `from=${iso(B - 2 * H)}&to=${iso(T2)}&granularity=hour&group_by=event_type`)
  assert.equal(gap.meta.boundary, iso(B))
  assert.equal(gap.meta.complete, false)
  assert.deepEqual(gap.meta.gaps, [{ from: iso(B), to: iso(T2 - H), reason: 'speed_not_covered' }])
  // what is served is still exact for what each layer holds: batch below B, speed from 13:30 on
  const expectGap = brute(allA, B - 2 * H, B, 'hour', G)
  for (const [k, v] of brute(speedB, T2 - H, T2, 'hour', G)) expectGap.set(k, v)
  assertEqualsBrute(gap, expectGap, G, 'straddling a gap')

  // The batch catches up: bronze now holds both files, gold is rebuilt to 14:00, and the gap closes.
  const caught = await app2.runBatchNow()
  assert.equal(caught.completeUntil, T2 - 30 * M)
  const after = await query(app2, `from=${iso(B - 2 * H)}&to=${iso(T2)}&granularity=hour&group_by=event_type`)
  assert.equal(after.meta.complete, true, JSON.stringify(after.meta.gaps))
  assert.deepEqual(after.meta.sources.map((s) => s.layer), ['batch', 'speed'])
  const allAB = batchEvents([...recordsA, ...recordsB])
  const expectAfter = brute(allAB, B - 2 * H, T2 - 30 * M, 'hour', G)
  for (const [k, v] of brute(speedB, T2 - 30 * M, T2, 'hour', G)) expectAfter.set(k, v)
  assertEqualsBrute(after, expectAfter, G, 'after the batch caught up (late events now counted)')
})
