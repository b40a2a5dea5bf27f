// Authentication and scopes, table-driven: every route × every way of presenting credentials
// (none, a bad key, an expired or revoked key, the wrong scope, Basic, Bearer, X-API-Key,
// ?api_key=, a JWT) → the status and the catalogue code. Every log line the server writes is
// captured (pino's destination stream) and searched for each key and token. The JWKS is served by
// an issuer started here on 127.0.0.1; the server finds it through discovery.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { buildServer, type HourglassServer } from '../src/api/server.js'
import { writeKeysFile } from '../src/api/auth/keys-file.js'
import { makeTestKeys, startTestIssuer, type TestIssuer, type TestKeys } from './helpers/auth.js'
import { StubMetricsService } from './helpers/stub-service.js'
import { until } from './helpers/wait.js'

const now = Date.now()
const from = new Date(now - 6 * 3_600_000).toISOString()

type Need = 'public' | 'metrics:read' | 'ops:read'
interface Route { method: 'GET' | 'POST', url: string, need: Need, ok: number, payload?: unknown, basic?: true }

/** Every route the server registers (checked below against the routes it has), with a request that succeeds. */
const ROUTES: Route[] = [
  { method: 'GET', url: '/', need: 'metrics:read', ok: 200 },
  { method: 'GET', url: `/v1/metrics?from=${from}`, need: 'metrics:read', ok: 200 },
  { method: 'GET', url: '/v1/metrics/live?last=15m', need: 'metrics:read', ok: 200 },
  { method: 'GET', url: '/v1/dimensions', need: 'metrics:read', ok: 200 },
  { method: 'GET', url: '/v1/quality', need: 'ops:read', ok: 200 },
  { method: 'GET', url: '/v1/dead-letters?limit=5', need: 'ops:read', ok: 200 },
  { method: 'GET', url: '/v1/reconciliation', need: 'ops:read', ok: 200 },
  { method: 'GET', url: `/v1/anomalies?from=${from}`, need: 'metrics:read', ok: 200 },
  { method: 'GET', url: `/v1/entities?from=${from}&limit=2`, need: 'metrics:read', ok: 200 },
  { method: 'GET', url: '/metrics', need: 'ops:read', ok: 200 },
  { method: 'GET', url: '/healthz', need: 'public', ok: 200 },
  { method: 'GET', url: '/readyz', need: 'public', ok: 200 },
  { method: 'GET', url: '/odata/', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/odata/$metadata', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/odata/HourlyMetrics?$top=2', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/odata/HourlyMetrics/$count', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/odata/Anomalies?$top=2', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/odata/Anomalies/$count', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/graphql?query=%7Bdimensions%7Bevent_types%7D%7D', need: 'metrics:read', ok: 200 },
  { method: 'POST', url: '/graphql', need: 'metrics:read', ok: 200, payload: { query: '{ dimensions { event_types } }' } },
  // the pages' shells and scripts hold no data: public (their calls for data carry the key)
  { method: 'GET', url: '/graphiql', need: 'public', ok: 200 },
  { method: 'GET', url: '/graphiql/graphiql.min.js', need: 'public', ok: 200 },
  { method: 'GET', url: '/graphiql/config.json', need: 'public', ok: 200 },
  { method: 'GET', url: '/dashboard', need: 'public', ok: 200 },
  { method: 'GET', url: '/dashboard/dashboard.js', need: 'public', ok: 200 },
  { method: 'GET', url: '/dashboard/config.json', need: 'public', ok: 200 },
  { method: 'GET', url: '/docs', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/docs/json', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/docs/yaml', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/docs/static/index.html', need: 'metrics:read', ok: 302, basic: true },
  { method: 'GET', url: '/docs/static/swagger-initializer.js', need: 'metrics:read', ok: 200, basic: true },
  { method: 'GET', url: '/no/such/route', need: 'metrics:read', ok: 404 }
]

interface Presented { headers?: Record<string, string>, query?: string }
type Expect = 'ok' | 401 | 403

/** Each way of presenting credentials, and what it gets on a route that needs `need`. */
function cases (k: TestKeys, jwt: string, jwtMetricsOnly: string, jwtExpired: string): Array<{ name: string, present: (need: Need) => Presented, expect: (need: Need) => Expect }> {
  const bearer = (token: string): Presented => ({ headers: { authorization: `Bearer ${token}` } })
  const guarded = (e: Expect) => (need: Need): Expect => need === 'public' ? 'ok' : e
  return [
    { name: 'no credentials', present: () => ({}), expect: guarded(401) },
    { name: 'a bad key', present: () => bearer('hg_000000000000_' + 'A'.repeat(43)), expect: guarded(401) },
    { name: 'a key of another shape', present: () => ({ headers: { 'x-api-key': 'not-a-key' } }), expect: guarded(401) },
    { name: 'an expired key', present: () => bearer(k.expired), expect: guarded(401) },
    { name: 'a revoked key', present: () => ({ headers: { 'x-api-key': k.revoked } }), expect: guarded(401) },
    { name: 'an unknown Authorization scheme', present: () => ({ headers: { authorization: `Digest ${k.all}` } }), expect: guarded(401) },
    { name: 'the wrong scope', present: (need) => bearer(need === 'ops:read' ? k.metricsOnly : k.opsOnly), expect: guarded(403) },
    { name: 'Basic, any user, the key as password', present: () => ({ headers: { authorization: 'Basic ' + Buffer.from(`powerbi:${k.all}`).toString('base64') } }), expect: () => 'ok' },
    { name: 'Bearer key', present: () => bearer(k.all), expect: () => 'ok' },
    { name: 'X-API-Key', present: () => ({ headers: { 'x-api-key': k.all } }), expect: () => 'ok' },
    { name: 'api_key query parameter', present: () => ({ query: `api_key=${encodeURIComponent(k.all)}` }), expect: () => 'ok' },
    { name: 'JWT', present: () => bearer(jwt), expect: () => 'ok' },
    { name: 'a JWT with metrics:read only (roles)', present: () => bearer(jwtMetricsOnly), expect: (need) => need === 'ops:read' ? 403 : 'ok' },
    { name: 'an expired JWT', present: () => bearer(jwtExpired), expect: guarded(401) }
  ]
}

function codeOf (body: string): string | undefined {
  if (!body.startsWith('{')) return `(not JSON: ${body.slice(0, 40)})`
  const parsed = JSON.parse(body) as { code?: string, error?: { code?: string }, errors?: Array<{ extensions?: { code?: string } }> }
  return parsed.code ?? parsed.error?.code ?? parsed.errors?.[0]?.extensions?.code
}

function withQuery (url: string, query: string | undefined): string {
  if (query === undefined) return url
  return url + (url.includes('?') ? '&' : '?') + query
}

describe('authentication: every route × every way of presenting credentials', () => {
  let keys: TestKeys
  let issuer: TestIssuer
  let app: HourglassServer
  const lines: string[] = []
  const registered = new Set<string>()
  const tokens: Record<string, string> = {}

  before(async () => {
    keys = await makeTestKeys(now)
    issuer = await startTestIssuer()
    tokens.jwt = await issuer.sign({ sub: 'dashboard-app', scp: 'metrics:read ops:read' })
    tokens.jwtMetricsOnly = await issuer.sign({ sub: 'reader', roles: ['metrics:read'] })
    tokens.jwtExpired = await issuer.sign({ sub: 'late', scope: 'metrics:read ops:read' }, { expiresIn: Math.floor(now / 1000) - 60 })
    const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(...String(chunk).split('\n').filter((l) => l !== '')); done() } })
    app = buildServer({
      service: new StubMetricsService(),
      logger: { level: 'trace', stream },
      auth: { apiKeysFile: keys.file, jwt: { issuer: issuer.issuer, audience: issuer.audience, jwksUrl: '' }, rateLimitMax: 0 }
    })
    app.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) if (m !== 'HEAD' && !r.url.includes('*') && !r.url.includes(':')) registered.add(`${m} ${r.url}`)
    })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await issuer?.close()
    await keys?.close()
  })

  test('the table covers every route the server registers (but wildcards and parameters)', () => {
    const covered = new Set(ROUTES.map((r) => `${r.method} ${r.url.split('?')[0]}`))
    const missing = [...registered].filter((r) => !covered.has(r) && !covered.has(r.replace(/\/$/, '')) && !covered.has(r + '/'))
    assert.deepEqual(missing, [], 'routes without a row')
  })

  test('each route answers each way of presenting credentials with the right status and code', async () => {
    const table = cases(keys, tokens.jwt as string, tokens.jwtMetricsOnly as string, tokens.jwtExpired as string)
    const failures: string[] = []
    for (const route of ROUTES) {
      for (const c of table) {
        const p = c.present(route.need)
        const expected = c.expect(route.need)
        const res = await app.inject({
          method: route.method,
          url: withQuery(route.url, p.query),
          headers: { ...p.headers, ...(route.payload === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(route.payload === undefined ? {} : { payload: JSON.stringify(route.payload) })
        })
        const where = `${route.method} ${route.url} with ${c.name}`
        if (expected === 'ok') {
          if (res.statusCode !== route.ok) failures.push(`${where}: ${res.statusCode} ${res.body.slice(0, 200)}, expected ${route.ok}`)
          continue
        }
        const code = codeOf(res.body)
        const want = expected === 401 ? 'HG_ERR_UNAUTHENTICATED' : 'HG_ERR_FORBIDDEN'
        if (res.statusCode !== expected || code !== want) failures.push(`${where}: ${res.statusCode} ${code}, expected ${expected} ${want}`)
        const challenge = res.headers['www-authenticate']
        if (expected === 401) {
          const scheme = route.basic === true ? /^Basic realm="hourglass"/ : /^Bearer realm="hourglass"/
          if (typeof challenge !== 'string' || !scheme.test(challenge)) failures.push(`${where}: WWW-Authenticate ${String(challenge)}`)
        }
        if (route.url.startsWith('/odata') && !/^\{"error":\{"code":/.test(res.body)) failures.push(`${where}: not an OData error body`)
      }
    }
    assert.deepEqual(failures, [])
  })

  test('a 403 names the missing scope; a Bearer route says insufficient_scope', async () => {
    const res = await app.inject({ url: '/v1/quality', headers: { authorization: `Bearer ${keys.metricsOnly}` } })
    assert.equal(res.statusCode, 403)
    assert.match(res.json<{ message: string }>().message, /ops:read/)
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope", scope="ops:read"/)
  })

  test('a CORS preflight needs no credentials; any other OPTIONS does', async () => {
    const preflight = await app.inject({ method: 'OPTIONS', url: '/v1/dimensions', headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET' } })
    assert.notEqual(preflight.statusCode, 401)
    const plain = await app.inject({ method: 'OPTIONS', url: '/v1/dimensions' })
    assert.equal(plain.statusCode, 401)
  })

  test('api_key is not an unknown parameter, and never reaches an OData nextLink', async () => {
    const res = await app.inject({ url: `/odata/HourlyMetrics?$top=500&api_key=${encodeURIComponent(keys.all)}`, headers: { prefer: 'odata.maxpagesize=1' } })
    assert.equal(res.statusCode, 200, res.body)
    const next = res.json<{ '@odata.nextLink'?: string }>()['@odata.nextLink']
    assert.ok(next !== undefined, 'a next page')
    assert.doesNotMatch(next, /api_key/)
    const rest = await app.inject({ url: `/v1/dimensions?api_key=${encodeURIComponent(keys.all)}` })
    assert.equal(rest.statusCode, 200, rest.body)
  })

  test('the JWKS is fetched once and cached across requests', async () => {
    const before = issuer.fetches
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ url: '/v1/dimensions', headers: { authorization: `Bearer ${tokens.jwt as string}` } })
      assert.equal(res.statusCode, 200)
    }
    assert.ok(issuer.fetches <= 1, `fetched ${issuer.fetches} times`)
    assert.equal(issuer.fetches - before, 0, 'no fetch after the first use')
  })

  test('a JWT for another audience or from another issuer is refused', async () => {
    for (const token of [await issuer.sign({ sub: 'x', scp: 'metrics:read' }, { audience: 'someone-else' }),
      await issuer.sign({ sub: 'x', scp: 'metrics:read' }, { issuer: 'https://elsewhere.example' })]) {
      const res = await app.inject({ url: '/v1/dimensions', headers: { authorization: `Bearer ${token}` } })
      assert.equal(res.statusCode, 401)
      assert.equal(res.json<{ code: string }>().code, 'HG_ERR_UNAUTHENTICATED')
    }
  })

  test('a key revoked in the file is refused within seconds, without a restart', async () => {
    const ok = await app.inject({ url: '/v1/dimensions', headers: { 'x-api-key': keys.metricsOnly } })
    assert.equal(ok.statusCode, 200)
    const records = keys.records.map((r) => r.name === 'metrics' ? { ...r, revoked: new Date().toISOString() } : r)
    await writeKeysFile(keys.file, { keys: records })
    await until('the revoked key refused', async () =>
      (await app.inject({ url: '/v1/dimensions', headers: { 'x-api-key': keys.metricsOnly } })).statusCode === 401, 10_000)
    const res = await app.inject({ url: '/v1/dimensions', headers: { 'x-api-key': keys.metricsOnly } })
    assert.match(res.json<{ message: string }>().message, /revoked/)
  })

  test('no key or token appears in any log line', () => {
    assert.ok(lines.length > 100, `the log was captured (${lines.length} lines)`)
    // every request has its line (at debug); the query key is taken out of the URL before any line is written
    assert.ok(lines.filter((l) => l.includes('"msg":"request"')).length > 100, 'every request is logged at debug')
    assert.ok(lines.every((l) => !/api_key=(?!\[redacted\])/.test(l)), 'a query key is never logged in clear')
    const secrets = [keys.all, keys.metricsOnly, keys.opsOnly, keys.expired, keys.revoked, ...Object.values(tokens)]
    for (const secret of secrets) {
      const parts = [secret, encodeURIComponent(secret), secret.slice(-20), Buffer.from(`powerbi:${secret}`).toString('base64')]
      const leaks = lines.filter((l) => parts.some((p) => l.includes(p)))
      assert.deepEqual(leaks, [], 'a secret in the log')
    }
  })
})
