// GraphQL at the edge (app.inject on the stub service): requests mercurius cannot read are coded
// 4xx, the body limit is a setting, aliases of one query share one read, the cost counts groups,
// and a request's answer size and reading time are bounded (HG_ERR_RESPONSE_TOO_LARGE,
// HG_ERR_GRAPHQL_TOO_COMPLEX), the whole request refused, never a partial answer.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { parse } from 'graphql'
import { operationCost } from '../src/api/graphql/limits.js'
import { buildServer, type BuildServerOptions } from '../src/api/server.js'
import { loadConfig } from '../src/config.js'
import type { MetricsQuery, MetricsResult } from '../src/model/index.js'
import { AnomalyLog } from '../src/merger/anomaly-log.js'
import { STUB_LIMITS, StubMetricsService } from './helpers/stub-service.js'

const now = Date.parse('2026-01-12T02:30:00Z')
const H = 3_600_000
const iso = (t: number) => new Date(t).toISOString()

interface GqlBody { data: Record<string, unknown> | null, errors?: Array<{ message: string, extensions?: { code?: string } }> }

function setup (t: TestContext, opts: Partial<BuildServerOptions> = {}, service = new StubMetricsService({ now: () => now })) {
  const app = buildServer({ service, now: () => now, ...opts })
  t.after(() => app.close())
  return { app, service }
}

async function post (app: ReturnType<typeof buildServer>, payload: string) {
  const res = await app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload })
  return { status: res.statusCode, body: res.json<GqlBody>() }
}

const codeOf = (body: GqlBody) => body.errors?.[0]?.extensions?.code

/** `n` aliases a0..a(n-1) of `field(i)` in one query document */
const aliases = (n: number, field: (i: number) => string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`

const ROWS = '{ rows { window_start event_type total_events avg_latency total_revenue } }'

test('request shapes mercurius cannot read are 400 HG_ERR_GRAPHQL_VALIDATION, never 500', async (t) => {
  const { app } = setup(t)
  for (const payload of ['{"query": 123}', '{"query": true}', '{"query": null}', '{"query": {"a": 1}}', '[1, 2]', '"{ quality { received } }"', '5', 'null',
    '{"query": "{ quality { received } }", "operationName": 5}',
    // text that is not GraphQL but is JSON, which mercurius would take for an AST (found by test/fuzz.test.ts)
    '{"query": "0"}', '{"query": "\\"x\\""}', JSON.stringify({ query: JSON.stringify({ kind: 'Document', definitions: [{ kind: 'OperationDefinition' }] }) }),
    JSON.stringify({ query: JSON.stringify({ kind: 'Document', definitions: 1, loc: { source: { body: '{ x }' } } }) })]) {
    const res = await post(app, payload)
    assert.equal(res.status, 400, payload)
    assert.equal(codeOf(res.body), 'HG_ERR_GRAPHQL_VALIDATION', payload)
    assert.equal(res.body.data, null, payload)
  }
})

test('GET: a mutation is 405 HG_ERR_METHOD_NOT_ALLOWED; an operation that is not there is 400, cached or not', async (t) => {
  const { app } = setup(t)
  const mutation = await app.inject('/graphql?query=mutation%20%7B%20x%20%7D')
  assert.equal(mutation.statusCode, 405)
  assert.equal(codeOf(mutation.json<GqlBody>()), 'HG_ERR_METHOD_NOT_ALLOWED')
  const query = encodeURIComponent('query a { quality { received } } query b { quality { valid } }')
  for (const url of [`/graphql?query=${query}&operationName=a`, `/graphql?query=${query}&operationName=c`, `/graphql?query=${query}`,
    '/graphql?query=mutation%7Bx%7D&operationName=3', `/graphql?query=${query}&operationName=c`]) {
    const res = await app.inject(url)
    const body = res.json<GqlBody>()
    if (url.endsWith('operationName=a')) {
      assert.equal(res.statusCode, 200, url)
      continue
    }
    assert.equal(res.statusCode, 400, url)
    assert.equal(codeOf(body), 'HG_ERR_GRAPHQL_VALIDATION', url)
  }
})

test('the body limit of POST /graphql is a setting: past it 413 HG_ERR_BODY_TOO_LARGE', async (t) => {
  assert.equal(loadConfig({ HOURGLASS_GRAPHQL_BODY_LIMIT: '2048' }).graphqlBodyLimit, 2048)
  const { app } = setup(t, { graphql: { bodyLimit: 2048 } })
  const small = await post(app, JSON.stringify({ query: '{ quality { received } }' + ' '.repeat(1500) }))
  assert.equal(small.status, 200)
  const large = await post(app, JSON.stringify({ query: '{ quality { received } }' + ' '.repeat(2100) }))
  assert.equal(large.status, 413)
  assert.equal(codeOf(large.body), 'HG_ERR_BODY_TOO_LARGE')
  assert.match(large.body.errors?.[0]?.message ?? '', /2048 bytes/)
})

test('aliases of one query share one read, and each gets the whole answer', async (t) => {
  const { app, service } = setup(t)
  const from = iso(now - 7 * 24 * H + H)
  const res = await post(app, JSON.stringify({ query: aliases(60, () => `metrics(from: "${from}") ${ROWS}`) }))
  assert.equal(res.status, 200)
  assert.equal(res.body.errors, undefined)
  assert.equal(service.calls.length, 1, 'one read for 60 aliases of one shape')
  const answers = Object.values(res.body.data ?? {})
  assert.equal(answers.length, 60)
  for (const a of answers) assert.deepEqual(a, answers[0])
  assert.ok(((answers[0] as { rows: unknown[] }).rows).length > 100)
})

test('cost counts buckets × groups × row fields per alias: grouped aliases are refused before anything is read', async (t) => {
  const doc = (groupBy: string, filter = '') => parse(`{ metrics(from: "${iso(now - 24 * H)}", to: "${iso(now - 2 * H)}"${groupBy}${filter}) { rows { total_events window_start } } }`)
  const values = (d: string) => d === 'event_type' ? 3 : 2
  // 02:30 the day before to 00:30, aligned outward: 23 hourly buckets
  assert.equal(operationCost(doc(''), undefined, {}, STUB_LIMITS, now, values), 1 + 23 * 2)
  assert.equal(operationCost(doc(', groupBy: [event_type, region]'), undefined, {}, STUB_LIMITS, now, values), 1 + 23 * 6 * 2)
  assert.equal(operationCost(doc(', groupBy: [event_type, region]', ', filter: { region: ["eu-west"] }'), undefined, {}, STUB_LIMITS, now, values), 1 + 23 * 3 * 2)
  assert.equal(operationCost(doc(', groupBy: $g'), undefined, { g: ['event_type'] }, STUB_LIMITS, now, values), 1 + 23 * 3 * 2)

  // the stub holds 3 event types × 2 regions: 100 aliases over 7 days grouped by both cost 100 × 168 × 6 × 5
  const { app, service } = setup(t)
  const from = iso(now - 7 * 24 * H + H)
  const grouped = await post(app, JSON.stringify({ query: aliases(100, (i) => `metrics(from: "${from}", to: "${iso(now - i * 60_000)}", groupBy: [event_type, region]) ${ROWS}`) }))
  assert.equal(grouped.status, 400)
  assert.equal(codeOf(grouped.body), 'HG_ERR_GRAPHQL_TOO_COMPLEX')
  assert.match(grouped.body.errors?.[0]?.message ?? '', /buckets × groups/)
  assert.equal(service.calls.length, 0)
})

class NoDimensionsStub extends StubMetricsService {
  override async dimensions (): Promise<{ event_types: string[], regions: string[] }> {
    return { event_types: [], regions: [] }
  }
}

test('an answer past the response budget is 422 HG_ERR_RESPONSE_TOO_LARGE for the whole request, no partial data', async (t) => {
  // each answer: 168 hourly buckets × 6 groups × 5 fields ≈ 161 kB estimated; six go past 700 kB, one fits a field's
  // quarter (175 kB). Refused by the cost (values × 32 bytes) before anything is read; when the cost underestimates
  // (a service that knows no dimension values: one group each), by the budget as the rows arrive.
  const from = iso(now - 7 * 24 * H + H)
  const query = aliases(6, (i) => `metrics(from: "${from}", to: "${iso(now - i * H)}", groupBy: [event_type, region]) ${ROWS}`)
  for (const [service, reads] of [[new StubMetricsService({ now: () => now }), [0, 0]], [new NoDimensionsStub({ now: () => now }), [5, 6]]] as const) {
    const { app } = setup(t, { graphql: { maxResponseBytes: 700_000 } }, service)
    const res = await post(app, JSON.stringify({ query }))
    assert.equal(res.status, 422)
    assert.equal(codeOf(res.body), 'HG_ERR_RESPONSE_TOO_LARGE')
    assert.match(res.body.errors?.[0]?.message ?? '', /700000 bytes, the most one request may get/)
    assert.equal(res.body.data, null)
    const n = service.calls.length
    assert.ok(n >= reads[0] && n <= reads[1], `${service.constructor.name}: ${n} reads, expected ${reads.join('..')}`)
    const one = await post(app, JSON.stringify({ query: aliases(1, () => `metrics(from: "${from}", groupBy: [event_type, region]) ${ROWS}`) }))
    assert.equal(one.status, 200, 'one answer fits')
  }
})

test('one field\'s answer may take a quarter of the response budget: graphql-js completes its rows in one go', async (t) => {
  const service = new StubMetricsService({ now: () => now })
  const { app } = setup(t, { graphql: { maxResponseBytes: 400_000 } }, service) // a field: at most 100 kB
  const from = iso(now - 7 * 24 * H + H)
  const res = await post(app, JSON.stringify({ query: aliases(1, () => `metrics(from: "${from}", groupBy: [event_type, region]) ${ROWS}`) }))
  assert.equal(res.status, 422)
  assert.equal(codeOf(res.body), 'HG_ERR_RESPONSE_TOO_LARGE')
  assert.match(res.body.errors?.[0]?.message ?? '', /100000 bytes, the most one field of a request/)
  assert.equal(res.body.data, null)
  const day = await post(app, JSON.stringify({ query: aliases(1, () => `metrics(from: "${iso(now - 24 * H)}", groupBy: [event_type, region]) ${ROWS}`) }))
  assert.equal(day.status, 200, 'a day of the same fits')
})

class SlowStub extends StubMetricsService {
  override async query (q: MetricsQuery): Promise<MetricsResult> {
    await new Promise((resolve) => setTimeout(resolve, 40))
    return await super.query(q)
  }
}

test('a request that reads longer than its time budget is refused (HG_ERR_GRAPHQL_TOO_COMPLEX); the reads run in turn', async (t) => {
  const service = new SlowStub({ now: () => now })
  const { app } = setup(t, { graphql: { timeoutMs: 150 } }, service)
  const query = aliases(20, (i) => `metrics(from: "${iso(now - 24 * H)}", to: "${iso(now - i * H)}") ${ROWS}`)
  const res = await post(app, JSON.stringify({ query }))
  assert.equal(res.status, 400)
  assert.equal(codeOf(res.body), 'HG_ERR_GRAPHQL_TOO_COMPLEX')
  assert.match(res.body.errors?.[0]?.message ?? '', /at most 150 ms/)
  assert.ok(service.calls.length < 20, `reading stopped at the deadline (${service.calls.length} reads)`)
})

test('anomalies count into the response budget like metrics rows: aliases cannot multiply the log into one answer', async (t) => {
  // 2,000 anomalies of 8 fields ≈ 512 kB estimated: one alias fits a field's quarter of 4 MB, ten do not fit 4 MB together
  const log = new AnomalyLog(10_000)
  log.add(Array.from({ length: 2000 }, (_, i) => ({
    window_start: now - (i + 1) * 60_000, event_type: 'view', region: 'eu', metric: 'total_events' as const, kind: 'spike' as const, observed: 100 + i, expected: 10, score: 9
  })))
  const { app } = setup(t, { anomalies: log, graphql: { maxResponseBytes: 4_000_000 } })
  const field = `anomalies(from: "${iso(now - 2 * 24 * H)}") { window_start event_type region metric kind observed expected score }`
  const one = await post(app, JSON.stringify({ query: aliases(1, () => field) }))
  assert.equal(one.status, 200, JSON.stringify(one.body.errors))
  assert.equal((one.body.data?.a0 as unknown[]).length, 2000)
  const many = await post(app, JSON.stringify({ query: aliases(10, () => field) }))
  assert.equal(many.status, 422)
  assert.equal(codeOf(many.body), 'HG_ERR_RESPONSE_TOO_LARGE')
  assert.match(many.body.errors?.[0]?.message ?? '', /4000000 bytes, the most one request may get/)
  assert.equal(many.body.data, null)
})
