// The REST layer's HTTP behaviour around the stub service: statuses, codes, content types and the
// shape of each body. The numbers are the stub's; the end-to-end tests check real ones.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import createError from '@fastify/error'
import { toHourglassError } from '../src/api/errors.js'
import { buildServer, type BuildServerOptions } from '../src/api/server.js'
import { METRIC_NAMES } from '../src/model/index.js'
import { StubMetricsService, type StubOptions } from './helpers/stub-service.js'

const now = Date.parse('2026-01-12T02:30:00Z')
const H = 3_600_000

function setup (t: TestContext, stub: StubOptions = {}, opts: Partial<BuildServerOptions> = {}) {
  const service = new StubMetricsService({ now: () => now, ...stub })
  const app = buildServer({ service, now: () => now, ...opts })
  t.after(() => app.close())
  return { app, service }
}

const META_KEYS = ['batch_version', 'boundary', 'complete', 'freshness', 'from', 'gaps', 'granularity', 'sources', 'to']
const iso = (t: number) => new Date(t).toISOString()

test('GET /v1/metrics: rows and the full meta block, as JSON', async (t) => {
  const { app, service } = setup(t)
  const res = await app.inject(`/v1/metrics?from=${iso(now - 6 * H)}&group_by=event_type,region`)
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  const body = res.json<{ rows: Array<Record<string, unknown>>, meta: Record<string, unknown> }>()
  assert.deepEqual(Object.keys(body).sort(), ['meta', 'rows'])
  assert.deepEqual(Object.keys(body.meta).sort(), META_KEYS)
  assert.ok(body.rows.length > 0)
  for (const row of body.rows) {
    assert.match(String(row.window_start), /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/)
    assert.equal(typeof row.event_type, 'string')
    assert.equal(typeof row.region, 'string')
    assert.equal(typeof row.total_events, 'number')
    assert.ok(row.avg_latency === null || typeof row.avg_latency === 'number')
  }
  assert.ok(body.rows.some((r) => r.avg_latency === null), 'a null metric is serialised as null')
  // the service got the parsed, aligned query
  const call = service.calls[0]
  assert.equal(call?.kind, 'query')
  assert.deepEqual(call?.kind === 'query' ? call.q : null, {
    from: now - 6 * H - 30 * 60_000, to: now + 30 * 60_000, granularity: 'hour', groupBy: ['event_type', 'region'], filters: {}, metrics: [...METRIC_NAMES]
  })
})

test('GET /v1/metrics: no grouping leaves the dimension keys out; metrics= picks the metrics', async (t) => {
  const { app } = setup(t)
  const res = await app.inject(`/v1/metrics?from=${iso(now - 3 * H)}&to=${iso(now - H)}&metrics=p95_response`)
  assert.equal(res.statusCode, 200)
  for (const row of res.json<{ rows: Array<Record<string, unknown>> }>().rows) {
    assert.deepEqual(Object.keys(row).sort(), ['p95_response', 'window_start'])
  }
})

test('GET /v1/metrics with filters and a trailing slash', async (t) => {
  const { app, service } = setup(t)
  const res = await app.inject(`/v1/metrics/?from=${iso(now - 2 * H)}&event_type=purchase&region=eu-west,us-east&granularity=day`)
  assert.equal(res.statusCode, 200)
  const call = service.calls[0]
  assert.deepEqual(call?.kind === 'query' ? call.q.filters : null, { event_type: ['purchase'], region: ['eu-west', 'us-east'] })
})

test('GET /v1/metrics/live: minute rows, meta granularity minute', async (t) => {
  const { app, service } = setup(t)
  const res = await app.inject('/v1/metrics/live?last=5m&group_by=region')
  assert.equal(res.statusCode, 200)
  const body = res.json<{ rows: Array<Record<string, unknown>>, meta: Record<string, unknown> }>()
  assert.equal(body.meta.granularity, 'minute')
  assert.deepEqual(Object.keys(body.meta).sort(), META_KEYS)
  assert.ok(body.rows.every((r) => typeof r.region === 'string' && r.event_type === undefined))
  assert.deepEqual(service.calls[0]?.kind === 'live' ? service.calls[0].q.last : null, 5 * 60_000)
  assert.equal((await app.inject('/v1/metrics/live')).statusCode, 200, 'last defaults to 15m')
})

test('GET /v1/dimensions, /v1/quality', async (t) => {
  const { app } = setup(t)
  const dims = await app.inject('/v1/dimensions')
  assert.equal(dims.statusCode, 200)
  const d = dims.json<{ event_types: string[], regions: string[] }>()
  assert.ok(Array.isArray(d.event_types) && Array.isArray(d.regions))
  const quality = await app.inject('/v1/quality')
  assert.equal(quality.statusCode, 200)
  const q = quality.json<Record<string, unknown>>()
  assert.deepEqual(Object.keys(q).sort(), ['duplicates', 'invalid', 'invalid_by_reason', 'late', 'quality_ratio', 'received', 'valid'])
  assert.equal(typeof q.invalid_by_reason, 'object')
})

test('GET /v1/dead-letters: newest first, at as ISO-8601, limit respected', async (t) => {
  const { app } = setup(t)
  const res = await app.inject('/v1/dead-letters?limit=2')
  assert.equal(res.statusCode, 200)
  const { dead_letters: items } = res.json<{ dead_letters: Array<{ at: string, reason: string, raw: string, source: { offset: string } }> }>()
  assert.equal(items.length, 2)
  assert.ok(items[0] !== undefined && items[1] !== undefined)
  assert.ok(Date.parse(items[0].at) >= Date.parse(items[1].at), 'newest first')
  assert.match(items[0].at, /Z$/)
  assert.equal((await app.inject('/v1/dead-letters')).json<{ dead_letters: unknown[] }>().dead_letters.length, 3)
})

test('GET /healthz is always 200; GET /readyz is 200 when ready, 503 HG_ERR_NOT_READY with the reasons when not', async (t) => {
  const ready = setup(t)
  assert.deepEqual((await ready.app.inject('/healthz?probe=1')).json(), { status: 'ok' })
  const r = await ready.app.inject('/readyz')
  assert.equal(r.statusCode, 200)
  assert.equal(r.json<{ ready: boolean }>().ready, true)

  const notReady = setup(t, { ready: false })
  assert.equal((await notReady.app.inject('/healthz')).statusCode, 200)
  const n = await notReady.app.inject('/readyz')
  assert.equal(n.statusCode, 503)
  const body = n.json<{ code: string, message: string }>()
  assert.equal(body.code, 'HG_ERR_NOT_READY')
  assert.match(body.message, /speed layer has not started/)
})

test('GET / links the endpoints and the docs; /docs serves Swagger UI and /docs/json the document', async (t) => {
  const { app } = setup(t)
  const index = (await app.inject('/')).json<{ docs: string, openapi: string, links: Record<string, string>, pages: Record<string, string> }>()
  assert.equal(index.docs, '/docs')
  for (const path of ['metrics', 'live', 'dimensions', 'quality', 'dead_letters', 'health', 'ready', 'prometheus']) {
    assert.equal(typeof index.links[path], 'string', path)
  }
  const example = await app.inject(index.links.metrics ?? '')
  assert.equal(example.statusCode, 200, 'the example query in the index works')
  assert.deepEqual(index.pages, { dashboard: '/dashboard', graphiql: '/graphiql', graphql: '/graphql', odata: '/odata/' })
  for (const page of ['/dashboard', '/graphiql', '/odata/']) assert.equal((await app.inject(page)).statusCode, 200, `${page} is served`)
  const docs = await app.inject('/docs')
  assert.ok(docs.statusCode === 200 || docs.statusCode === 302)
  const json = await app.inject('/docs/json')
  assert.equal(json.statusCode, 200)
  assert.equal(json.json<{ info: { title: string } }>().info.title, 'Hourglass')
})

test('a failure inside the service is logged and answered 500 HG_ERR_INTERNAL without its message', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const { app } = setup(t, { failWith: new Error('duckdb: secret path /var/data exploded') }, { logger: { level: 'error', stream } })
  const res = await app.inject(`/v1/metrics?from=${iso(now - H)}`)
  assert.equal(res.statusCode, 500)
  const body = res.json<{ code: string, message: string }>()
  assert.equal(body.code, 'HG_ERR_INTERNAL')
  assert.doesNotMatch(body.message, /secret|duckdb/)
  const logged = lines.map((l) => JSON.parse(l) as { msg: string, err?: { message: string } })
  assert.ok(logged.some((l) => l.msg === 'unhandled error' && l.err?.message.includes('exploded')), 'the cause is in the log')
})

test('catalogue errors from the service pass through with their status', async (t) => {
  const { app } = setup(t)
  const res = await app.inject(`/v1/metrics?from=${iso(now - 2 * H)}&granularity=minute`)
  assert.equal(res.statusCode, 400)
  assert.equal(res.json<{ code: string }>().code, 'HG_ERR_MINUTE_NOT_AVAILABLE')
  const fine = await app.inject(`/v1/metrics?from=${iso(now - 30 * 60_000)}&granularity=minute`)
  assert.equal(fine.statusCode, 200)
})

test('HEAD is answered like GET, without a body', async (t) => {
  const { app } = setup(t)
  const res = await app.inject({ method: 'HEAD', url: '/healthz' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, '')
})

test('error mapping by class or code, never by message: a foreign 4xx gets its own code and the one status of that code; anything else is HG_ERR_INTERNAL', () => {
  const request = { routeOptions: { bodyLimit: 1024 }, headers: { 'content-type': 'text/xml' }, method: 'POST' } as unknown as
    Parameters<typeof toHourglassError>[1]
  const media = new (createError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type: %s', 415))('text/xml')
  const mapped = toHourglassError(media, request)
  assert.equal(mapped.code, 'HG_ERR_UNSUPPORTED_MEDIA_TYPE')
  assert.equal(mapped.statusCode, 415)
  assert.match(mapped.message, /text\/xml/)
  const large = toHourglassError(new (createError('FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large', 413))(), request)
  assert.deepEqual([large.code, large.statusCode], ['HG_ERR_BODY_TOO_LARGE', 413])
  assert.match(large.message, /1024 bytes/)
  const json = toHourglassError(new (createError('FST_ERR_CTP_INVALID_JSON_BODY', 'Body is not valid JSON', 400))(), request)
  assert.deepEqual([json.code, json.statusCode], ['HG_ERR_VALIDATION', 400])
  const other = toHourglassError(Object.assign(new Error('Request Timeout'), { code: 'FST_ERR_SOMETHING_NEW', statusCode: 408 }), request)
  assert.deepEqual([other.code, other.statusCode], ['HG_ERR_VALIDATION', 400], 'a 4xx of no known code: HG_ERR_VALIDATION, with its one status')
  const lookalike = toHourglassError(new Error('Request body is too large'), request)
  assert.equal(lookalike.code, 'HG_ERR_INTERNAL', 'the message text decides nothing')
  const internal = toHourglassError(new TypeError('cannot read properties of undefined'), request)
  assert.equal(internal.code, 'HG_ERR_INTERNAL')
  assert.equal(internal.statusCode, 500)
  assert.doesNotMatch(internal.message, /undefined/)
  assert.equal(toHourglassError('a string', request).code, 'HG_ERR_INTERNAL')
  assert.equal(toHourglassError(null, request).code, 'HG_ERR_INTERNAL')
})
