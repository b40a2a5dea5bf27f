// The transport: CORS for browser dashboards (HOURGLASS_CORS_ORIGINS), security headers with a
// Content-Security-Policy that still lets /docs, /graphiql and /dashboard load what they load (local
// files only), and HTTPS served by the process itself (HOURGLASS_TLS_CERT / _KEY) with a
// self-signed certificate made here.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { buildServer, type HourglassServer } from '../src/api/server.js'
import { readTls } from '../src/app/transport.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { StubMetricsService } from './helpers/stub-service.js'

const DASHBOARD = 'https://dash.example.com'

function server (t: TestContext, options: Partial<Parameters<typeof buildServer>[0]> = {}): HourglassServer {
  const app = buildServer({ service: new StubMetricsService(), ...options })
  t.after(() => app.close())
  return app
}

/** A directive's sources in a Content-Security-Policy header. */
function directive (policy: string, name: string): string[] {
  const found = policy.split(';').map((d) => d.trim().split(/\s+/)).find((d) => d[0] === name)
  return found?.slice(1) ?? []
}

test('CORS is off by default: no Access-Control-* headers, whatever the Origin', async (t) => {
  const app = server(t)
  const get = await app.inject({ url: '/healthz', headers: { origin: DASHBOARD } })
  assert.equal(get.statusCode, 200)
  assert.equal(get.headers['access-control-allow-origin'], undefined)
  const preflight = await app.inject({
    method: 'OPTIONS', url: '/v1/metrics', headers: { origin: DASHBOARD, 'access-control-request-method': 'GET' }
  })
  assert.equal(preflight.headers['access-control-allow-origin'], undefined)
  assert.notEqual(preflight.statusCode, 204, 'no preflight is granted')
})

test('CORS from HOURGLASS_CORS_ORIGINS: preflights for GET and POST with Authorization, X-API-Key and Content-Type; other origins get nothing', async (t) => {
  const config = loadConfig({ HOURGLASS_CORS_ORIGINS: `${DASHBOARD}, http://localhost:8080` })
  assert.deepEqual(config.corsOrigins, [DASHBOARD, 'http://localhost:8080'])
  const app = server(t, { corsOrigins: config.corsOrigins })
  for (const [url, method] of [['/v1/metrics', 'GET'], ['/graphql', 'POST'], ['/odata/HourlyMetrics', 'GET']] as const) {
    const r = await app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: DASHBOARD, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, x-api-key, content-type' }
    })
    assert.equal(r.statusCode, 204, `${method} ${url} preflight`)
    assert.equal(r.headers['access-control-allow-origin'], DASHBOARD)
    const methods = String(r.headers['access-control-allow-methods']).split(/,\s*/)
    assert.ok(methods.includes('GET') && methods.includes('POST'), `methods: ${methods.join(',')}`)
    const headers = String(r.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/)
    for (const h of ['authorization', 'x-api-key', 'content-type']) assert.ok(headers.includes(h), `${h} allowed: ${headers.join(',')}`)
    assert.ok(Number(r.headers['access-control-max-age']) > 0)
  }
  const get = await app.inject({ url: '/v1/dimensions', headers: { origin: DASHBOARD } })
  assert.equal(get.statusCode, 200)
  assert.equal(get.headers['access-control-allow-origin'], DASHBOARD)
  assert.match(String(get.headers.vary), /origin/i)

  const other = await app.inject({ url: '/v1/dimensions', headers: { origin: 'https://evil.example.org' } })
  assert.equal(other.headers['access-control-allow-origin'], undefined)
  const otherPreflight = await app.inject({
    method: 'OPTIONS', url: '/v1/metrics', headers: { origin: 'https://evil.example.org', 'access-control-request-method': 'GET' }
  })
  assert.equal(otherPreflight.headers['access-control-allow-origin'], undefined)
})

test('HOURGLASS_CORS_ORIGINS takes origins only: a path or a bare word is refused naming the variable', () => {
  assert.throws(() => loadConfig({ HOURGLASS_CORS_ORIGINS: 'https://dash.example.com/app' }), (err: Error) =>
    err instanceof ConfigError && /HOURGLASS_CORS_ORIGINS/.test(err.message) && /no path/.test(err.message))
  assert.throws(() => loadConfig({ HOURGLASS_CORS_ORIGINS: 'dash' }), ConfigError)
  assert.deepEqual(loadConfig({ HOURGLASS_CORS_ORIGINS: '*' }).corsOrigins, ['*'])
})

test('security headers on every answer, errors included; no HSTS over plain HTTP', async (t) => {
  const app = server(t)
  for (const url of ['/healthz', '/v1/metrics?from=x', '/nowhere']) {
    const r = await app.inject(url)
    assert.equal(r.headers['x-content-type-options'], 'nosniff', url)
    assert.equal(r.headers['x-frame-options'], 'SAMEORIGIN', url)
    assert.equal(r.headers['referrer-policy'], 'no-referrer', url)
    const csp = String(r.headers['content-security-policy'])
    assert.deepEqual(directive(csp, 'default-src'), ["'self'"], url)
    assert.deepEqual(directive(csp, 'object-src'), ["'none'"], url)
    assert.ok(!csp.includes('upgrade-insecure-requests'), 'no upgrade over plain HTTP')
    assert.equal(r.headers['strict-transport-security'], undefined, url)
  }
})

test('/docs: Swagger UI loads only local assets, which its policy (script-src \'self\') allows, and they are served', async (t) => {
  const app = server(t)
  const page = await app.inject('/docs/')
  assert.equal(page.statusCode, 200)
  const csp = String(page.headers['content-security-policy'])
  assert.deepEqual(directive(csp, 'script-src'), ["'self'"])
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string)
  assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')), `assets: ${assets.join(', ')}`)
  for (const asset of assets) {
    assert.ok(!/^(https?:)?\/\//.test(asset), `${asset} is local`)
    const r = await app.inject(new URL(asset, 'http://h/docs/').pathname)
    assert.equal(r.statusCode, 200, asset)
  }
})

for (const page of ['/graphiql', '/dashboard']) {
  test(`${page}: its files are all local and served, under the same local-only policy as every answer`, async (t) => {
    const app = server(t)
    const res = await app.inject(page)
    assert.equal(res.statusCode, 200)
    const csp = String(res.headers['content-security-policy'])
    assert.equal(csp, String((await app.inject('/healthz')).headers['content-security-policy']))
    assert.doesNotMatch(csp, /https?:/, 'no host is allowed besides this one')
    assert.deepEqual(directive(csp, 'script-src'), ["'self'"])
    const assets = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string).filter((a) => !a.startsWith('data:'))
    assert.ok(assets.length >= 3, `assets: ${assets.join(', ')}`)
    for (const asset of assets) {
      if (!/\.(js|css)$/.test(asset)) continue // links to the other pages
      assert.ok(asset.startsWith(`${page}/`), `${asset} is served under ${page}/`)
      const r = await app.inject(asset)
      assert.equal(r.statusCode, 200, asset)
      assert.doesNotMatch(r.body.slice(0, 4000), /^\s*import .* from ['"]https?:/m, `${asset} imports nothing remote`)
    }
  })
}

/** A self-signed certificate for 127.0.0.1, made with openssl in a temp folder. */
function selfSigned (t: TestContext): { dir: string, cert: string, key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hg-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert
  ], { stdio: 'ignore' })
  return { dir, cert, key }
}

function httpsGet (port: number, path: string, ca: Buffer): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path, ca, rejectUnauthorized: true }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    }).on('error', reject)
  })
}

test('TLS: with HOURGLASS_TLS_CERT and _KEY the server speaks HTTPS on a real socket (verified against the certificate), with HSTS', async (t) => {
  const files = selfSigned(t)
  const config = loadConfig({ HOURGLASS_TLS_CERT: files.cert, HOURGLASS_TLS_KEY: files.key })
  const tls = await readTls(config)
  assert.ok(tls !== undefined)
  const app = server(t, { tls })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  assert.match(address, /^https:\/\/127\.0\.0\.1:\d+$/)
  const port = Number(new URL(address).port)
  const ca = readFileSync(files.cert)
  const r = await httpsGet(port, '/healthz', ca)
  assert.equal(r.status, 200)
  assert.deepEqual(JSON.parse(r.body), { status: 'ok' })
  assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/)
  assert.match(String(r.headers['content-security-policy']), /upgrade-insecure-requests/)
  const err = await httpsGet(port, '/v1/metrics?from=nope', ca)
  assert.equal(err.status, 400)
  assert.equal(JSON.parse(err.body).code, 'HG_ERR_BAD_TIMESTAMP')

  // a plain HTTP request to the TLS port gets no HTTP answer
  const plain = await new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'))
    let got = ''
    socket.setEncoding('latin1').on('data', (c: string) => { got += c }).on('close', () => resolve(got)).on('error', () => resolve(got))
  })
  assert.ok(!plain.startsWith('HTTP/1.1 200'), 'not served over plain HTTP')
  // and an HTTPS client that does not trust the certificate refuses it
  await assert.rejects(httpsGet(port, '/healthz', Buffer.alloc(0)).catch((e: Error) => { throw e }), /self[- ]signed|unable to verify|certificate/i)
})

test('TLS settings: one without the other, a missing file or a key that is not the certificate\'s stops the start naming the setting', async (t) => {
  const files = selfSigned(t)
  assert.throws(() => loadConfig({ HOURGLASS_TLS_CERT: files.cert }), (e: Error) => e instanceof ConfigError && /HOURGLASS_TLS_KEY/.test(e.message))
  await assert.rejects(readTls({ tlsCert: join(files.dir, 'missing.pem'), tlsKey: files.key }),
    (e: Error) => e instanceof ConfigError && /HOURGLASS_TLS_CERT=.*missing\.pem.*ENOENT/.test(e.message))
  const other = selfSigned(t)
  await assert.rejects(readTls({ tlsCert: files.cert, tlsKey: other.key }), (e: Error) => e instanceof ConfigError && /HOURGLASS_TLS_KEY/.test(e.message))
  const garbage = join(files.dir, 'garbage.pem')
  writeFileSync(garbage, 'not a certificate')
  await assert.rejects(readTls({ tlsCert: garbage, tlsKey: files.key }), ConfigError)
  assert.equal(await readTls({ tlsCert: '', tlsKey: '' }), undefined)
})
