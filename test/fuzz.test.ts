// Fuzzing the edge: requests generated from openapi/openapi.json, GraphQL and OData inputs (generated
// and a fixed list of known attacks) and raw bytes for the HTTP parser, sent to the real app over
// a day of seeded gold. Every answer must be documented: no 5xx (except OData's documented 501 for
// what it does not implement and a 503 that says when to retry), every error body in the catalogue
// shape of its API with the code's one status, every REST status among the operation's documented
// ones; and the process must still answer afterwards. fast-check shrinks a failure to a small request
// and prints the seed to replay it (FUZZ_SEED=<seed> node scripts/run-tests.mjs test/fuzz.test.ts).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { ERROR_STATUS, isErrorCode } from '../src/model/errors.js'
import { graphqlRequests, hostileGraphql, odataRequests, type OpenApiDocument, rawHeads, type Request, restRequests } from './helpers/fuzz-inputs.js'

const doc = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')) as OpenApiDocument
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
/** Statuses any path may answer besides its operation's documented ones: routing and the HTTP layer's limits. */
const EDGE_STATUSES = new Set([404, 405, 408, 413, 415, 431])

let app: App
let dir: string
let port: number
const now = Date.now()

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hg-fuzz-'))
  const config = loadConfig({}, { dataDir: dir, seedDays: '1', syntheticRate: '2', source: 'synthetic', logLevel: 'silent', host: '127.0.0.1', port: '0', rateLimitMax: '0' })
  app = await buildApp(config, { schedule: false, progress: () => {} })
  const address = await app.server.listen({ port: 0, host: '127.0.0.1' })
  port = Number(new URL(address).port)
})

after(async () => {
  await app?.close()
  await rm(dir, { recursive: true, force: true })
})

interface Answer { status: number, headers: Record<string, unknown>, body: string }

/** What is wrong with an answer to `req`, or null. */
function problem (req: { method: string, url: string }, res: Answer): string | null {
  const path = req.url.split('?')[0] ?? ''
  let area = path.startsWith('/odata') ? 'odata' : path.startsWith('/graphql') ? 'graphql' : 'rest'
  let body: unknown
  if (res.body !== '' || (res.status >= 400 && req.method !== 'HEAD')) {
    try { body = JSON.parse(res.body) } catch {
      if (res.status < 400) return null // $metadata (XML), $count (text), Swagger UI (HTML)
      return `${res.status} with a body that is not JSON: ${res.body.slice(0, 200)}`
    }
  }
  const codes: unknown[] = []
  // /graphql answers what reaches GraphQL with GraphQL errors, and what the HTTP layer refuses
  // before it (a method, the parser) with the REST body
  if (area === 'graphql' && res.status >= 400 && typeof body === 'object' && body !== null && !('errors' in body)) area = 'rest'
  if (area === 'graphql' && body !== undefined) {
    const errors = (body as { errors?: Array<{ extensions?: { code?: unknown } }> }).errors
    for (const e of errors ?? []) codes.push(e.extensions?.code)
    const first = codes[0]
    if (res.status >= 400 && isErrorCode(first) && ERROR_STATUS[first] !== res.status) return `${res.status} for ${String(first)} (its status is ${ERROR_STATUS[first]})`
  } else if (res.status >= 400 && req.method !== 'HEAD') {
    const code = area === 'odata' ? (body as { error?: { code?: unknown } }).error?.code : (body as { code?: unknown }).code
    codes.push(code)
    if (isErrorCode(code) && ERROR_STATUS[code] !== res.status) return `${res.status} for ${code} (its status is ${ERROR_STATUS[code]})`
    if (area === 'odata' && typeof (body as { error?: { message?: unknown } }).error?.message !== 'string') return `OData error without a message: ${res.body.slice(0, 200)}`
    if (area === 'rest') {
      const keys = Object.keys(body as object).sort().join(',')
      if (keys !== 'code,error,message,statusCode') return `REST error body with keys ${keys}: ${res.body.slice(0, 200)}`
      if ((body as { statusCode: unknown }).statusCode !== res.status) return `REST error body says statusCode ${String((body as { statusCode: unknown }).statusCode)} under ${res.status}`
    }
  }
  for (const code of codes) if (!isErrorCode(code)) return `${res.status} with an error code outside the catalogue: ${JSON.stringify(code)} in ${res.body.slice(0, 200)}`
  if (res.status >= 500) {
    const code = codes[0]
    const documented = (res.status === 501 && code === 'HG_ERR_ODATA_NOT_IMPLEMENTED') || (res.status === 503 && res.headers['retry-after'] !== undefined) ||
      (res.status === 503 && path.replace(/\/$/, '') === '/readyz')
    if (!documented) return `${res.status} ${String(code)}: ${res.body.slice(0, 300)}`
  }
  if (area === 'rest') {
    const op = doc.paths[path.replace(/(.)\/$/, '$1')]?.[req.method.toLowerCase()]
    if (op !== undefined && !(String(res.status) in op.responses) && !EDGE_STATUSES.has(res.status)) return `${res.status} is not among the documented answers of ${req.method} ${path}`
  }
  return null
}

async function send (req: Request): Promise<Answer> {
  const res = await app.server.inject({
    method: req.method as 'GET',
    url: req.url,
    ...(req.headers === undefined ? {} : { headers: req.headers }),
    ...(req.payload === undefined ? {} : { payload: req.payload })
  })
  return { status: res.statusCode, headers: res.headers, body: res.body }
}

async function check (req: Request): Promise<void> {
  const res = await send(req)
  const p = problem(req, res)
  if (p !== null) throw new Error(`${req.method} ${req.url}${req.payload === undefined ? '' : ' ' + req.payload.slice(0, 300)}\n→ ${p}`)
}

const options = (numRuns: number): fc.Parameters<[Request]> => ({ numRuns, seed, includeErrorInReport: true })

test('REST requests generated from openapi/openapi.json get documented answers', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${seed}`)
  await fc.assert(fc.asyncProperty(restRequests(doc, now), check), options(400))
})

test('OData requests, well- and ill-formed (filters, forged $skiptoken, paging), get OData error bodies or data', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${seed}`)
  await fc.assert(fc.asyncProperty(odataRequests(), check), options(400))
})

test('GraphQL documents from a token soup over the schema get coded errors or data', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${seed}`)
  await fc.assert(fc.asyncProperty(graphqlRequests(), check), options(300))
})

test('known GraphQL attacks (aliases, depth, fragment cycles, wrong body types) get coded answers and leave the process well', { timeout: 600_000 }, async () => {
  const failures: string[] = []
  for (const req of hostileGraphql(now)) {
    try { await check(req) } catch (err) { failures.push((err as Error).message) }
  }
  assert.deepEqual(failures, [])
  const heap = process.memoryUsage().heapUsed
  assert.ok(heap < 1024 ** 3, `heap after the attacks: ${(heap / 1024 ** 2).toFixed(0)} MB`)
})

/** One raw request on a new connection; the answer read until the server closes it. */
function raw (bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes))
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer within 30 s')))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
}

test('raw requests the HTTP parser sees (bad bytes, versions, upgrades, odd headers) get an answer with a catalogue body', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${seed}`)
  await fc.assert(fc.asyncProperty(rawHeads(), async (bytes) => {
    const text = await raw(bytes)
    const head = bytes.toString('latin1').split('\r\n')[0] ?? ''
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
    if (m === null) throw new Error(`${JSON.stringify(head)} → no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`)
    const status = Number(m[1])
    const split = text.indexOf('\r\n\r\n')
    const headers = text.slice(0, split)
    let body = text.slice(split + 4)
    if (/transfer-encoding: chunked/i.test(headers)) body = body.replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '')
    const [method = '', url = ''] = head.split(' ')
    const retry = /^retry-after:/im.test(headers) ? { 'retry-after': '1' } : {}
    const p = problem({ method, url }, { status, headers: retry, body: method === 'HEAD' ? '' : body })
    if (p !== null) throw new Error(`${JSON.stringify(head)} → ${p}`)
  }), { numRuns: 200, seed, includeErrorInReport: true })
})

test('after all of it the process still answers', async () => {
  const res = await app.server.inject({ method: 'GET', url: '/healthz' })
  assert.equal(res.statusCode, 200)
})
