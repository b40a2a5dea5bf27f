// Query throughput over real HTTP (loopback): a bare Fastify route returning a constant payload of
// the merged answer's size, the merged 24 h hourly query grouped by event_type (batch + speed), the
// same query through GraphQL (POST /graphql, the same row and meta fields), one page of the OData
// entity set HourlyMetrics for the same 24 h (grouped by event_type and region, so a larger payload:
// bytes are reported per target), and the live 15-minute query; requests/s, p99 and the ratios to
// bare and to the REST merged query. Prints JSON; asserts nothing.
//
//   npm run bench:query [-- --duration 10 --rounds 2 --connections 10 --warmup 2]
//
// The real app is built on a temporary data folder (2 days of seeded history, gold built, the
// synthetic source live). autocannon fires from a worker thread (its `workers` option), so the
// load generator does not share the servers' event loop; every target is measured the same way,
// in turns (bare, bare with schema, merged, graphql, odata page, live, then again), `--duration`
// seconds each in all (with the defaults about 1.5 minutes of load, plus the setup).
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import autocannon, { type Options, type Result } from 'autocannon'
import Fastify from 'fastify'
import { MetricsResult } from '../src/api/rest/schemas.js'
import { buildApp } from '../src/app/index.js'
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

/** what autocannon sends: a URL, and for GraphQL a method, headers and a body */
type Target = Pick<Options, 'url' | 'method' | 'headers' | 'body'>

async function load (target: Target): Promise<Turn> {
  const r: Result = await autocannon({ ...target, connections, duration: turn, workers: 1, warmup: { connections, duration: warmup } })
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
const perRow = (bytes: number, rows: number): number | null => rows === 0 ? null : Math.round(bytes / rows)
/** an Edm.DateTimeOffset literal, whole seconds */
const literal = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')

interface Row { window_start: string, total_events?: number | null }
interface Meta { sources: { layer: string, from: string, to: string }[], complete: boolean, gaps: unknown[], boundary: string | null }
interface ODataPage { value: Row[], '@odata.nextLink'?: string }

/** total_events of the rows that start before t (the batch part: it does not move while the source runs) */
const before = (rows: Row[], t: number): number => rows.reduce((n, r) => n + (Date.parse(r.window_start) < t ? r.total_events ?? 0 : 0), 0)

const started = performance.now()
const dataDir = await mkdtemp(join(tmpdir(), 'hourglass-bench-'))
// the rate limiter stays in the path (its cost is part of every request) with a limit no run reaches
const config = loadConfig({}, { dataDir, seedDays: '2', source: 'synthetic', port: '0', host: '127.0.0.1', logLevel: 'silent', rateLimitMax: '1000000000' })
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
  const merged = JSON.parse(mergedBody) as { rows: Row[], meta: Meta }
  const liveRes = await fetch(liveUrl)
  const liveBody = await liveRes.text()
  if (liveRes.status !== 200) throw new Error(`live query answered ${liveRes.status}: ${liveBody}`)
  const boundary = merged.meta.boundary === null ? -Infinity : Date.parse(merged.meta.boundary)

  // GraphQL: the same query, asking for the fields the REST answer has (a dashboard's POST)
  const rowFields = Object.keys(merged.rows[0] ?? { window_start: '', event_type: '', total_events: 0, avg_latency: 0, p95_response: 0, total_revenue: 0 })
  const metaFields = 'from to granularity boundary sources { layer from to } complete gaps { from to reason } freshness { watermark lag_ms } batch_version'
  const graphql: Target = {
    url: `${base}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `query Hourly($from: String!) { metrics(from: $from, granularity: hour, groupBy: [event_type]) { rows { ${rowFields.join(' ')} } meta { ${metaFields} } } }`,
      variables: { from },
      operationName: 'Hourly'
    })
  }
  const graphqlRes = await fetch(graphql.url, { method: 'POST', headers: graphql.headers, body: graphql.body })
  const graphqlBody = await graphqlRes.text()
  const graphqlAnswer = JSON.parse(graphqlBody) as { data?: { metrics: { rows: Row[], meta: Meta & Record<string, unknown> } }, errors?: unknown[] }
  if (graphqlRes.status !== 200 || graphqlAnswer.data === undefined || graphqlAnswer.errors !== undefined) throw new Error(`GraphQL query answered ${graphqlRes.status}: ${graphqlBody}`)
  const graphqlRows = graphqlAnswer.data.metrics.rows
  const restMetaKeys = Object.keys(merged.meta).sort()
  // the batch part cannot move between the two reads; the open hour can (the source keeps feeding)
  const settled = (rows: Row[]) => rows.filter((r) => Date.parse(r.window_start) < boundary)
  const graphqlParity = {
    same_fields: isDeepStrictEqual(Object.keys(graphqlRows[0] ?? {}).sort(), [...rowFields].sort()) && isDeepStrictEqual(Object.keys(graphqlAnswer.data.metrics.meta).sort(), restMetaKeys),
    same_batch_rows: isDeepStrictEqual(settled(graphqlRows), settled(merged.rows))
  }

  // OData: the first page of HourlyMetrics over the same 24 h (Power BI's refresh of a range);
  // no Accept-Encoding (as autocannon sends none), so the page is not gzipped, like the REST answer
  const odataFilter = `window_start ge ${literal(Date.parse(from))} and window_start lt ${literal(Date.now())}`
  const odata: Target = { url: `${base}/odata/HourlyMetrics?$filter=${encodeURIComponent(odataFilter)}` }
  const odataGet = async (url: string): Promise<{ body: string, page: ODataPage }> => {
    const res = await fetch(url, { headers: { 'accept-encoding': 'identity' } })
    const body = await res.text()
    if (res.status !== 200) throw new Error(`OData ${url} answered ${res.status}: ${body}`)
    return { body, page: JSON.parse(body) as ODataPage }
  }
  const first = await odataGet(odata.url)
  // every page once (not measured): how many there are, and whether the batch part sums to REST's
  const odataAll = [...first.page.value]
  let pages = 1
  for (let next = first.page['@odata.nextLink']; next !== undefined; pages++) {
    const { page } = await odataGet(next)
    odataAll.push(...page.value)
    next = page['@odata.nextLink']
  }
  const odataParity = { batch_total_events: before(odataAll, boundary), rest_batch_total_events: before(merged.rows, boundary) }

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
  const turns: Record<'bare' | 'bareSchema' | 'merged' | 'graphql' | 'odata' | 'live', Turn[]> = { bare: [], bareSchema: [], merged: [], graphql: [], odata: [], live: [] }
  for (let i = 0; i < rounds; i++) {
    turns.bare.push(await load({ url: bareUrl }))
    turns.bareSchema.push(await load({ url: bareSchemaUrl }))
    turns.merged.push(await load({ url: mergedUrl }))
    turns.graphql.push(await load(graphql))
    turns.odata.push(await load(odata))
    turns.live.push(await load({ url: liveUrl }))
  }
  const bareFigures = summary(turns.bare)
  const bareSchemaFigures = summary(turns.bareSchema)
  const mergedFigures = summary(turns.merged)
  const graphqlFigures = summary(turns.graphql)
  const odataFigures = summary(turns.odata)
  const liveFigures = summary(turns.live)
  const mergedBytes = Buffer.byteLength(mergedBody)
  const graphqlBytes = Buffer.byteLength(graphqlBody)
  const odataBytes = Buffer.byteLength(first.body)
  const { cache, speedCache, answerCache } = app.service

  console.log(JSON.stringify({
    machine: { cpus: availableParallelism(), cpu_model: cpus()[0]?.model ?? null, node: process.version },
    load: { tool: 'autocannon 8, 1 worker thread', connections, rounds, seconds_per_turn: turn, warmup_s: warmup },
    payload_bytes: mergedBytes,
    bare: { ...bareFigures, payload_bytes: bareBytes },
    bare_with_schema: { ...bareSchemaFigures, payload_bytes: bareSchemaBytes },
    merged: {
      ...mergedFigures,
      ratio_to_bare: ratio(mergedFigures.rps, bareFigures.rps),
      ratio_to_bare_with_schema: ratio(mergedFigures.rps, bareSchemaFigures.rps),
      payload_bytes: mergedBytes,
      rows: merged.rows.length,
      bytes_per_row: perRow(mergedBytes, merged.rows.length),
      rows_per_s: mergedFigures.rps * merged.rows.length,
      in_process_us: mergedUs,
      in_process_no_speed_cache_us: mergedUncachedUs,
      meta: { sources: merged.meta.sources, complete: merged.meta.complete, gaps: merged.meta.gaps }
    },
    graphql: {
      ...graphqlFigures,
      ratio_to_merged: ratio(graphqlFigures.rps, mergedFigures.rps),
      ratio_to_bare: ratio(graphqlFigures.rps, bareFigures.rps),
      ratio_to_bare_with_schema: ratio(graphqlFigures.rps, bareSchemaFigures.rps),
      request: 'POST /graphql',
      request_body_bytes: Buffer.byteLength(graphql.body ?? ''),
      payload_bytes: graphqlBytes,
      rows: graphqlRows.length,
      bytes_per_row: perRow(graphqlBytes, graphqlRows.length),
      rows_per_s: graphqlFigures.rps * graphqlRows.length,
      parity_with_rest: graphqlParity
    },
    odata_page: {
      ...odataFigures,
      ratio_to_merged: ratio(odataFigures.rps, mergedFigures.rps),
      ratio_to_bare: ratio(odataFigures.rps, bareFigures.rps),
      ratio_to_bare_with_schema: ratio(odataFigures.rps, bareSchemaFigures.rps),
      request: `GET /odata/HourlyMetrics?$filter=${odataFilter}`,
      payload_bytes: odataBytes,
      rows: first.page.value.length,
      bytes_per_row: perRow(odataBytes, first.page.value.length),
      rows_per_s: odataFigures.rps * first.page.value.length,
      payload_to_merged: ratio(odataBytes, mergedBytes),
      pages,
      entities_all_pages: odataAll.length,
      parity_with_rest: { ...odataParity, equal: odataParity.batch_total_events === odataParity.rest_batch_total_events }
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
      'graphql: the merged query as a POST with variables, the REST answer\'s row fields and the whole meta block; same service and caches as REST, so ratio_to_merged is the cost of mercurius (parse/validate/cost hooks, resolver, serialisation)',
      'odata_page: the first page (server-driven paging) of HourlyMetrics over the same 24 h; its rows are grouped by event_type and region, so it carries more rows and bytes than the REST answer (see payload_to_merged, bytes_per_row, rows_per_s): its ratios compare unlike payloads; sent without Accept-Encoding, so not gzipped',
      'parity_with_rest: checked once before the load, on the hours before the batch boundary (the open hour moves while the synthetic source runs)',
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
