// Query throughput over real HTTP (loopback): a bare Fastify route returning a constant payload of
// the merged answer's size, the merged 24 h hourly query grouped by event_type (batch + speed), and
// the live 15-minute query; requests/s, p99 and the ratios to bare. Prints JSON; asserts nothing.
//
//   npm run bench:query [-- --duration 10 --rounds 2 --connections 10 --warmup 2]
//
// The real app is built on a temporary data folder (2 days of seeded history, gold built, the
// synthetic source live). autocannon fires from a worker thread (its `workers` option), so the
// load generator does not share the servers' event loop; every target is measured the same way,
// in turns (bare, bare with schema, merged, live, then again), `--duration` seconds each in all.
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon, { type Result } from 'autocannon'
import Fastify from 'fastify'
import { MetricsResult } from '../src/api/rest/schemas.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { MergingMetricsService } from '../src/merger/index.js'
import { bucketStart, DAY_MS, type MetricsQuery } from '../src/model/index.js'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' }, // seconds measured per target, split over the rounds
    rounds: { type: 'string', default: '2' }, // the targets take turns this many times
    warmup: { type: 'string', default: '2' }, // seconds of unmeasured load before each turn
    connections: { type: 'string', default: '10' }
  }
})
const duration = positive('duration', args.duration)
const rounds = positive('rounds', args.rounds)
const warmup = positive('warmup', args.warmup)
const connections = positive('connections', args.connections)
const turn = Math.max(1, Math.round(duration / rounds))

function positive (name: string, raw: string | undefined): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer (got ${raw})`)
  return n
}

interface Turn { rps: number, p99_ms: number, p50_ms: number, requests: number, errors: number, non_2xx: number }

async function load (url: string): Promise<Turn> {
  const r: Result = await autocannon({ url, connections, duration: turn, workers: 1, warmup: { connections, duration: warmup } })
  return {
    rps: Math.round(r.requests.average),
    p99_ms: r.latency.p99,
    p50_ms: r.latency.p50,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non_2xx: r.non2xx
  }
}

/** the turns of one target: mean requests/s, the worst p99 and p50, sums of the counts */
function summary (turns: Turn[]) {
  const sum = (f: (t: Turn) => number) => turns.reduce((n, t) => n + f(t), 0)
  return {
    rps: Math.round(sum((t) => t.rps) / turns.length),
    p99_ms: Math.max(...turns.map((t) => t.p99_ms)),
    p50_ms: Math.max(...turns.map((t) => t.p50_ms)),
    requests: sum((t) => t.requests),
    errors: sum((t) => t.errors),
    non_2xx: sum((t) => t.non_2xx),
    rounds: turns.map((t) => ({ rps: t.rps, p99_ms: t.p99_ms }))
  }
}

const ratio = (a: number, b: number): number => Number((a / b).toFixed(3))

const started = performance.now()
const dataDir = await mkdtemp(join(tmpdir(), 'hourglass-bench-'))
const config = loadConfig({}, { dataDir, seedDays: '2', source: 'synthetic', port: '0', host: '127.0.0.1', logLevel: 'silent' })
// no batch/flush timers: a batch run in the middle of a measurement would measure DuckDB, not queries
const app = await buildApp(config, { schedule: false })
const bare = Fastify({ logger: false })
try {
  await app.startSource()
  const setupSeconds = (performance.now() - started) / 1000
  const base = await app.server.listen({ host: '127.0.0.1', port: 0 })

  // the 24 h query: from the hour 24 h ago to now, so it spans gold hours and the open hour
  const from = new Date(bucketStart(Date.now() - DAY_MS, 'hour')).toISOString()
  const mergedUrl = `${base}/v1/metrics?from=${encodeURIComponent(from)}&granularity=hour&group_by=event_type`
  const liveUrl = `${base}/v1/metrics/live?last=15m`

  const mergedRes = await fetch(mergedUrl)
  const mergedBody = await mergedRes.text()
  if (mergedRes.status !== 200) throw new Error(`merged query answered ${mergedRes.status}: ${mergedBody}`)
  const merged = JSON.parse(mergedBody) as { rows: unknown[], meta: { sources: { layer: string, from: string, to: string }[], complete: boolean, gaps: unknown[] } }
  const liveRes = await fetch(liveUrl)
  const liveBody = await liveRes.text()
  if (liveRes.status !== 200) throw new Error(`live query answered ${liveRes.status}: ${liveBody}`)

  // the bare routes: the same bytes, as a constant object Fastify serialises on every request,
  // with JSON.stringify (no schema) and with the merged route's response schema (fast-json-stringify)
  const constant = JSON.parse(mergedBody) as object
  bare.get('/', async () => constant)
  bare.get('/schema', { schema: { response: { 200: MetricsResult } } }, async () => constant)
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 })
  const bareSchemaUrl = `${bareUrl}/schema`
  const bareBytes = Buffer.byteLength(await (await fetch(bareUrl)).text())
  const bareSchemaBytes = Buffer.byteLength(await (await fetch(bareSchemaUrl)).text())

  // the service alone, in process (no HTTP): mean time of one merged and one live query
  const q: MetricsQuery = { from: Date.parse(from), to: Date.now(), granularity: 'hour', groupBy: ['event_type'], filters: {}, metrics: ['total_events', 'avg_latency', 'p95_response', 'total_revenue'] }
  const inProcess = async (f: () => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < 50; i++) await f()
    const n = 500; const t0 = performance.now()
    for (let i = 0; i < n; i++) await f()
    return Number((((performance.now() - t0) / n) * 1000).toFixed(1))
  }
  const mergedUs = await inProcess(async () => await app.service.query({ ...q, to: Date.now() }))
  const liveUs = await inProcess(async () => await app.service.live({ last: 15 * 60_000, groupBy: [], filters: {}, metrics: q.metrics }))
  // the same with no speed-side caches (every speed row read and rolled up on every query)
  const uncached = new MergingMetricsService({ gold: app.gold, speed: app.store, quality: app.pipeline, limits: app.service.limits, allowedLatenessMs: config.allowedLatenessMs, speedCacheSize: 0 })
  const mergedUncachedUs = await inProcess(async () => await uncached.query({ ...q, to: Date.now() }))

  // the targets take turns, so that a slow spell of a shared machine does not fall on one of them
  const turns: Record<'bare' | 'bareSchema' | 'merged' | 'live', Turn[]> = { bare: [], bareSchema: [], merged: [], live: [] }
  for (let i = 0; i < rounds; i++) {
    turns.bare.push(await load(bareUrl))
    turns.bareSchema.push(await load(bareSchemaUrl))
    turns.merged.push(await load(mergedUrl))
    turns.live.push(await load(liveUrl))
  }
  const bareFigures = summary(turns.bare)
  const bareSchemaFigures = summary(turns.bareSchema)
  const mergedFigures = summary(turns.merged)
  const liveFigures = summary(turns.live)
  const { cache, speedCache, answerCache } = app.service

  console.log(JSON.stringify({
    machine: { cpus: availableParallelism(), cpu_model: cpus()[0]?.model ?? null, node: process.version },
    load: { tool: 'autocannon 8, 1 worker thread', connections, rounds, seconds_per_turn: turn, warmup_s: warmup },
    payload_bytes: Buffer.byteLength(mergedBody),
    bare: { ...bareFigures, payload_bytes: bareBytes },
    bare_with_schema: { ...bareSchemaFigures, payload_bytes: bareSchemaBytes },
    merged: {
      ...mergedFigures,
      ratio_to_bare: ratio(mergedFigures.rps, bareFigures.rps),
      ratio_to_bare_with_schema: ratio(mergedFigures.rps, bareSchemaFigures.rps),
      rows: merged.rows.length,
      in_process_us: mergedUs,
      in_process_no_speed_cache_us: mergedUncachedUs,
      meta: { sources: merged.meta.sources, complete: merged.meta.complete, gaps: merged.meta.gaps }
    },
    live: {
      ...liveFigures,
      ratio_to_bare: ratio(liveFigures.rps, bareFigures.rps),
      payload_bytes: Buffer.byteLength(liveBody),
      in_process_us: liveUs
    },
    cache: {
      batch: { hits: cache.hits, misses: cache.misses },
      settled_speed: { hits: speedCache.hits, misses: speedCache.misses },
      answers: { hits: answerCache.hits, misses: answerCache.misses }
    },
    setup_s: Number(setupSeconds.toFixed(1)),
    total_s: Number(((performance.now() - started) / 1000).toFixed(1)),
    notes: [
      'target (reported, not asserted): merged.ratio_to_bare >= 0.5',
      'per target: rps is the mean of its rounds, p99_ms and p50_ms the worst round; in_process_us is one service call without HTTP (in_process_no_speed_cache_us: with the speed-side caches off)',
      'cache.settled_speed: speed minutes the watermark has passed, kept rolled up over the batch part while the store reports them unchanged; cache.answers: finalised rows, kept while the whole speed range is unchanged (the synthetic source applies every 200 ms)',
      'bare returns the merged answer as a constant object (same bytes), serialised per request with JSON.stringify; bare_with_schema serialises it with the merged route\'s response schema (fast-json-stringify), as the merged route does',
      'live payload is smaller than the bare one: live.ratio_to_bare compares unlike sizes',
      'servers and the load generator share this machine: the worker thread takes a core the servers could use',
      'batch and bronze-flush timers are off during the run; the synthetic source feeds the speed layer throughout'
    ]
  }, null, 2))
} finally {
  await bare.close()
  await app.close()
  await rm(dataDir, { recursive: true, force: true })
}
