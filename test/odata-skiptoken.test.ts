// OData's $skiptoken is signed (HMAC-SHA256) and its range checked again when it comes back: a
// forged token, or one signed with another key, is a 400 HG_ERR_ODATA_BAD_OPTION naming $skiptoken,
// never a 500 and never a read outside the limits; a token of a process with the same configured
// key (HOURGLASS_SKIPTOKEN_KEY, several processes behind a balancer) is followed.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { skipTokenCodec } from '../src/api/odata/skiptoken.js'
import { buildServer, type BuildServerOptions } from '../src/api/server.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { DAY_MS, HOUR_MS } from '../src/model/index.js'
import { StubMetricsService } from './helpers/stub-service.js'

const T = Date.parse('2026-01-12T02:30:00Z')
const HOUR_END = Date.parse('2026-01-12T03:00:00Z')
const KEY = 'a shared key of the test, 32 characters or more'
/** the token in the report of this fault: an unsigned range to 2^53 − 1 ms (RangeError, 500) */
const FORGED = 'eyJ2IjoxLCJyIjpbMTc2NDU0NzIwMDAwMCw5MDA3MTk5MjUxMjAwMDAwXSwiYSI6W10sIm4iOjB9'

interface ODataError { error: { code: string, message: string, target?: string } }
interface Page { '@odata.nextLink'?: string, value: unknown[] }

function setup (t: { after: (fn: () => Promise<void>) => void }, opts: Partial<BuildServerOptions> = {}) {
  const service = new StubMetricsService({ now: () => T })
  const app = buildServer({ service, now: () => T, ...opts })
  t.after(async () => { await app.close() })
  return { app, service }
}

async function firstNextLink (app: ReturnType<typeof buildServer>): Promise<string> {
  const res = await app.inject({ url: '/odata/HourlyMetrics', headers: { prefer: 'odata.maxpagesize=2' } })
  assert.equal(res.statusCode, 200, res.body)
  const next = res.json<Page>()['@odata.nextLink']
  assert.ok(next !== undefined, 'the first page links the next')
  return next
}

const pathOf = (link: string): string => { const u = new URL(link); return u.pathname + u.search }

async function assertRefused (app: ReturnType<typeof buildServer>, token: string, what: string): Promise<void> {
  const res = await app.inject(`/odata/HourlyMetrics?$skiptoken=${encodeURIComponent(token)}`)
  assert.equal(res.statusCode, 400, `${what}: ${res.body}`)
  const body = res.json<ODataError>()
  assert.equal(body.error.code, 'HG_ERR_ODATA_BAD_OPTION', what)
  assert.equal(body.error.target, '$skiptoken', what)
  assert.equal(res.headers['odata-version'], '4.0')
}

test('the forged token of the report, and unsigned or re-signed tokens, are 400 HG_ERR_ODATA_BAD_OPTION; nothing is read', async (t) => {
  const { app, service } = setup(t)
  await assertRefused(app, FORGED, 'the forged token (no signature)')
  const link = await firstNextLink(app)
  const issued = new URL(link).searchParams.get('$skiptoken') ?? ''
  const [payload, mac] = issued.split('.') as [string, string]
  await assertRefused(app, payload, 'the payload without its signature')
  const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1)
  await assertRefused(app, `${payload}.${flipped}`, 'a signature changed in one character')
  // the payload changed (a range of 100 years) under the old signature
  const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { r: number[] }
  body.r = [Date.parse('2000-01-01T00:00:00Z'), HOUR_END]
  await assertRefused(app, `${Buffer.from(JSON.stringify(body)).toString('base64url')}.${mac}`, 'a payload changed under its signature')
  await assertRefused(app, skipTokenCodec('another key').encode({ set: 'HourlyMetrics', range: { from: HOUR_END - DAY_MS, to: HOUR_END }, after: [], returned: 0 }),
    'a token signed with another key')
  assert.equal(service.calls.length, 1, 'only the first page read the service')
  // and the page the token names is served
  assert.equal((await app.inject(pathOf(link))).statusCode, 200)
})

test('a signed token is checked again: 1970, 100 years, the future, another entity set, misaligned → 400, never 200', async (t) => {
  const { app, service } = setup(t, { skiptokenKey: KEY })
  const codec = skipTokenCodec(KEY)
  const token = (set: string, from: number, to: number): string => codec.encode({ set, range: { from, to }, after: [], returned: 0 })
  const refused: Array<[string, string, number]> = [
    ['1970', token('HourlyMetrics', 0, DAY_MS), 400],
    ['100 years', token('HourlyMetrics', Date.parse('2000-01-01T00:00:00Z'), Date.parse('2100-01-01T00:00:00Z')), 400],
    ['past the current hour', token('HourlyMetrics', HOUR_END, HOUR_END + HOUR_MS), 400],
    ['another entity set', token('DailyMetrics', HOUR_END - DAY_MS, HOUR_END), 400],
    ['not aligned to the hour', token('HourlyMetrics', HOUR_END - DAY_MS + 1, HOUR_END), 400],
    ['empty range', token('HourlyMetrics', HOUR_END, HOUR_END), 400]
  ]
  for (const [what, tok] of refused) {
    const res = await app.inject(`/odata/HourlyMetrics?$skiptoken=${tok}`)
    assert.equal(res.statusCode, 400, `${what}: ${res.body}`)
    assert.match(res.json<ODataError>().error.code, /^HG_ERR_(ODATA_BAD_OPTION|RANGE_TOO_LARGE|TOO_MANY_BUCKETS)$/, what)
  }
  // over the range limit (HOURGLASS_MAX_RANGE_DAYS): the limit's own code
  const long = await app.inject(`/odata/HourlyMetrics?$skiptoken=${token('HourlyMetrics', HOUR_END - 401 * DAY_MS, HOUR_END)}`)
  assert.equal(long.statusCode, 400)
  assert.equal(long.json<ODataError>().error.code, 'HG_ERR_RANGE_TOO_LARGE')
  assert.equal(service.calls.length, 0, 'no refused token reached the service')
  const good = await app.inject(`/odata/HourlyMetrics?$skiptoken=${token('HourlyMetrics', HOUR_END - DAY_MS, HOUR_END)}`)
  assert.equal(good.statusCode, 200, good.body)
})

test('with HOURGLASS_SKIPTOKEN_KEY, a token one process issued is followed by another; without it, each process has its own key', async (t) => {
  const a = setup(t, { skiptokenKey: KEY }).app
  const b = setup(t, { skiptokenKey: KEY }).app
  const link = await firstNextLink(a)
  const onB = await b.inject(pathOf(link))
  assert.equal(onB.statusCode, 200, onB.body)
  assert.ok(onB.json<Page>().value.length > 0)

  const c = setup(t).app
  const d = setup(t).app
  const ownLink = await firstNextLink(c)
  assert.equal((await c.inject(pathOf(ownLink))).statusCode, 200)
  const onD = await d.inject(pathOf(ownLink))
  assert.equal(onD.statusCode, 400, onD.body)
  assert.equal(onD.json<ODataError>().error.code, 'HG_ERR_ODATA_BAD_OPTION')
})

test('HOURGLASS_SKIPTOKEN_KEY: at least 16 characters, and a refused key is not repeated in the message', () => {
  assert.equal(loadConfig({ HOURGLASS_SKIPTOKEN_KEY: KEY }).skiptokenKey, KEY)
  assert.equal(loadConfig({}).skiptokenKey, '')
  assert.throws(() => loadConfig({ HOURGLASS_SKIPTOKEN_KEY: 'short-secret' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /HOURGLASS_SKIPTOKEN_KEY is not valid: expected at least 16 characters/)
    assert.doesNotMatch(err.message, /short-secret/)
    return true
  })
})
