// The embedded default end to end, as `npm start` runs it: an empty data
// folder is seeded with synthetic history, gold is built, the synthetic stream feeds the speed
// layer, and a real HTTP socket answers a 48-hour hourly query from both layers, complete.
//
// The clock is injected, set to half past an hour: the batch boundary B trails the bronze
// watermark by the allowed lateness (1 min) rounded down to the hour, and the speed store keeps
// one hour, so in the minutes after each hour boundary, until the next batch run moves B, the
// range [B, now - 1h) is held by neither layer and is reported as a gap (`speed_not_covered`).
// That is the design working, not a failure; at half past, B is the current hour and the speed
// store reaches back 30 minutes before it, so the answer must be complete.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { readBronzeState } from '../src/batch/index.js'
import { loadConfig } from '../src/config.js'
import { bucketStart, HOUR_MS, iso, MINUTE_MS } from '../src/model/index.js'
import { HISTORY_TOPIC } from '../src/app/seed.js'
import { until } from './helpers/wait.js'

// half past the previous hour, moving with the wall clock from there
const realStart = Date.now()
const T0 = bucketStart(realStart, 'hour') - 30 * MINUTE_MS
const now = (): number => Date.now() - realStart + T0
const B = bucketStart(T0, 'hour') // the boundary the seeded gold must reach

interface Row { window_start: string, event_type?: string, region?: string, total_events: number, avg_latency: number | null, p95_response: number | null, total_revenue: number | null }
interface Meta {
  from: string
  to: string
  granularity: string
  boundary: string | null
  sources: Array<{ layer: string, from: string, to: string }>
  complete: boolean
  gaps: Array<{ from: string, to: string, reason: string }>
  freshness: { watermark: string | null, lag_ms: number | null }
  batch_version: number | null
}
interface MetricsBody { rows: Row[], meta: Meta }

interface Running { app: App, base: string, progress: string[] }

async function start (dataDir: string): Promise<Running> {
  const config = loadConfig({}, { dataDir, seedDays: '2', syntheticRate: '2', source: 'synthetic', logLevel: 'silent', port: '0', host: '127.0.0.1' })
  const progress: string[] = []
  const app = await buildApp(config, { now, progress: (line) => progress.push(line) })
  try {
    const base = await app.server.listen({ port: config.port, host: config.host })
    await app.startSource()
    return { app, base, progress }
  } catch (err) {
    await app.close()
    throw err
  }
}

async function get<T> (base: string, path: string): Promise<{ status: number, body: T, text: string }> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json')
  return { status: res.status, body: (json ? JSON.parse(text) : null) as T, text }
}

const FROM = bucketStart(T0 - 48 * HOUR_MS, 'hour')
const QUERY_48H = `/v1/metrics?from=${iso(FROM)}&granularity=hour&group_by=event_type`

/** The 48-hour answer must come from both layers, cut at B, with nothing missing. */
function assertComplete48h (res: { status: number, body: MetricsBody }): void {
  assert.equal(res.status, 200)
  const { rows, meta } = res.body
  assert.deepEqual(meta.gaps, [], 'no gaps at half past the hour')
  assert.equal(meta.complete, true)
  assert.equal(meta.boundary, iso(B))
  assert.deepEqual(meta.sources, [
    { layer: 'batch', from: iso(FROM), to: iso(B) },
    { layer: 'speed', from: iso(B), to: iso(B + HOUR_MS) }
  ])
  assert.ok(meta.batch_version !== null && meta.batch_version >= 1, `batch_version ${meta.batch_version}`)
  assert.ok(rows.length > 0)
  const hours = new Set(rows.map((r) => r.window_start))
  assert.equal(hours.size, 49, 'every hour of the range has rows: 48 from gold, the current one from speed')
  assert.ok(hours.has(iso(FROM)) && hours.has(iso(B)))
  for (const r of rows) {
    assert.equal(Date.parse(r.window_start) % HOUR_MS, 0, `hour-aligned ${r.window_start}`)
    assert.equal(typeof r.event_type, 'string')
    assert.ok(Number.isInteger(r.total_events) && r.total_events > 0)
  }
  // the current hour (speed) has about half an hour of events
  assert.ok(rows.filter((r) => r.window_start === iso(B)).reduce((s, r) => s + r.total_events, 0) > 100)
}

describe('the embedded default, end to end over HTTP', () => {
  let dataDir: string
  let first: Running
  let batchRows: Row[] = []

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hourglass-app-'))
    first = await start(dataDir)
  })
  after(async () => {
    await first?.app.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  test('an empty data folder is seeded and built to gold at start', () => {
    assert.ok(first.progress.some((l) => /^seed: 2 days of synthetic history/.test(l)), first.progress.join('\n'))
    assert.ok(first.progress.some((l) => /^batch: published gold v1: /.test(l)), first.progress.join('\n'))
    assert.ok(first.progress.some((l) => /^speed: rebuilt from bronze, [\d,]+ events/.test(l)), first.progress.join('\n'))
  })

  test('the synthetic stream reaches the speed layer', async () => {
    await until('/v1/quality received > 0', async () => (await get<{ received: number }>(first.base, '/v1/quality')).body.received > 0)
    const q = await get<{ received: number, valid: number, quality_ratio: number }>(first.base, '/v1/quality')
    assert.equal(q.status, 200)
    assert.ok(q.body.valid <= q.body.received)
    assert.ok(q.body.quality_ratio >= 0 && q.body.quality_ratio <= 1)
  })

  test('48 hours hourly by event type: both layers, complete', async () => {
    const res = await get<MetricsBody>(first.base, QUERY_48H)
    assertComplete48h(res)
    const m = res.body.meta
    assert.equal(m.granularity, 'hour')
    assert.ok(m.freshness.watermark !== null && m.freshness.lag_ms !== null && m.freshness.lag_ms < 2 * MINUTE_MS, JSON.stringify(m.freshness))
    const types = new Set(res.body.rows.map((r) => r.event_type))
    assert.ok(types.size >= 8, `event types ${[...types].join(', ')}`)
    batchRows = res.body.rows.filter((r) => Date.parse(r.window_start) < B)
    assert.ok(batchRows.length > 0)
  })

  test('/v1/metrics/live: minute rows from the speed layer', async () => {
    const res = await get<MetricsBody>(first.base, '/v1/metrics/live?last=15m&group_by=region')
    assert.equal(res.status, 200)
    assert.equal(res.body.meta.granularity, 'minute')
    assert.deepEqual(res.body.meta.sources.map((s) => s.layer), ['speed'])
    assert.ok(res.body.rows.length > 0)
    const to = bucketStart(now(), 'minute') + MINUTE_MS
    for (const r of res.body.rows) {
      const t = Date.parse(r.window_start)
      assert.equal(t % MINUTE_MS, 0, `minute-aligned ${r.window_start}`)
      assert.ok(t >= to - 16 * MINUTE_MS && t < to, `${r.window_start} within the last 15 minutes`)
      assert.equal(typeof r.region, 'string')
    }
  })

  test('/v1/dimensions: the synthetic event types and regions', async () => {
    const res = await get<{ event_types: string[], regions: string[] }>(first.base, '/v1/dimensions')
    assert.equal(res.status, 200)
    assert.ok(res.body.event_types.length >= 8, res.body.event_types.join(', '))
    assert.ok(res.body.regions.length >= 6, res.body.regions.join(', '))
  })

  test('/v1/entities: the synthetic reviews\' entities from the seeded gold; after B, a speed_no_entities gap', async () => {
    const res = await get<{ entities: Array<{ entity: string, n: number }>, meta: Meta }>(first.base, `/v1/entities?from=${iso(B - 24 * HOUR_MS)}&limit=5`)
    assert.equal(res.status, 200, res.text)
    assert.ok(res.body.entities.length > 0 && res.body.entities.length <= 5, res.text)
    assert.ok(res.body.entities.some((e) => ['Berlin', 'Paris', 'Anna', 'Contoso', 'Seattle'].includes(e.entity)), res.text)
    assert.ok(res.body.entities.every((e, i, all) => e.n >= 1 && (i === 0 || all[i - 1]!.n >= e.n)), res.text)
    assert.deepEqual(res.body.meta.sources, [{ layer: 'batch', from: iso(B - 24 * HOUR_MS), to: iso(B) }])
    assert.equal(res.body.meta.gaps.at(-1)?.reason, 'speed_no_entities', res.text)
    assert.equal(res.body.meta.gaps.at(-1)?.from, iso(B))
  })

  test('/healthz and /readyz are 200', async () => {
    assert.equal((await get(first.base, '/healthz')).status, 200)
    const ready = await get<{ ready: boolean }>(first.base, '/readyz')
    assert.equal(ready.status, 200, ready.text)
    assert.equal(ready.body.ready, true)
  })

  test('/metrics: Prometheus text with the pipeline counters', async () => {
    const res = await get(first.base, '/metrics')
    assert.equal(res.status, 200)
    assert.match(res.text, /^# TYPE hourglass_events_received_total counter$/m)
    assert.match(res.text, /^hourglass_events_received_total [1-9]\d*$/m, 'records were received')
    assert.match(res.text, /^hourglass_batch_version 1$/m)
  })

  test('runBatchNow: nothing new in the middle of an hour, gold stays in force', async () => {
    const s = await first.app.runBatchNow()
    assert.equal(s.published, false)
    assert.equal(s.version, 1)
    assert.equal(s.completeUntil, B)
  })

  test('close flushes the live events to bronze; a second close is harmless', async () => {
    const { app } = first
    await app.close()
    await app.close()
    const state = await readBronzeState(dataDir)
    const topics = state.partitions.map((p) => p.topic).sort()
    assert.deepEqual(topics, ['synthetic', HISTORY_TOPIC].sort())
    const live = state.partitions.find((p) => p.topic === 'synthetic')
    assert.ok(live !== undefined && Date.parse(live.max_event_time) > T0, 'the live events reached bronze')
    await assert.rejects(fetch(first.base + '/healthz', { signal: AbortSignal.timeout(2000) }), 'the socket is closed')
  })

  test('a restart on the same folder: no new seed, the same gold, still complete', async (t) => {
    assert.ok(batchRows.length > 0, 'runs after the 48-hour query test')
    const second = await start(dataDir)
    t.after(() => second.app.close())
    assert.ok(!second.progress.some((l) => l.startsWith('seed:')), 'bronze is not empty: no seed')
    assert.ok(!second.progress.some((l) => l.startsWith('batch: published')), 'no hour became complete since')
    const res = await get<MetricsBody>(second.base, QUERY_48H)
    assertComplete48h(res)
    assert.equal(res.body.meta.batch_version, 1)
    assert.deepEqual(res.body.rows.filter((r) => Date.parse(r.window_start) < B), batchRows, 'the hours wholly in batch read the same')
  })
})
