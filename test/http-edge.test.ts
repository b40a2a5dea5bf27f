// What the HTTP layer answers before any route runs, over a real socket to a listening server
// (app.inject does not go through Node's HTTP parser):
// - a NUL or a byte over 0x7F in the URL, and 20 KB of headers (431), answer the catalogue body,
//   and the OData error body when the request line names /odata;
// - `Upgrade: h2c` (Java's HttpClient sends it on every http:// request) is answered as a plain
//   request and the keep-alive connection answers the next one; a WebSocket upgrade still upgrades;
// - a known path with an undeclared method is 405 with Allow, for REST, OData and /graphql alike;
//   so is CONNECT; a request arriving while the server closes is a coded 503.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { test } from 'node:test'
import { clientErrorHandler } from '../src/api/errors.js'
import { buildServer } from '../src/api/server.js'
import { StubMetricsService } from './helpers/stub-service.js'
import { until } from './helpers/wait.js'

interface Response { status: number, headers: Record<string, string>, body: string }

async function listening (t: { after: (fn: () => Promise<void>) => void }, logLines?: string[]): Promise<number> {
  const logger = logLines === undefined ? false : { level: 'trace', stream: { write: (line: string) => { logLines.push(line) } } }
  const app = buildServer({ service: new StubMetricsService(), logger, skiptokenKey: 'the signing key of this test, never logged' })
  t.after(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

/** A raw connection that reads one response at a time (Content-Length framed). */
class Connection {
  readonly socket: Socket
  #data = Buffer.alloc(0)
  closed = false

  constructor (port: number) {
    this.socket = connect(port, '127.0.0.1')
    this.socket.on('data', (d: Buffer) => { this.#data = Buffer.concat([this.#data, d]) })
    this.socket.on('close', () => { this.closed = true })
    this.socket.on('error', () => {}) // a reset after the answer is fine; the answer is what is checked
  }

  async send (bytes: string | Buffer): Promise<Response> {
    this.socket.write(bytes)
    return await this.next()
  }

  async next (): Promise<Response> {
    let parsed: { response: Response, length: number } | null = null
    await until(() => `a whole response (have ${JSON.stringify(this.#data.toString('latin1').slice(0, 300))})`, () => {
      parsed = this.#parse()
      return parsed !== null || (this.closed && this.#data.length === 0)
    }, 15_000)
    if (parsed === null) assert.fail('the connection closed without an answer')
    const { response, length } = parsed as { response: Response, length: number }
    this.#data = this.#data.subarray(length)
    return response
  }

  #parse (): { response: Response, length: number } | null {
    const end = this.#data.indexOf('\r\n\r\n')
    if (end === -1) return null
    const [statusLine = '', ...lines] = this.#data.subarray(0, end).toString('latin1').split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    if (this.#data.length < end + 4 + length) return null
    const body = this.#data.subarray(end + 4, end + 4 + length).toString('utf8')
    return { response: { status: Number(statusLine.split(' ')[1]), headers, body }, length: end + 4 + length }
  }

  close (): void { this.socket.destroy() }
}

const request = (target: string | Buffer, headers = ''): Buffer =>
  Buffer.concat([Buffer.from('GET '), Buffer.isBuffer(target) ? target : Buffer.from(target, 'latin1'), Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`)])

function assertRestError (res: Response, status: number, code: string): void {
  assert.equal(res.status, status, res.body)
  assert.match(res.headers['content-type'] ?? '', /^application\/json/)
  const body = JSON.parse(res.body) as Record<string, unknown>
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
  assert.equal(body.code, code)
  assert.equal(body.statusCode, status)
  assert.ok(String(body.message).length > 0)
}

function assertODataError (res: Response, status: number, code: string): void {
  assert.equal(res.status, status, res.body)
  assert.match(res.headers['content-type'] ?? '', /^application\/json;odata\.metadata=minimal/)
  assert.equal(res.headers['odata-version'], '4.0')
  const body = JSON.parse(res.body) as { error: { code: string, message: string } }
  assert.deepEqual(Object.keys(body), ['error'])
  assert.equal(body.error.code, code)
  assert.ok(body.error.message.length > 0)
}

const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))

test('what the HTTP parser refuses answers the catalogue body, and the OData body under /odata', async (t) => {
  const port = await listening(t)
  const cases: Array<[string, Buffer, number, string, boolean]> = [
    ['a NUL in the URL', request('/v1/dimensions\x00'), 400, 'HG_ERR_VALIDATION', false],
    ['a NUL in an OData URL', request('/odata/Hourly\x00Metrics'), 400, 'HG_ERR_VALIDATION', true],
    ['bytes of invalid UTF-8 in the URL', request(bytes('/v1/dim', [0xff, 0xfe], 'ensions')), 400, 'HG_ERR_VALIDATION', false],
    ['bytes of invalid UTF-8 in an OData URL', request(bytes('/odata/', [0xc3, 0x28])), 400, 'HG_ERR_VALIDATION', true],
    ['20 KB of headers', request('/v1/dimensions', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, 'HG_ERR_HEADERS_TOO_LARGE', false],
    ['20 KB of headers to OData', request('/odata/HourlyMetrics', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, 'HG_ERR_HEADERS_TOO_LARGE', true],
    ['a percent-encoded byte that is not UTF-8', request('/v1/%E0%A4%A'), 400, 'HG_ERR_VALIDATION', false],
    ['a percent-encoded byte that is not UTF-8, OData', request('/odata/%E0%A4%A'), 400, 'HG_ERR_VALIDATION', true]
  ]
  for (const [what, req, status, code, odata] of cases) {
    const c = new Connection(port)
    try {
      const res = await c.send(req)
      if (odata) assertODataError(res, status, code)
      else assertRestError(res, status, code)
      assert.ok(res.status < 500, what)
      if (what === 'a NUL in the URL') assert.match(res.body, /percent-encode/, 'the message says what to fix')
    } finally {
      c.close()
    }
  }
  const c = new Connection(port)
  t.after(() => { c.close() })
  const badLength = await c.send('POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n')
  assertRestError(badLength, 400, 'HG_ERR_VALIDATION')
  assert.match(badLength.body, /Content-Length/)
})

test('CONNECT (a proxy tunnel) is 405 in the catalogue body, not a connection closed without a word', async (t) => {
  const port = await listening(t)
  const c = new Connection(port)
  t.after(() => { c.close() })
  const res = await c.send('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
  assertRestError(res, 405, 'HG_ERR_METHOD_NOT_ALLOWED')
  assert.equal(res.headers.allow, 'GET, HEAD, POST')
  // under /odata, the OData body (found by test/fuzz.test.ts)
  const c2 = new Connection(port)
  t.after(() => { c2.close() })
  const odata = await c2.send('CONNECT /odata/HourlyMetrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  assertODataError(odata, 405, 'HG_ERR_METHOD_NOT_ALLOWED')
})

test('Upgrade: h2c is answered as plain HTTP/1.1 and the keep-alive connection answers the next request', async (t) => {
  const port = await listening(t)
  const c = new Connection(port)
  try {
    // what Java's HttpClient sends on an http:// URL
    const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\n'
    const first = await c.send(request('/v1/dimensions', h2c))
    assert.equal(first.status, 200, first.body)
    assert.deepEqual(Object.keys(JSON.parse(first.body) as object).sort(), ['event_types', 'regions'])
    const second = await c.send(request('/healthz'))
    assert.equal(second.status, 200, second.body)
    const third = await c.send(request('/odata/', h2c))
    assert.equal(third.status, 200, third.body)
    const fourth = await c.send(request('/v1/quality'))
    assert.equal(fourth.status, 200, fourth.body)
    assert.equal(c.closed, false, 'the connection stays open')
  } finally {
    c.close() // before the server closes: a connection taken over by an upgrade would hold it
  }
})

test('a WebSocket upgrade on /graphql still switches protocols', async (t) => {
  const port = await listening(t)
  const c = new Connection(port)
  t.after(() => { c.close() })
  const res = await c.send(request('/graphql', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n'))
  assert.equal(res.status, 101)
  assert.equal(res.headers.upgrade?.toLowerCase(), 'websocket')
  assert.equal(res.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
  c.close() // before the server closes, which would wait for the WebSocket's graphql-transport-ws handshake
})

test('a known path with an undeclared method is 405 with Allow (REST, OData, GraphQL); an unknown path is 404', async (t) => {
  const port = await listening(t)
  const cases: Array<[string, string, string, 'rest' | 'odata']> = [
    ['DELETE', '/v1/metrics?from=2026-01-01T00:00:00Z', 'GET, HEAD', 'rest'],
    ['POST', '/healthz', 'GET, HEAD', 'rest'],
    ['PUT', '/graphql', 'GET, HEAD, POST', 'rest'],
    ['POST', '/odata/HourlyMetrics', 'GET, HEAD', 'odata'],
    ['DELETE', '/odata/$metadata', 'GET, HEAD', 'odata']
  ]
  for (const [method, target, allow, shape] of cases) {
    const c = new Connection(port)
    try {
      const res = await c.send(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`)
      if (shape === 'odata') assertODataError(res, 405, 'HG_ERR_METHOD_NOT_ALLOWED')
      else assertRestError(res, 405, 'HG_ERR_METHOD_NOT_ALLOWED')
      assert.equal(res.headers.allow, allow, `${method} ${target}`)
    } finally {
      c.close()
    }
  }
  const c = new Connection(port)
  t.after(() => { c.close() })
  assertRestError(await c.send('DELETE /v1/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 404, 'HG_ERR_NOT_FOUND')
  assertODataError(await c.send('DELETE /odata/HourlyMetrics/x/y HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 404, 'HG_ERR_NOT_FOUND')
})

test('nothing of a refused request is logged (its headers may hold credentials), nor the $skiptoken key', async (t) => {
  const lines: string[] = []
  const port = await listening(t, lines)
  const secret = 'Bearer hg_live_0123456789abcdef'
  for (const req of [request('/v1/dimensions', `Authorization: ${secret}\r\nX-Big: ${'a'.repeat(20_000)}\r\n`),
    request('/odata/\x00', `Authorization: ${secret}\r\n`), request('/odata/HourlyMetrics?$skiptoken=x.y', `Authorization: ${secret}\r\n`)]) {
    const c = new Connection(port)
    try {
      assert.ok((await c.send(req)).status >= 400)
    } finally {
      c.close()
    }
  }
  await until('the parser errors logged', () => lines.filter((l) => l.includes('HTTP parser refused')).length >= 2, 15_000)
  const all = lines.join('')
  assert.doesNotMatch(all, /hg_live_0123456789abcdef/)
  assert.doesNotMatch(all, /the signing key of this test/)
})

test('a request that arrives while the server closes is a 503 in the catalogue body', async (t) => {
  const app = buildServer({ service: new StubMetricsService() })
  let release = (): void => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered = false
  app.get('/test-slow', async () => { entered = true; await gate; return { ok: true } })
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const c = new Connection((app.server.address() as { port: number }).port)
  t.after(() => { release(); c.close() })
  c.socket.write(request('/test-slow'))
  await until('the slow request to be served', () => entered, 15_000)
  const closed = app.close()
  await until('the server to start closing', () => closing, 15_000)
  c.socket.write(request('/v1/dimensions'))
  release()
  assert.equal((await c.next()).status, 200)
  const late = await c.next()
  assertRestError(late, 503, 'HG_ERR_NOT_READY')
  assert.equal(late.headers['retry-after'], '1')
  assert.equal(late.headers.connection, 'close')
  c.close()
  await closed
})

test('a request that does not arrive in time (the parser\'s timeout) is 408 HG_ERR_REQUEST_TIMEOUT; a reset connection is left alone', () => {
  const app = buildServer({ service: new StubMetricsService() })
  const written: Buffer[] = []
  const socket = (): Duplex => Object.assign(new Duplex({ read () {}, write (chunk: Buffer, _enc, done) { written.push(chunk); done() } }), { bytesWritten: 0 })
  const timedOut = socket()
  clientErrorHandler.call(app, Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), timedOut)
  const text = Buffer.concat(written).toString()
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  assert.equal((JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { code: string }).code, 'HG_ERR_REQUEST_TIMEOUT')
  assert.equal(timedOut.destroyed, true)
  written.length = 0
  clientErrorHandler.call(app, Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket())
  assert.equal(written.length, 0)
})

test('405 or 404 with a route for OPTIONS on every path (as a CORS plugin adds): OPTIONS alone does not make a path known', async () => {
  const app = buildServer({ service: new StubMetricsService() })
  app.options('*', async (_request, reply) => reply.code(204).send())
  try {
    const unknown = await app.inject({ method: 'GET', url: '/v1/nothing' })
    assert.equal(unknown.statusCode, 404, unknown.body)
    const known = await app.inject({ method: 'DELETE', url: '/v1/metrics' })
    assert.equal(known.statusCode, 405, known.body)
    assert.equal(known.headers.allow, 'GET, HEAD, OPTIONS')
  } finally {
    await app.close()
  }
})
