// A table of bad requests, each answered 4xx with its stable code and a message that
// says what to fix. None may reach a 5xx. The server runs around the stub service with a fixed clock.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildServer } from '../src/api/server.js'
import { StubMetricsService } from './helpers/stub-service.js'

const now = Date.parse('2026-01-12T02:30:00Z')
const ago = (ms: number) => new Date(now - ms).toISOString()
const H = 3_600_000
const D = 86_400_000
const ok = `from=${ago(6 * H)}` // a valid start, so each row breaks exactly one thing

const table: Array<{ name: string, url: string, method?: 'GET' | 'POST' | 'DELETE', payload?: string, status: number, code: string }> = [
  // timestamps
  { name: 'from is not an instant', url: '/v1/metrics?from=yesterday', status: 400, code: 'HG_ERR_BAD_TIMESTAMP' },
  { name: 'from without its time zone offset digits', url: '/v1/metrics?from=2026-01-11T00:00:00%2B2', status: 400, code: 'HG_ERR_BAD_TIMESTAMP' },
  { name: 'to is not an instant', url: `/v1/metrics?${ok}&to=tomorrow`, status: 400, code: 'HG_ERR_BAD_TIMESTAMP' },
  { name: 'impossible date', url: '/v1/metrics?from=2026-02-30T00:00:00Z', status: 400, code: 'HG_ERR_BAD_TIMESTAMP' },
  { name: 'from before the year 2000', url: '/v1/metrics?from=1999-12-31T00:00:00Z', status: 400, code: 'HG_ERR_TIMESTAMP_OUT_OF_RANGE' },
  { name: 'to after the year 2100', url: `/v1/metrics?${ok}&to=2101-01-01T00:00:00Z`, status: 400, code: 'HG_ERR_TIMESTAMP_OUT_OF_RANGE' },
  { name: 'epoch seconds instead of milliseconds', url: '/v1/metrics?from=1768000000', status: 400, code: 'HG_ERR_TIMESTAMP_OUT_OF_RANGE' },
  { name: 'from is missing', url: '/v1/metrics?granularity=hour', status: 400, code: 'HG_ERR_MISSING_PARAMETER' },
  // ranges
  { name: 'to equals from', url: `/v1/metrics?from=${ago(H)}&to=${ago(H)}`, status: 400, code: 'HG_ERR_EMPTY_RANGE' },
  { name: 'to before from', url: `/v1/metrics?from=${ago(H)}&to=${ago(2 * H)}`, status: 400, code: 'HG_ERR_EMPTY_RANGE' },
  { name: 'from in the future', url: `/v1/metrics?from=${ago(-H)}&to=${ago(-2 * H)}`, status: 400, code: 'HG_ERR_FROM_IN_FUTURE' },
  { name: 'range too large', url: `/v1/metrics?from=${ago(401 * D)}&granularity=day`, status: 400, code: 'HG_ERR_RANGE_TOO_LARGE' },
  { name: 'too many buckets', url: `/v1/metrics?from=${ago(30 * D)}&granularity=minute`, status: 400, code: 'HG_ERR_TOO_MANY_BUCKETS' },
  { name: 'minute granularity where only hourly gold exists', url: `/v1/metrics?from=${ago(3 * H)}&granularity=minute`, status: 400, code: 'HG_ERR_MINUTE_NOT_AVAILABLE' },
  // granularity, dimensions, metrics
  { name: 'unknown granularity', url: `/v1/metrics?${ok}&granularity=week`, status: 400, code: 'HG_ERR_UNKNOWN_GRANULARITY' },
  { name: 'unknown dimension', url: `/v1/metrics?${ok}&group_by=country`, status: 400, code: 'HG_ERR_UNKNOWN_DIMENSION' },
  { name: 'duplicate dimension', url: `/v1/metrics?${ok}&group_by=region,region`, status: 400, code: 'HG_ERR_DUPLICATE_DIMENSION' },
  { name: 'unknown metric', url: `/v1/metrics?${ok}&metrics=total_events,p99_latency`, status: 400, code: 'HG_ERR_UNKNOWN_METRIC' },
  // filters
  { name: 'empty filter value', url: `/v1/metrics?${ok}&event_type=purchase,,search`, status: 400, code: 'HG_ERR_BAD_FILTER_VALUE' },
  { name: 'filter value over 64 characters', url: `/v1/metrics?${ok}&region=${'r'.repeat(65)}`, status: 400, code: 'HG_ERR_BAD_FILTER_VALUE' },
  { name: 'too many filter values', url: `/v1/metrics?${ok}&event_type=${Array.from({ length: 101 }, (_, i) => `t${i}`).join(',')}`, status: 400, code: 'HG_ERR_TOO_MANY_VALUES' },
  // parameters
  { name: 'unknown parameter', url: `/v1/metrics?${ok}&granularty=hour`, status: 400, code: 'HG_ERR_UNKNOWN_PARAMETER' },
  { name: 'unknown parameter on a route without parameters', url: '/v1/dimensions?verbose=1', status: 400, code: 'HG_ERR_UNKNOWN_PARAMETER' },
  { name: 'parameter given twice', url: `/v1/metrics?from=${ago(H)}&from=${ago(2 * H)}`, status: 400, code: 'HG_ERR_VALIDATION' },
  { name: 'group_by given twice instead of comma-separated', url: `/v1/metrics?${ok}&group_by=region&group_by=event_type`, status: 400, code: 'HG_ERR_VALIDATION' },
  // live
  { name: 'live: last is not a duration', url: '/v1/metrics/live?last=15', status: 400, code: 'HG_ERR_BAD_DURATION' },
  { name: 'live: last is zero', url: '/v1/metrics/live?last=0s', status: 400, code: 'HG_ERR_BAD_DURATION' },
  { name: 'live: longer than the speed layer keeps', url: '/v1/metrics/live?last=2h', status: 400, code: 'HG_ERR_LIVE_TOO_LONG' },
  { name: 'live: unknown dimension', url: '/v1/metrics/live?group_by=user_id', status: 400, code: 'HG_ERR_UNKNOWN_DIMENSION' },
  { name: 'live: from is not one of its parameters', url: `/v1/metrics/live?${ok}`, status: 400, code: 'HG_ERR_UNKNOWN_PARAMETER' },
  // dead letters
  { name: 'limit is not a number', url: '/v1/dead-letters?limit=all', status: 400, code: 'HG_ERR_BAD_LIMIT' },
  { name: 'limit is zero', url: '/v1/dead-letters?limit=0', status: 400, code: 'HG_ERR_BAD_LIMIT' },
  { name: 'limit over the maximum', url: '/v1/dead-letters?limit=1001', status: 400, code: 'HG_ERR_BAD_LIMIT' },
  // routes and the request itself
  { name: 'unknown route', url: '/v1/metric?from=2026-01-01T00:00:00Z', status: 404, code: 'HG_ERR_NOT_FOUND' },
  { name: 'a method the route does not declare', url: '/v1/metrics', method: 'DELETE', status: 405, code: 'HG_ERR_METHOD_NOT_ALLOWED' },
  { name: 'a body posted to a GET-only API', url: '/v1/metrics', method: 'POST', status: 405, code: 'HG_ERR_METHOD_NOT_ALLOWED' },
  { name: 'an unknown method on an unknown route', url: '/v1/nothing', method: 'DELETE', status: 404, code: 'HG_ERR_NOT_FOUND' },
  { name: 'a body over the 1 KiB limit', url: '/v1/metrics', method: 'POST', payload: 'x'.repeat(2000), status: 413, code: 'HG_ERR_BODY_TOO_LARGE' },
  { name: 'path that cannot be decoded', url: '/v1/%E0%A4%A', status: 400, code: 'HG_ERR_VALIDATION' },
  { name: 'very long URL', url: `/v1/metrics?${ok}&event_type=${'a'.repeat(5000)}`, status: 414, code: 'HG_ERR_URL_TOO_LONG' }
]

test('the table holds at least 25 bad requests', () => {
  assert.ok(table.length >= 25, `${table.length} rows`)
  assert.equal(new Set(table.map((r) => r.name)).size, table.length, 'names are unique')
})

for (const row of table) {
  test(`${row.status} ${row.code}: ${row.name}`, async (t) => {
    const service = new StubMetricsService({ now: () => now })
    const app = buildServer({ service, now: () => now })
    t.after(() => app.close())
    const res = await app.inject({
      method: row.method ?? 'GET',
      url: row.url,
      ...(row.method === 'POST' ? { payload: row.payload ?? { from: 'x' } } : {}),
      ...(row.payload === undefined ? {} : { headers: { 'content-type': 'text/plain' } })
    })
    const body = res.json<{ statusCode: number, code: string, error: string, message: string }>()
    assert.ok(res.statusCode < 500, `no 5xx: got ${res.statusCode} ${res.body}`)
    assert.equal(res.statusCode, row.status, res.body)
    assert.equal(body.code, row.code, res.body)
    assert.equal(body.statusCode, row.status)
    assert.equal(typeof body.error, 'string')
    assert.ok(body.message.length > 0, 'the message says what to fix')
    assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.equal(service.calls.filter((c) => c.kind === 'query').length, row.code === 'HG_ERR_MINUTE_NOT_AVAILABLE' ? 1 : 0,
      'a request the API can refuse by itself never reaches the service')
  })
}

test('messages name the parameter at fault and what is allowed', async (t) => {
  const app = buildServer({ service: new StubMetricsService({ now: () => now }), now: () => now })
  t.after(() => app.close())
  const unknown = (await app.inject(`/v1/metrics?${ok}&granularty=hour`)).json<{ message: string }>()
  assert.match(unknown.message, /"granularty"/)
  assert.match(unknown.message, /from, to, granularity, group_by, event_type, region, metrics/)
  const twice = (await app.inject(`/v1/metrics?${ok}&from=${ago(H)}`)).json<{ message: string }>()
  assert.match(twice.message, /"from" is given 2 times/)
  const bad = (await app.inject('/v1/metrics?from=yesterday')).json<{ message: string }>()
  assert.match(bad.message, /yesterday/)
  assert.match(bad.message, /ISO-8601/)
})

test('no input reaches a 5xx: odd parameters, values and methods on every route', async (t) => {
  const app = buildServer({ service: new StubMetricsService({ now: () => now }), now: () => now })
  t.after(() => app.close())
  const paths = ['/', '/v1/metrics', '/v1/metrics/live', '/v1/dimensions', '/v1/quality', '/v1/dead-letters', '/healthz', '/readyz', '/metrics', '/docs/json']
  const keys = ['from', 'to', 'granularity', 'group_by', 'event_type', 'region', 'metrics', 'last', 'limit', '__proto__', 'constructor', '', 'from[]', '%00']
  const values = ['', ',', '%', '%zz', '%00', '2026-01-11', ago(H), String(now - 2 * H), '-1', '1e21', '99999999999999999999', 'NaN',
    'hour', 'minute', 'day', 'region,event_type', '15m', '0m', '999999d', '1000', 'a'.repeat(70), '\u00e9\u{1F600}', '%F0%9F%98', '[]', '+',
    '2026-01-01T00:00:00+25:00', '2026-00-10', '0000-01-01', '9999-12-31T23:59:59Z']
  let seed = 7
  const pick = <T>(xs: T[]): T => { seed = (seed * 1103515245 + 12345) % 2147483648; return xs[seed % xs.length] as T }
  for (let i = 0; i < 1500; i++) {
    const qs = Array.from({ length: pick([0, 1, 2, 3]) }, () => `${pick(keys)}=${pick(values)}`).join('&')
    const url = pick(paths) + (qs === '' ? '' : '?' + qs)
    const method = pick(['GET', 'GET', 'GET', 'HEAD', 'POST', 'OPTIONS'] as const)
    const res = await app.inject({ method, url })
    assert.ok(res.statusCode < 500, `${method} ${url}: ${res.statusCode} ${res.body}`)
    if (res.statusCode >= 400 && method !== 'HEAD') {
      const body = res.json<{ code?: string, message?: string }>()
      assert.match(body.code ?? '', /^HG_ERR_/, `${method} ${url}: ${res.body}`)
      assert.ok((body.message ?? '').length > 0)
    }
  }
})
