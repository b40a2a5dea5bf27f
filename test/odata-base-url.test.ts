// The absolute URLs OData writes (@odata.context, @odata.nextLink) do not echo what any client
// sends: HOURGLASS_PUBLIC_URL when set; X-Forwarded-Proto/-Host only from a trusted proxy
// (HOURGLASS_TRUSTED_PROXIES); a Host header that is not host[:port] gives way to the listening address.
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { test } from 'node:test'
import { validHost } from '../src/api/odata/base-url.js'
import { buildServer, type BuildServerOptions } from '../src/api/server.js'
import { loadConfig } from '../src/config.js'
import { StubMetricsService } from './helpers/stub-service.js'

const T = Date.parse('2026-01-12T02:30:00Z')
interface Page { '@odata.context': string, '@odata.nextLink'?: string }

function setup (t: { after: (fn: () => Promise<void>) => void }, opts: Partial<BuildServerOptions> = {}) {
  const app = buildServer({ service: new StubMetricsService({ now: () => T }), now: () => T, ...opts })
  t.after(async () => { await app.close() })
  return app
}

const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example', 'x-forwarded-for': '203.0.113.9' }

async function urls (app: ReturnType<typeof buildServer>, headers: Record<string, string>): Promise<string[]> {
  const doc = await app.inject({ url: '/odata/', headers })
  const page = await app.inject({ url: '/odata/HourlyMetrics', headers: { ...headers, prefer: 'odata.maxpagesize=1' } })
  assert.equal(doc.statusCode, 200, doc.body)
  assert.equal(page.statusCode, 200, page.body)
  return [doc.json<Page>()['@odata.context'], page.json<Page>()['@odata.context'], page.json<Page>()['@odata.nextLink'] ?? '']
}

test('HOURGLASS_PUBLIC_URL is the base of every absolute URL, whatever Host and X-Forwarded-* say', async (t) => {
  const app = setup(t, { publicUrl: 'https://metrics.example.com/hourglass/' })
  for (const u of await urls(app, { host: 'evil.example', ...forwarded })) assert.match(u, /^https:\/\/metrics\.example\.com\/hourglass\/odata\/(\$metadata|HourlyMetrics\?)/)
})

test('X-Forwarded-Proto/-Host are ignored unless the peer is a trusted proxy', async (t) => {
  for (const u of await urls(setup(t), { host: 'bi.example:8443', ...forwarded })) assert.match(u, /^http:\/\/bi\.example:8443\/odata\//)
  // light-my-request's peer is 127.0.0.1
  for (const u of await urls(setup(t, { trustedProxies: ['10.0.0.0/8'] }), { host: 'bi.example:8443', ...forwarded })) {
    assert.match(u, /^http:\/\/bi\.example:8443\/odata\//)
  }
  for (const u of await urls(setup(t, { trustedProxies: ['127.0.0.1', '10.0.0.0/8'] }), { host: 'bi.example:8443', ...forwarded })) {
    assert.match(u, /^https:\/\/public\.example\/odata\//)
  }
})

test('a Host that is not host[:port] is not echoed: the listening address is used', async (t) => {
  const app = setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  for (const host of ['evil.example/x?y#', 'a b', 'x:99999', '"><script>']) {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/odata/', setHost: false, headers: { host } }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => { text += d.toString() })
        res.on('end', () => { resolve(text) })
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal((JSON.parse(body) as Page)['@odata.context'], `http://127.0.0.1:${port}/odata/$metadata`, host)
  }
})

test('validHost takes host[:port] only', () => {
  for (const ok of ['localhost', 'localhost:3000', 'bi.example.com', 'bi.example.com.:443', '10.1.2.3:80', '[::1]:3000', '[2001:db8::1]']) {
    assert.equal(validHost(ok), ok)
  }
  for (const bad of ['', 'a/b', 'a?b', 'a#b', 'a b', 'user@host', 'host:', 'host:65536', '-x.example', 'x..example', '[::1', 'a'.repeat(300)]) {
    assert.equal(validHost(bad), null, bad)
  }
})

test('settings: HOURGLASS_PUBLIC_URL and HOURGLASS_TRUSTED_PROXIES are checked at start', () => {
  const c = loadConfig({ HOURGLASS_PUBLIC_URL: 'https://metrics.example.com/hg', HOURGLASS_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1,::1' })
  assert.equal(c.publicUrl, 'https://metrics.example.com/hg')
  assert.deepEqual(c.trustedProxies, ['10.0.0.0/8', '192.168.1.1', '::1'])
  assert.throws(() => loadConfig({ HOURGLASS_PUBLIC_URL: 'metrics.example.com' }), /HOURGLASS_PUBLIC_URL.*http\(s\):\/\/host/)
  assert.throws(() => loadConfig({ HOURGLASS_PUBLIC_URL: 'https://x.example/?a=1' }), /HOURGLASS_PUBLIC_URL/)
  assert.throws(() => loadConfig({ HOURGLASS_TRUSTED_PROXIES: 'proxy.local' }), /HOURGLASS_TRUSTED_PROXIES.*CIDR/)
})

test('@odata.nextLink carries custom options, but never an api_key given in the URL', async (t) => {
  const app = setup(t)
  const res = await app.inject({ url: '/odata/HourlyMetrics?api_key=hg_secret_123&tenant=a&$top=5', headers: { prefer: 'odata.maxpagesize=1' } })
  assert.equal(res.statusCode, 200, res.body)
  const next = res.json<Page>()['@odata.nextLink'] ?? ''
  assert.match(next, /[?&]tenant=a&/)
  assert.match(next, /\$top=5/)
  assert.doesNotMatch(res.body, /hg_secret_123|api_key/)
})
