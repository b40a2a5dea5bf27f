// GraphQL queries over HTTP (app.inject): the same answers as REST for the same query (on the
// stub service, and on the real merger over a real speed store), the same catalogue codes in
// `extensions.code` for the same mistakes, the depth and cost limits, dimensions and quality,
// GraphiQL, and the transport's own errors.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Writable } from 'node:stream'
import { getIntrospectionQuery, parse, specifiedRules, validate, buildSchema } from 'graphql'
import { depthLimitRule, operationCost } from '../src/api/graphql/limits.js'
import { SDL } from '../src/api/graphql/schema.js'
import { buildServer, type BuildServerOptions } from '../src/api/server.js'
import { MergingMetricsService } from '../src/merger/index.js'
import type { GoldSource } from '../src/model/index.js'
import { MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { STUB_LIMITS, StubMetricsService, type StubOptions } from './helpers/stub-service.js'
import { LIMITS_DEFAULTS, PIPELINE_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'

const now = Date.parse('2026-01-12T02:30:00Z')
const H = 3_600_000
const iso = (t: number) => new Date(t).toISOString()

interface GqlError { message: string, extensions?: { code?: string }, path?: string[] }
interface GqlBody<T = Record<string, unknown>> { data: T | null, errors?: GqlError[] }

function setup (t: TestContext, stub: StubOptions = {}, opts: Partial<BuildServerOptions> = {}) {
  const service = new StubMetricsService({ now: () => now, ...stub })
  const app = buildServer({ service, now: () => now, ...opts })
  t.after(() => app.close())
  return { app, service }
}

type App = ReturnType<typeof buildServer>

async function gql<T = Record<string, unknown>> (app: App, query: string, variables?: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, ...(variables === undefined ? {} : { variables }) } })
  return { status: res.statusCode, body: res.json<GqlBody<T>>(), headers: res.headers }
}

const ROW = 'window_start event_type region total_events avg_latency p95_response total_revenue'
const META = 'from to granularity boundary sources { layer from to } complete gaps { from to reason } freshness { watermark lag_ms } batch_version'
/** the sentiment fields of a row */
const SENTIMENT = 'avg_sentiment sentiment_positive sentiment_neutral sentiment_negative'
const RESULT = `{ rows { ${ROW} } meta { ${META} } }`

test('metrics: the same answer as GET /v1/metrics for the same query, from the same parsed query', async (t) => {
  const { app, service } = setup(t)
  const from = iso(now - 6 * H)
  const to = iso(now - H)
  const rest = await app.inject(`/v1/metrics?from=${from}&to=${to}&granularity=hour&group_by=event_type,region&event_type=purchase,search&region=eu-west`)
  assert.equal(rest.statusCode, 200)
  const res = await gql<{ metrics: unknown }>(app, `{ metrics(from: "${from}", to: "${to}", granularity: hour, groupBy: [event_type, region], filter: { event_type: ["purchase", "search"], region: ["eu-west"] }) ${RESULT} }`)
  assert.equal(res.status, 200)
  assert.equal(res.body.errors, undefined)
  assert.deepEqual(res.body.data?.metrics, rest.json())
  assert.equal(service.calls.length, 2)
  assert.deepEqual(service.calls[1], service.calls[0], 'GraphQL arguments parse to the query REST parses')
})

test('metrics: defaults as REST (to = now, hour, all metrics, no grouping); metrics: picks, the rest is null', async (t) => {
  const { app, service } = setup(t)
  const from = iso(now - 3 * H)
  const res = await gql<{ metrics: { rows: Array<Record<string, unknown>> } }>(app, `{ metrics(from: "${from}", metrics: [p95_response]) { rows { window_start event_type total_events p95_response } } }`)
  assert.equal(res.status, 200)
  const call = service.calls[0]
  assert.deepEqual(call?.kind === 'query' ? call.q : null, {
    from: now - 3 * H - 30 * 60_000, to: now + 30 * 60_000, granularity: 'hour', groupBy: [], filters: {}, metrics: ['p95_response']
  })
  for (const row of res.body.data?.metrics.rows ?? []) {
    assert.deepEqual(row, { window_start: row.window_start, event_type: null, total_events: null, p95_response: 340.2 })
  }
})

test('live: the same answer as GET /v1/metrics/live', async (t) => {
  const { app } = setup(t)
  const rest = await app.inject('/v1/metrics/live?last=10m&group_by=region&metrics=total_events,avg_latency')
  const res = await gql<{ live: unknown }>(app, `{ live(last: "10m", groupBy: [region], metrics: [total_events, avg_latency]) { rows { window_start region total_events avg_latency } meta { ${META} } } }`)
  assert.equal(res.status, 200)
  assert.deepEqual(res.body.data?.live, rest.json())
})

test('dimensions and quality: the numbers of /v1/dimensions and /v1/quality', async (t) => {
  const { app } = setup(t)
  const res = await gql<{ dimensions: unknown, quality: Record<string, unknown> & { invalid_by_reason: Array<{ reason: string, count: number }> } }>(app,
    '{ dimensions { event_types regions } quality { received valid invalid invalid_by_reason { reason count } duplicates late quality_ratio } }')
  assert.equal(res.status, 200)
  assert.deepEqual(res.body.data?.dimensions, (await app.inject('/v1/dimensions')).json())
  const quality = res.body.data?.quality
  assert.ok(quality !== undefined)
  const { invalid_by_reason: byReason, ...rest } = quality
  const restQuality = (await app.inject('/v1/quality')).json<Record<string, unknown> & { invalid_by_reason: Record<string, number> }>()
  assert.deepEqual({ ...rest, invalid_by_reason: Object.fromEntries(byReason.map((r) => [r.reason, r.count])) }, restQuality)
  assert.deepEqual(byReason, [{ reason: 'not_json', count: 20 }, { reason: 'bad_timestamp', count: 30 }], 'in catalogue order')
})

// Each mistake, made once in REST and once in GraphQL: the same code, the same message, 400.
const from6h = iso(now - 6 * H)
const MISTAKES: Array<{ code: string, rest: string, gql: string, variables?: Record<string, unknown> }> = [
  { code: 'HG_ERR_MISSING_PARAMETER', rest: '/v1/metrics', gql: '{ metrics { rows { window_start } } }' },
  { code: 'HG_ERR_BAD_TIMESTAMP', rest: '/v1/metrics?from=yesterday', gql: '{ metrics(from: "yesterday") { rows { window_start } } }' },
  { code: 'HG_ERR_TIMESTAMP_OUT_OF_RANGE', rest: '/v1/metrics?from=1999-01-01T00:00:00Z', gql: '{ metrics(from: "1999-01-01T00:00:00Z") { rows { window_start } } }' },
  { code: 'HG_ERR_EMPTY_RANGE', rest: `/v1/metrics?from=${from6h}&to=${iso(now - 7 * H)}`, gql: `{ metrics(from: "${from6h}", to: "${iso(now - 7 * H)}") { rows { window_start } } }` },
  { code: 'HG_ERR_FROM_IN_FUTURE', rest: `/v1/metrics?from=${iso(now + H)}`, gql: `{ metrics(from: "${iso(now + H)}") { rows { window_start } } }` },
  { code: 'HG_ERR_RANGE_TOO_LARGE', rest: '/v1/metrics?from=2024-01-01T00:00:00Z', gql: '{ metrics(from: "2024-01-01T00:00:00Z") { rows { window_start } } }' },
  { code: 'HG_ERR_UNKNOWN_GRANULARITY', rest: `/v1/metrics?from=${from6h}&granularity=week`, gql: `{ metrics(from: "${from6h}", granularity: week) { rows { window_start } } }` },
  { code: 'HG_ERR_UNKNOWN_GRANULARITY', rest: `/v1/metrics?from=${from6h}&granularity=week`, gql: `{ metrics(from: "${from6h}", granularity: "week") { rows { window_start } } }` },
  { code: 'HG_ERR_UNKNOWN_GRANULARITY', rest: `/v1/metrics?from=${from6h}&granularity=week`, gql: `query ($g: Granularity) { metrics(from: "${from6h}", granularity: $g) { rows { window_start } } }`, variables: { g: 'week' } },
  { code: 'HG_ERR_UNKNOWN_DIMENSION', rest: `/v1/metrics?from=${from6h}&group_by=colour`, gql: `{ metrics(from: "${from6h}", groupBy: [colour]) { rows { window_start } } }` },
  { code: 'HG_ERR_UNKNOWN_DIMENSION', rest: `/v1/metrics?from=${from6h}&group_by=colour`, gql: `query ($g: [Dimension!]) { metrics(from: "${from6h}", groupBy: $g) { rows { window_start } } }`, variables: { g: ['region', 'colour'] } },
  { code: 'HG_ERR_DUPLICATE_DIMENSION', rest: `/v1/metrics?from=${from6h}&group_by=region,region`, gql: `{ metrics(from: "${from6h}", groupBy: [region, region]) { rows { window_start } } }` },
  { code: 'HG_ERR_UNKNOWN_METRIC', rest: `/v1/metrics?from=${from6h}&metrics=mean`, gql: `{ metrics(from: "${from6h}", metrics: [mean]) { rows { window_start } } }` },
  { code: 'HG_ERR_BAD_FILTER_VALUE', rest: `/v1/metrics?from=${from6h}&region=eu-west,`, gql: `{ metrics(from: "${from6h}", filter: { region: ["eu-west", ""] }) { rows { window_start } } }` },
  { code: 'HG_ERR_BAD_FILTER_VALUE', rest: `/v1/metrics?from=${from6h}&region=`, gql: `{ metrics(from: "${from6h}", filter: { region: [] }) { rows { window_start } } }` },
  { code: 'HG_ERR_BAD_FILTER_VALUE', rest: `/v1/metrics?from=${from6h}&region=${'x'.repeat(65)}`, gql: `{ metrics(from: "${from6h}", filter: { region: ["${'x'.repeat(65)}"] }) { rows { window_start } } }` },
  {
    code: 'HG_ERR_TOO_MANY_VALUES',
    rest: `/v1/metrics?from=${from6h}&event_type=${Array.from({ length: 101 }, (_, i) => `t${i}`).join(',')}`,
    gql: `query ($f: Filter) { metrics(from: "${from6h}", filter: $f) { rows { window_start } } }`,
    variables: { f: { event_type: Array.from({ length: 101 }, (_, i) => `t${i}`) } }
  },
  { code: 'HG_ERR_TOO_MANY_BUCKETS', rest: `/v1/metrics?from=${iso(now - 15 * 24 * H)}&granularity=minute`, gql: `{ metrics(from: "${iso(now - 15 * 24 * H)}", granularity: minute) { rows { window_start } } }` },
  { code: 'HG_ERR_MINUTE_NOT_AVAILABLE', rest: `/v1/metrics?from=${from6h}&granularity=minute`, gql: `{ metrics(from: "${from6h}", granularity: minute) { rows { window_start } } }` },
  { code: 'HG_ERR_BAD_DURATION', rest: '/v1/metrics/live?last=soon', gql: '{ live(last: "soon") { rows { window_start } } }' },
  { code: 'HG_ERR_LIVE_TOO_LONG', rest: '/v1/metrics/live?last=2h', gql: '{ live(last: "2h") { rows { window_start } } }' }
]

test('bad arguments: the code and message REST gives for the same mistake, in extensions.code, status 400', async (t) => {
  const { app } = setup(t)
  for (const m of MISTAKES) {
    const rest = await app.inject(m.rest)
    const restBody = rest.json<{ code: string, message: string }>()
    assert.equal(restBody.code, m.code, `REST ${m.rest}`)
    const res = await gql(app, m.gql, m.variables)
    assert.equal(res.status, 400, m.gql)
    assert.equal(res.body.data, null, m.gql)
    assert.equal(res.body.errors?.length, 1, m.gql)
    assert.equal(res.body.errors?.[0]?.extensions?.code, m.code, m.gql)
    // "query parameter" is REST's word; GraphQL gives the same message otherwise
    if (m.code !== 'HG_ERR_MISSING_PARAMETER') assert.equal(res.body.errors?.[0]?.message, restBody.message, m.gql)
  }
})

test('documents that do not parse or validate: HG_ERR_GRAPHQL_VALIDATION; a subscription over HTTP too', async (t) => {
  const { app } = setup(t)
  for (const query of ['{ nope }', '{ dimensions { event_types ', '{ metrics(from: 5) { rows { window_start } } }', '{ dimensions }', 'subscription { windowUpdated { windows } }']) {
    const res = await gql(app, query)
    assert.equal(res.status, 400, query)
    assert.equal(res.body.errors?.[0]?.extensions?.code, 'HG_ERR_GRAPHQL_VALIDATION', query)
    assert.match(res.body.errors?.[0]?.message ?? '', /^Invalid GraphQL request: /)
  }
})

test('a failure inside the service: 500 HG_ERR_INTERNAL, its message not shown, its cause logged once', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const { app } = setup(t, { failWith: new Error('duckdb: connection lost at /secret/path') }, { logger: { level: 'error', stream } })
  const res = await gql(app, `{ metrics(from: "${from6h}") { rows { window_start } } }`)
  assert.equal(res.status, 500)
  assert.equal(res.body.errors?.[0]?.extensions?.code, 'HG_ERR_INTERNAL')
  assert.doesNotMatch(JSON.stringify(res.body), /secret|duckdb/)
  const logged = lines.map((l) => JSON.parse(l) as { msg: string, err?: { message: string } }).filter((l) => l.msg === 'unhandled error')
  assert.deepEqual(logged.map((l) => l.err?.message), ['duckdb: connection lost at /secret/path'])
})

/** `{ __schema { types { fields { type { ofType … { name } } } } } }` with `levels` ofType */
const deepIntrospection = (levels: number) =>
  `{ __schema { types { fields { type { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } } } }`

test('depth: GraphiQL\'s introspection query passes; deeper nesting is HG_ERR_GRAPHQL_TOO_DEEP', async (t) => {
  const { app } = setup(t)
  const ok = await gql(app, getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }))
  assert.equal(ok.status, 200)
  assert.equal(ok.body.errors, undefined)
  const deep = await gql(app, deepIntrospection(14))
  assert.equal(deep.status, 400)
  assert.equal(deep.body.errors?.[0]?.extensions?.code, 'HG_ERR_GRAPHQL_TOO_DEEP')
  assert.match(deep.body.errors?.[0]?.message ?? '', /19 deep; at most 16/)
})

test('depth rule: fields of the schema at most maxDepth, fragments spread in', () => {
  const schema = buildSchema(SDL)
  const codes = (q: string, max: number) => validate(schema, parse(q), [...specifiedRules, depthLimitRule(max)]).map((e) => e.extensions.code)
  const q = '{ metrics(from: "x") { meta { sources { layer } } } }'
  assert.deepEqual(codes(q, 4), [])
  assert.deepEqual(codes(q, 3), ['HG_ERR_GRAPHQL_TOO_DEEP'])
  const viaFragment = 'query Q { metrics(from: "x") { ...M } } fragment M on MetricsResult { meta { ... on Meta { sources { layer } } } }'
  assert.deepEqual(codes(viaFragment, 4), [])
  assert.deepEqual(codes(viaFragment, 3), ['HG_ERR_GRAPHQL_TOO_DEEP'])
})

test('cost: fields, plus buckets × row fields per metrics/live field, variables applied', () => {
  const doc = (q: string) => parse(q)
  // 1 (metrics) + 1 (meta) + 1 (boundary) + 25 buckets (02:00 yesterday to 03:00 today, aligned) × 2 row fields
  assert.equal(operationCost(doc(`{ metrics(from: "${iso(now - 24 * H)}", to: "${iso(now)}") { rows { window_start total_events } meta { boundary } } }`), null, {}, STUB_LIMITS, now), 3 + 25 * 2)
  // the same through variables and a fragment; days
  assert.equal(operationCost(doc('query ($f: String!, $g: Granularity) { metrics(from: $f, granularity: $g) { ...R } } fragment R on MetricsResult { rows { window_start } }'),
    null, { f: iso(now - 10 * 24 * H), g: 'day' }, STUB_LIMITS, now), 1 + 11 * 1)
  // live: last in minutes; dimensions: its fields
  assert.equal(operationCost(doc('{ live(last: "15m") { rows { window_start total_events p95_response } } dimensions { regions } }'), null, {}, STUB_LIMITS, now), 1 + 15 * 3 + 2)
  // invalid arguments cost 1 bucket: the resolver reports them with their own code
  assert.equal(operationCost(doc('{ metrics(from: "nonsense") { rows { window_start } } }'), null, {}, STUB_LIMITS, now), 2)
  assert.equal(operationCost(doc('{ metrics(from: "1999-01-01T00:00:00Z") { rows { window_start } } }'), null, {}, STUB_LIMITS, now), 2)
})

test('cost limit: one wide query fits, three of them aliased into one request are HG_ERR_GRAPHQL_TOO_COMPLEX', async (t) => {
  const { app, service } = setup(t) // maxBuckets 20,000: cost limit 160,000
  const year = `metrics(from: "${iso(now - 365 * 24 * H)}", granularity: hour) { rows { ${ROW} } }` // 8,761 buckets × 7
  const one = await gql(app, `{ a: ${year} }`)
  assert.equal(one.status, 200)
  assert.equal(one.body.errors, undefined)
  const calls = service.calls.length
  const three = await gql(app, `{ a: ${year} b: ${year} c: ${year} }`)
  assert.equal(three.status, 400)
  assert.equal(three.body.errors?.[0]?.extensions?.code, 'HG_ERR_GRAPHQL_TOO_COMPLEX')
  assert.match(three.body.errors?.[0]?.message ?? '', /costs 18\d,\d+|costs 18\d\d\d\d/)
  assert.equal(service.calls.length, calls, 'nothing ran')
  const viaVariables = await gql(app, `query ($f: String!) { a: metrics(from: $f) { rows { ${ROW} } } b: metrics(from: $f) { rows { ${ROW} } } c: metrics(from: $f) { rows { ${ROW} } } }`, { f: iso(now - 365 * 24 * H) })
  assert.equal(viaVariables.body.errors?.[0]?.extensions?.code, 'HG_ERR_GRAPHQL_TOO_COMPLEX')
})

test('a document of too many tokens is HG_ERR_GRAPHQL_TOO_COMPLEX before it is parsed whole', async (t) => {
  const { app } = setup(t)
  const res = await gql(app, `{ ${'quality{late}'.repeat(1100)} }`)
  assert.equal(res.status, 400)
  assert.equal(res.body.errors?.[0]?.extensions?.code, 'HG_ERR_GRAPHQL_TOO_COMPLEX')
  assert.match(res.body.errors?.[0]?.message ?? '', /more than 4000 tokens/)
})

test('transport: GET /graphql answers queries; bad JSON and a missing query are HG_ERR_VALIDATION; bodies past the REST limit are fine; 413, 415, 405', async (t) => {
  const { app } = setup(t)
  const get = await app.inject('/graphql?query=' + encodeURIComponent('{ dimensions { regions } }'))
  assert.equal(get.statusCode, 200)
  assert.deepEqual(get.json(), { data: { dimensions: { regions: ['eu-west', 'us-east'] } } })
  const badVariables = await app.inject('/graphql?query=' + encodeURIComponent('{ dimensions { regions } }') + '&variables={bad')
  assert.equal(badVariables.statusCode, 400)
  assert.equal(badVariables.json<GqlBody>().errors?.[0]?.extensions?.code, 'HG_ERR_VALIDATION')
  const badJson = await app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: '{"query": ' })
  assert.equal(badJson.statusCode, 400)
  assert.equal(badJson.json<GqlBody>().errors?.[0]?.extensions?.code, 'HG_ERR_VALIDATION')
  const noQuery = await app.inject('/graphql')
  assert.equal(noQuery.statusCode, 400)
  assert.equal(noQuery.json<GqlBody>().errors?.[0]?.extensions?.code, 'HG_ERR_VALIDATION')
  // REST takes no body (1 KiB limit); a GraphQL document may be longer
  const long = await gql(app, `# ${'x'.repeat(3000)}\n{ dimensions { regions } }`)
  assert.equal(long.status, 200)
  const tooLong = await gql(app, `# ${'x'.repeat(40_000)}\n{ dimensions { regions } }`)
  assert.equal(tooLong.status, 413)
  assert.equal(tooLong.body.errors?.[0]?.extensions?.code, 'HG_ERR_BODY_TOO_LARGE')
  const xml = await app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'text/xml' }, payload: '<query/>' })
  assert.equal(xml.statusCode, 415)
  assert.equal(xml.json<GqlBody>().errors?.[0]?.extensions?.code, 'HG_ERR_UNSUPPORTED_MEDIA_TYPE')
  // GET runs queries only
  const mutation = await app.inject('/graphql?query=' + encodeURIComponent('mutation { x }'))
  assert.equal(mutation.statusCode, 405)
  assert.equal(mutation.json<GqlBody>().errors?.[0]?.extensions?.code, 'HG_ERR_METHOD_NOT_ALLOWED')
})

test('GraphiQL at /graphiql; the GraphQL routes stay out of the OpenAPI document', async (t) => {
  const { app } = setup(t)
  const page = await app.inject('/graphiql')
  assert.equal(page.statusCode, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  for (const asset of ['/graphiql/graphiql.min.js', '/graphiql/graphiql-page.js']) assert.equal((await app.inject(asset)).statusCode, 200, asset)
  const doc = (await app.inject('/docs/json')).json<{ paths: Record<string, unknown> }>()
  assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/graphql') || p.startsWith('/graphiql')))
})

test('the real merger over a real speed store: GraphQL and REST give the same numbers, from one service', async (t) => {
  const T = Date.parse('2026-01-12T10:30:20Z')
  const M = 60_000
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => T })
  t.after(() => store.close())
  const pipeline = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store })
  const noGold: GoldSource = { snapshot: () => null, query: async () => [], dimensions: async () => ({ event_types: [], regions: [] }), topEntities: async () => [] }
  const service = new MergingMetricsService({
    gold: noGold, speed: store, quality: pipeline, allowedLatenessMs: M, now: () => T,
    limits: LIMITS_DEFAULTS
  })
  const app = buildServer({ service, now: () => T })
  t.after(() => app.close())
  const records = Array.from({ length: 60 }, (_, i) => ({
    offset: String(i),
    value: JSON.stringify({
      // ascending event times over the last 9 minutes: none of them late
      event_id: `e${i}`, timestamp: iso(T - 9 * M + i * 8000), event_type: i % 3 === 0 ? 'purchase' : 'click', region: i % 2 === 0 ? 'eu-west' : 'us-east',
      processing_time: 10 + i, response_time: 100 + 7 * i, ...(i % 3 === 0 ? { revenue: 9.99 } : {})
    })
  }))
  await pipeline.process({ topic: 'events', partition: 0, records }, T)

  const rest = (await app.inject('/v1/metrics/live?last=15m&group_by=event_type,region')).json<{ rows: Array<{ total_events: number }> }>()
  const live = await gql<{ live: unknown }>(app, `{ live(last: "15m", groupBy: [event_type, region]) { rows { ${ROW} ${SENTIMENT} } meta { ${META} } } }`)
  assert.deepEqual(live.body.data?.live, rest)
  assert.equal(rest.rows.reduce((n, r) => n + r.total_events, 0), 60)

  const from = iso(T - 20 * M)
  const restMinutes = (await app.inject(`/v1/metrics?from=${from}&granularity=minute&group_by=region&region=eu-west`)).json()
  const minutes = await gql<{ metrics: unknown }>(app, `{ metrics(from: "${from}", granularity: minute, groupBy: [region], filter: { region: ["eu-west"] }) { rows { window_start region total_events avg_latency p95_response total_revenue ${SENTIMENT} } meta { ${META} } } }`)
  assert.deepEqual(minutes.body.data?.metrics, restMinutes)

  const dims = await gql<{ dimensions: unknown }>(app, '{ dimensions { event_types regions } }')
  assert.deepEqual(dims.body.data?.dimensions, { event_types: ['click', 'purchase'], regions: ['eu-west', 'us-east'] })
})
