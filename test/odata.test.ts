// OData v4 at /odata, end to end on the real app: a day of synthetic
// history is seeded, gold is built and the speed store rebuilt from bronze; then every page of
// each entity set is followed through @odata.nextLink and the rows, and their sums, must equal the
// REST answer for the same range. The failure this guards against: paging that drops or repeats a
// row at a page edge, or an OData range that differs from what REST reads.
//
// The clock is fixed at half past the previous hour (see test/app.test.ts for why half past), and
// the synthetic source is not started, so nothing changes between pages.
// Around it: the service document, $metadata, exactly one OData-Version header, the OData error
// body, 501 for $expand, gzip; and, on the stub service, what the time filter folds into.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { after, before, describe, test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { buildServer } from '../src/api/server.js'
import { loadConfig } from '../src/config.js'
import { bucketStart, DAY_MS, HOUR_MS, iso, METRIC_NAMES, MINUTE_MS } from '../src/model/index.js'
import { StubMetricsService } from './helpers/stub-service.js'

const T0 = bucketStart(Date.now(), 'hour') - 30 * MINUTE_MS
const now = (): number => T0
const HOUR_END = bucketStart(T0, 'hour') + HOUR_MS
const DAY_END = bucketStart(T0, 'day') + DAY_MS

interface Entity { window_start: string, event_type: string, region: string, total_events: number, avg_latency: number | null, p95_response: number | null, total_revenue: number }
interface Page { '@odata.context': string, '@odata.count'?: number, '@odata.nextLink'?: string, value: Entity[] }
interface ODataError { error: { code: string, message: string, target?: string } }

/** '…T00:00:00.000Z' → '…T00:00:00Z', the OData form */
const odataInstant = (s: string): string => s.replace(/\.000Z$/, 'Z')
const keyOf = (r: Entity): string => `${r.window_start}|${r.event_type}|${r.region}`
const byKey = (a: Entity, b: Entity): number => keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0

describe('OData on the real app', () => {
  let app: App
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hourglass-odata-'))
    const config = loadConfig({}, { dataDir: dir, seedDays: '1', syntheticRate: '2', source: 'synthetic', logLevel: 'silent' })
    app = await buildApp(config, { now, schedule: false, progress: () => {} })
  })
  after(async () => {
    await app?.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function get (url: string, headers: Record<string, string> = {}) {
    return await app.server.inject({ url, headers })
  }

  /** every page from `first` on, following @odata.nextLink (absolute) */
  async function allPages (first: string, pageSize: number): Promise<{ pages: Page[], rows: Entity[] }> {
    const pages: Page[] = []
    let url: string | undefined = first
    while (url !== undefined) {
      const res = await get(url, { prefer: `odata.maxpagesize=${pageSize}` })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['preference-applied'], `odata.maxpagesize=${pageSize}`)
      const page = res.json<Page>()
      assert.ok(page.value.length <= pageSize)
      pages.push(page)
      const next = page['@odata.nextLink']
      if (next !== undefined) {
        assert.match(next, /^http:\/\/localhost(:80)?\/odata\/\w+\?.*\$skiptoken=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'absolute, opaque and signed')
        url = next.replace(/^http:\/\/localhost(:80)?/, '')
      } else {
        url = undefined
      }
      assert.ok(pages.length < 1000, 'paging ends')
    }
    return { pages, rows: pages.flatMap((p) => p.value) }
  }

  async function rest (url: string): Promise<Entity[]> {
    const res = await get(url)
    assert.equal(res.statusCode, 200, res.body)
    return res.json<{ rows: Entity[] }>().rows.map((r) => ({ ...r, window_start: odataInstant(r.window_start) }))
  }

  function assertSameAnswer (odata: Entity[], restRows: Entity[]): void {
    assert.ok(restRows.length > 0, 'the range holds data')
    const seen = new Set(odata.map(keyOf))
    assert.equal(seen.size, odata.length, 'no row is repeated across pages')
    assert.deepEqual([...odata].sort(byKey), [...restRows].sort(byKey))
    const sum = (rows: Entity[], k: 'total_events' | 'total_revenue'): number => rows.reduce((s, r) => s + r[k], 0)
    assert.equal(sum(odata, 'total_events'), sum(restRows, 'total_events'))
    assert.equal(Math.round(sum(odata, 'total_revenue') * 100), Math.round(sum(restRows, 'total_revenue') * 100))
  }

  const groups = 'group_by=event_type,region'

  test('HourlyMetrics with no filter: the last 7 days, every page, equal to REST', async () => {
    const { pages, rows } = await allPages('/odata/HourlyMetrics?$count=true', 97)
    assert.ok(pages.length > 2, `several pages (${pages.length})`)
    for (const p of pages) assert.equal(p['@odata.count'], rows.length, '@odata.count is the total on every page')
    assertSameAnswer(rows, await rest(`/v1/metrics?from=${iso(HOUR_END - 7 * DAY_MS)}&to=${iso(HOUR_END)}&granularity=hour&${groups}`))
  })

  test('HourlyMetrics with the time filter Power Query folds: the same range as REST', async () => {
    const from = HOUR_END - 30 * HOUR_MS; const to = HOUR_END - 2 * HOUR_MS
    const filter = encodeURIComponent(`window_start ge ${odataInstant(iso(from))} and window_start lt ${odataInstant(iso(to))}`)
    const { pages, rows } = await allPages(`/odata/HourlyMetrics?$filter=${filter}`, 50)
    assert.ok(pages.length > 2)
    for (const p of pages) assert.match(p['@odata.nextLink'] ?? `$filter=${filter}`, new RegExp(`\\$filter=${filter.replace(/[()]/g, '\\$&')}`), 'the filter is carried forward')
    assertSameAnswer(rows, await rest(`/v1/metrics?from=${iso(from)}&to=${iso(to)}&granularity=hour&${groups}`))
  })

  test('DailyMetrics: the last 90 days, every page, equal to REST', async () => {
    const { rows } = await allPages('/odata/DailyMetrics', 7)
    assertSameAnswer(rows, await rest(`/v1/metrics?from=${iso(DAY_END - 90 * DAY_MS)}&to=${iso(DAY_END)}&granularity=day&${groups}`))
  })

  test('MinuteMetrics: the speed layer\'s retention, every page, equal to REST live', async () => {
    const { pages, rows } = await allPages('/odata/MinuteMetrics', 100)
    assert.ok(pages.length > 1)
    assertSameAnswer(rows, await rest(`/v1/metrics/live?last=60m&${groups}`))
  })

  test('$filter on dimensions and metrics, $orderby, $top and $skip across pages', async () => {
    const all = await rest(`/v1/metrics?from=${iso(HOUR_END - 7 * DAY_MS)}&to=${iso(HOUR_END)}&granularity=hour&${groups}`)
    const region = all[0]?.region as string
    const expected = all
      .filter((r) => r.region !== region && r.total_events > 1)
      .sort((a, b) => b.total_events - a.total_events || (a.region < b.region ? -1 : a.region > b.region ? 1 : 0) || byKey(a, b))
      .slice(10, 10 + 150)
    assert.ok(expected.length > 100)
    const filter = encodeURIComponent(`not (region eq '${region}') and total_events gt 1`)
    const { pages, rows } = await allPages(`/odata/HourlyMetrics?$filter=${filter}&$orderby=total_events desc,region&$skip=10&$top=150`, 40)
    assert.equal(pages.length, Math.ceil(expected.length / 40))
    assert.deepEqual(rows, expected)
  })

  test('$select: the selected properties and the key, and a context that names them', async () => {
    const res = await get('/odata/HourlyMetrics?$select=total_revenue,total_events&$top=3')
    const page = res.json<Page>()
    assert.equal(page['@odata.context'], 'http://localhost:80/odata/$metadata#HourlyMetrics(total_revenue,total_events)')
    assert.equal(page.value.length, 3)
    for (const e of page.value) assert.deepEqual(Object.keys(e), ['window_start', 'event_type', 'region', 'total_events', 'total_revenue'])
  })

  test('/$count: the number of matching entities, as text', async () => {
    const n = (await get('/odata/HourlyMetrics?$count=true&$top=0')).json<Page>()['@odata.count']
    const res = await get('/odata/HourlyMetrics/$count')
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    assert.equal(Number(res.body), n)
  })

  test('gzip when the client accepts it, the same JSON once unzipped', async () => {
    const url = '/odata/HourlyMetrics?$top=200'
    const plain = await get(url)
    assert.equal(plain.headers['content-encoding'], undefined)
    const zipped = await get(url, { 'accept-encoding': 'gzip, deflate' })
    assert.equal(zipped.headers['content-encoding'], 'gzip')
    assert.match(String(zipped.headers.vary), /Accept-Encoding/i)
    assert.ok(zipped.rawPayload.length < plain.rawPayload.length / 3)
    assert.deepEqual(JSON.parse(gunzipSync(zipped.rawPayload).toString('utf8')), plain.json())
    assert.equal((await get(url, { 'accept-encoding': 'gzip;q=0, identity' })).headers['content-encoding'], undefined)
    const metadata = await get('/odata/$metadata', { 'accept-encoding': 'gzip' })
    assert.equal(metadata.headers['content-encoding'], 'gzip')
    assert.match(gunzipSync(metadata.rawPayload).toString('utf8'), /^<\?xml/)
  })

  test('exactly one OData-Version: 4.0 header on every response, over a real socket', async () => {
    const base = await app.server.listen({ port: 0, host: '127.0.0.1' })
    const paths = ['/odata/', '/odata/$metadata', '/odata/HourlyMetrics?$top=1', '/odata/HourlyMetrics?$expand=x',
      '/odata/HourlyMetrics?$filter=region%20eq', '/odata/Nope', '/odata/MinuteMetrics?$top=1']
    for (const path of paths) {
      const raw = await new Promise<string[]>((resolve, reject) => {
        httpRequest(base + path, (res) => { res.resume(); res.on('end', () => resolve(res.rawHeaders)) }).on('error', reject).end()
      })
      const values = raw.filter((_, i) => i % 2 === 0 && raw[i]?.toLowerCase() === 'odata-version').map((_, i) => i)
      assert.equal(values.length, 1, `${path}: ${raw.join(' ')}`)
      assert.equal(raw[raw.findIndex((h) => h.toLowerCase() === 'odata-version') + 1], '4.0')
    }
  })
})

describe('OData documents and errors (stub service)', () => {
  const T = Date.parse('2026-01-12T02:30:00Z')
  function setup (t: { after: (fn: () => Promise<void>) => void }) {
    const service = new StubMetricsService({ now: () => T })
    const app = buildServer({ service, now: () => T })
    t.after(async () => { await app.close() })
    return { app, service }
  }

  test('service document at /odata/ and /odata: the three entity sets and Anomalies, an absolute context from Host', async (t) => {
    const { app } = setup(t)
    for (const url of ['/odata/', '/odata']) {
      const res = await app.inject({ url, headers: { host: 'bi.example:8443' } })
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^application\/json;odata\.metadata=minimal/)
      assert.deepEqual(res.json(), {
        '@odata.context': 'http://bi.example:8443/odata/$metadata',
        value: ['HourlyMetrics', 'DailyMetrics', 'MinuteMetrics', 'Anomalies'].map((name) => ({ name, kind: 'EntitySet', url: name }))
      })
    }
  })

  test('$metadata: CSDL XML, a composite key of non-nullable properties, the Edm types', async (t) => {
    const { app } = setup(t)
    const res = await app.inject('/odata/$metadata')
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^application\/xml/)
    const xml = res.body
    assert.match(xml, /<edmx:Edmx xmlns:edmx="http:\/\/docs\.oasis-open\.org\/odata\/ns\/edmx" Version="4\.0">/)
    assert.match(xml, /<Schema xmlns="http:\/\/docs\.oasis-open\.org\/odata\/ns\/edm" Namespace="Hourglass">/)
    const key = [...(/<Key>([\s\S]*?)<\/Key>/.exec(xml)?.[1] ?? '').matchAll(/PropertyRef Name="(\w+)"/g)].map((m) => m[1])
    assert.deepEqual(key, ['window_start', 'event_type', 'region'])
    const metricType = /<EntityType Name="Metric">[\s\S]*?<\/EntityType>/.exec(xml)?.[0] ?? ''
    const props = Object.fromEntries([...metricType.matchAll(/<Property ([^>]*?)>/g)].map((m) => {
      const attrs = Object.fromEntries([...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1], a[2]]))
      return [attrs.Name, attrs]
    }))
    assert.deepEqual(props, {
      window_start: { Name: 'window_start', Type: 'Edm.DateTimeOffset', Nullable: 'false' },
      event_type: { Name: 'event_type', Type: 'Edm.String', Nullable: 'false' },
      region: { Name: 'region', Type: 'Edm.String', Nullable: 'false' },
      total_events: { Name: 'total_events', Type: 'Edm.Int64', Nullable: 'false' },
      avg_latency: { Name: 'avg_latency', Type: 'Edm.Double' },
      p95_response: { Name: 'p95_response', Type: 'Edm.Double' },
      total_revenue: { Name: 'total_revenue', Type: 'Edm.Decimal', Nullable: 'false', Precision: '18', Scale: '2' },
      avg_sentiment: { Name: 'avg_sentiment', Type: 'Edm.Double' },
      sentiment_positive: { Name: 'sentiment_positive', Type: 'Edm.Int64', Nullable: 'false' },
      sentiment_neutral: { Name: 'sentiment_neutral', Type: 'Edm.Int64', Nullable: 'false' },
      sentiment_negative: { Name: 'sentiment_negative', Type: 'Edm.Int64', Nullable: 'false' }
    })
    const sets = [...xml.matchAll(/<EntitySet Name="(\w+)" EntityType="Hourglass\.Metric">/g)].map((m) => m[1])
    assert.deepEqual(sets, ['HourlyMetrics', 'DailyMetrics', 'MinuteMetrics'])
    assert.match(xml, /<EntitySet Name="Anomalies" EntityType="Hourglass\.Anomaly">/)
    assert.match(xml, /<EntityType Name="Anomaly">\s*<Key>\s*<PropertyRef Name="id"\/>\s*<\/Key>/)
    assert.match(xml, /last 7 days/, 'the default window is documented')
  })

  test('a time filter folds into the merger\'s range; no filter reads the default window', async (t) => {
    const { app, service } = setup(t)
    const week = encodeURIComponent("window_start ge 2026-01-05T00:00:00Z and window_start lt 2026-01-12T00:00:00Z and region eq 'eu-west'")
    assert.equal((await app.inject(`/odata/HourlyMetrics?$filter=${week}`)).statusCode, 200)
    assert.equal((await app.inject('/odata/HourlyMetrics')).statusCode, 200)
    assert.equal((await app.inject('/odata/DailyMetrics')).statusCode, 200)
    assert.equal((await app.inject('/odata/MinuteMetrics')).statusCode, 200)
    const [folded, hourly, daily, minute] = service.calls
    assert.deepEqual(folded?.kind === 'query' ? folded.q : null, {
      from: Date.parse('2026-01-05T00:00:00Z'), to: Date.parse('2026-01-12T00:00:00Z'), granularity: 'hour', groupBy: ['event_type', 'region'], filters: { region: ['eu-west'] }, metrics: [...METRIC_NAMES]
    })
    const end = Date.parse('2026-01-12T03:00:00Z')
    assert.deepEqual(hourly?.kind === 'query' ? [hourly.q.from, hourly.q.to, hourly.q.filters] : null, [end - 7 * DAY_MS, end, {}])
    const dayEnd = Date.parse('2026-01-13T00:00:00Z')
    assert.deepEqual(daily?.kind === 'query' ? [daily.q.from, daily.q.to, daily.q.granularity] : null, [dayEnd - 90 * DAY_MS, dayEnd, 'day'])
    assert.deepEqual(minute?.kind === 'live' ? minute.q.last : null, HOUR_MS)
  })

  test('a contradictory or future-only filter answers an empty page without reading', async (t) => {
    const { app, service } = setup(t)
    for (const f of ["event_type eq 'a' and event_type eq 'b'", 'window_start ge 2030-01-01T00:00:00Z']) {
      const res = await app.inject(`/odata/HourlyMetrics?$filter=${encodeURIComponent(f)}&$count=true`)
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.json<Page>().value, [])
      assert.equal(res.json<Page>()['@odata.count'], 0)
    }
    assert.equal(service.calls.length, 0)
  })

  const errorCases: Array<[string, number, string, string?]> = [
    ['/odata/HourlyMetrics?$expand=Foo', 501, 'HG_ERR_ODATA_NOT_IMPLEMENTED'],
    ['/odata/HourlyMetrics?$apply=groupby((region))', 501, 'HG_ERR_ODATA_NOT_IMPLEMENTED'],
    ['/odata/HourlyMetrics?$search=eu', 501, 'HG_ERR_ODATA_NOT_IMPLEMENTED'],
    ['/odata/HourlyMetrics?$format=atom', 501, 'HG_ERR_ODATA_NOT_IMPLEMENTED'],
    ["/odata/HourlyMetrics(window_start=2026-01-01T00:00:00Z,event_type='a',region='b')", 501, 'HG_ERR_ODATA_NOT_IMPLEMENTED'],
    ['/odata/HourlyMetrics?$filter=region%20eq', 400, 'HG_ERR_ODATA_BAD_FILTER', '$filter'],
    ['/odata/HourlyMetrics?$top=-1', 400, 'HG_ERR_ODATA_BAD_OPTION', '$top'],
    ['/odata/HourlyMetrics?$skip=x', 400, 'HG_ERR_ODATA_BAD_OPTION', '$skip'],
    ['/odata/HourlyMetrics?$count=yes', 400, 'HG_ERR_ODATA_BAD_OPTION', '$count'],
    ['/odata/HourlyMetrics?$select=nope', 400, 'HG_ERR_ODATA_BAD_OPTION', '$select'],
    ['/odata/HourlyMetrics?$orderby=region%20up', 400, 'HG_ERR_ODATA_BAD_OPTION', '$orderby'],
    ['/odata/HourlyMetrics?$skiptoken=not-ours', 400, 'HG_ERR_ODATA_BAD_OPTION', '$skiptoken'],
    ['/odata/HourlyMetrics?$bogus=1', 400, 'HG_ERR_ODATA_BAD_OPTION', '$bogus'],
    ['/odata/HourlyMetrics?$filter=window_start%20ge%202001-01-01T00:00:00Z', 400, 'HG_ERR_RANGE_TOO_LARGE'],
    ['/odata/Nope', 404, 'HG_ERR_NOT_FOUND'],
    ['/odata/HourlyMetrics/extra', 404, 'HG_ERR_NOT_FOUND'],
    ['/odata/HourlyMetrics?$filter=' + 'x'.repeat(5000), 414, 'HG_ERR_URL_TOO_LONG']
  ]
  for (const [url, status, code, target] of errorCases) {
    test(`${url.slice(0, 80)} → ${status} ${code}, in the OData error body`, async (t) => {
      const { app } = setup(t)
      const res = await app.inject(url)
      assert.equal(res.statusCode, status, res.body)
      assert.equal(res.headers['odata-version'], '4.0')
      assert.match(String(res.headers['content-type']), /^application\/json/)
      const body = res.json<ODataError>()
      assert.deepEqual(Object.keys(body), ['error'])
      assert.equal(body.error.code, code)
      assert.ok(body.error.message.length > 0)
      if (target !== undefined) assert.equal(body.error.target, target)
    })
  }

  test('a body over the limit is 413 HG_ERR_BODY_TOO_LARGE, in the OData error body', async (t) => {
    const { app } = setup(t)
    const large = await app.inject({ method: 'POST', url: '/odata/HourlyMetrics', headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(5000) })
    assert.equal(large.statusCode, 413)
    assert.equal(large.json<ODataError>().error.code, 'HG_ERR_BODY_TOO_LARGE')
    assert.equal(large.headers['odata-version'], '4.0')
  })

  test('the service is read-only: a write is 405 with Allow, in the OData error body', async (t) => {
    const { app } = setup(t)
    for (const [method, url] of [['POST', '/odata/HourlyMetrics'], ['PATCH', '/odata/DailyMetrics'], ['DELETE', '/odata/$metadata'], ['PUT', '/odata/'],
      ['POST', '/odata/HourlyMetrics/$count']] as const) {
      const res = await app.inject({ method, url, headers: { 'content-type': 'text/xml' }, payload: '<a/>' })
      assert.equal(res.statusCode, 405, `${method} ${url}: ${res.body}`)
      assert.equal(res.headers.allow, 'GET, HEAD', `${method} ${url}`)
      assert.equal(res.headers['odata-version'], '4.0')
      assert.match(String(res.headers['content-type']), /^application\/json;odata\.metadata=minimal/)
      assert.equal(res.json<ODataError>().error.code, 'HG_ERR_METHOD_NOT_ALLOWED')
    }
  })

  test('a 500 does not leak its message', async (t) => {
    const service = new StubMetricsService({ now: () => T, failWith: new Error('secret detail') })
    const app = buildServer({ service, now: () => T })
    t.after(() => app.close())
    const res = await app.inject('/odata/HourlyMetrics')
    assert.equal(res.statusCode, 500)
    assert.equal(res.json<ODataError>().error.code, 'HG_ERR_INTERNAL')
    assert.doesNotMatch(res.body, /secret/)
  })

  test('DateTimeOffset with +hh:mm survives a literal + in the URL, and form-encoded spaces work', async (t) => {
    const { app, service } = setup(t)
    assert.equal((await app.inject('/odata/HourlyMetrics?$filter=window_start%20ge%202026-01-11T02:00:00+02:00')).statusCode, 200)
    assert.equal((await app.inject("/odata/HourlyMetrics?$filter=window_start+ge+2026-01-11T00:00:00Z+and+region+eq+'eu-west'")).statusCode, 200)
    const [plus, form] = service.calls
    assert.equal(plus?.kind === 'query' ? plus.q.from : null, Date.parse('2026-01-11T00:00:00Z'))
    assert.deepEqual(form?.kind === 'query' ? [form.q.from, form.q.filters] : null, [Date.parse('2026-01-11T00:00:00Z'), { region: ['eu-west'] }])
  })
})
