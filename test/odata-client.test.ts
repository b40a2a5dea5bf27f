// An independent OData client reads /odata: ts-odatajs, the TypeScript
// build of Apache Olingo's OData v4 JavaScript client, none of whose code is ours. It parses
// $metadata with its own CSDL reader, then reads every page of each entity set over a real HTTP
// socket, following @odata.nextLink; with the metadata it resolves each page's @odata.context to
// the entity type and types every property, so a context or CSDL it cannot follow fails here.
// The failure this guards against: a service our own tests accept but a real OData client cannot
// read (Power BI's OData.Feed being the one that matters).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type Edmx, type HttpOData, oData } from 'ts-odatajs'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { bucketStart, DAY_MS, HOUR_MS, iso, MINUTE_MS } from '../src/model/index.js'

const T0 = bucketStart(Date.now(), 'hour') - 30 * MINUTE_MS
const HOUR_END = bucketStart(T0, 'hour') + HOUR_MS
const DAY_END = bucketStart(T0, 'day') + DAY_MS

let app: App
let dir: string
let base: string

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hourglass-odata-client-'))
  const config = loadConfig({}, { dataDir: dir, seedDays: '1', syntheticRate: '2', source: 'synthetic', logLevel: 'silent' })
  app = await buildApp(config, { now: () => T0, schedule: false, progress: () => {} })
  base = await app.server.listen({ port: 0, host: '127.0.0.1' })
})
after(async () => {
  await app?.close()
  await rm(dir, { recursive: true, force: true })
})

interface Read { data: Record<string, unknown>, response: HttpOData.Response }

function read (request: HttpOData.Request, handler?: unknown, metadata?: Edmx.Edmx): Promise<Read> {
  return new Promise((resolve, reject) => {
    oData.read(request, (data, response) => resolve({ data: data as Record<string, unknown>, response }),
      (err) => reject(Object.assign(new Error(err.message), { response: err.response })), handler as never, undefined, metadata)
  })
}

async function metadata (): Promise<Edmx.Edmx> {
  return (await read({ requestUri: `${base}/odata/$metadata` }, oData.metadataHandler)).data as unknown as Edmx.Edmx
}

test('the client parses $metadata: the entity types, their keys, the property types, the entity sets', async () => {
  const md = await metadata()
  const schema = md.dataServices.schema[0] as unknown as {
    namespace: string
    entityType: Array<{ name: string, key: { propertyRef: Array<{ name: string }> }, property: Array<{ name: string, type: string, nullable?: string, precision?: string, scale?: string }> }>
    entityContainer: { name: string, entitySet: Array<{ name: string, entityType: string }> }
  }
  assert.equal(schema.namespace, 'Hourglass')
  const type = schema.entityType[0]
  assert.equal(type?.name, 'Metric')
  const key = type?.key.propertyRef.map((p) => p.name)
  assert.deepEqual(key, ['window_start', 'event_type', 'region'])
  const props = new Map(type?.property.map((p) => [p.name, p]))
  for (const k of key ?? []) assert.equal(props.get(k)?.nullable, 'false', `${k} is not nullable`)
  assert.deepEqual([...props].map(([n, p]) => `${n}:${p.type}`), [
    'window_start:Edm.DateTimeOffset', 'event_type:Edm.String', 'region:Edm.String', 'total_events:Edm.Int64',
    'avg_latency:Edm.Double', 'p95_response:Edm.Double', 'total_revenue:Edm.Decimal',
    'avg_sentiment:Edm.Double', 'sentiment_positive:Edm.Int64', 'sentiment_neutral:Edm.Int64', 'sentiment_negative:Edm.Int64'
  ])
  assert.deepEqual([props.get('total_revenue')?.precision, props.get('total_revenue')?.scale], ['18', '2'])
  assert.deepEqual(schema.entityContainer.entitySet.map((s) => [s.name, s.entityType]), [
    ['HourlyMetrics', 'Hourglass.Metric'], ['DailyMetrics', 'Hourglass.Metric'], ['MinuteMetrics', 'Hourglass.Metric'], ['Anomalies', 'Hourglass.Anomaly']
  ])
  const anomaly = schema.entityType[1]
  assert.equal(anomaly?.name, 'Anomaly')
  assert.deepEqual(anomaly?.key.propertyRef.map((p) => p.name), ['id'])
  assert.deepEqual(anomaly?.property.map((p) => p.name), ['id', 'window_start', 'event_type', 'region', 'metric', 'kind', 'observed', 'expected', 'score'])
})

const SETS: Array<[string, string]> = [
  ['HourlyMetrics', `/v1/metrics?from=${iso(HOUR_END - 7 * DAY_MS)}&to=${iso(HOUR_END)}&granularity=hour`],
  ['DailyMetrics', `/v1/metrics?from=${iso(DAY_END - 90 * DAY_MS)}&to=${iso(DAY_END)}&granularity=day`],
  ['MinuteMetrics', '/v1/metrics/live?last=60m']
]

for (const [set, restUrl] of SETS) {
  test(`the client reads every page of ${set}; the rows add up to the REST answer`, async () => {
    const md = await metadata()
    let url: string | undefined = `${base}/odata/${set}?$count=true`
    const rows: Array<Record<string, unknown>> = []
    let count: unknown
    let pages = 0
    while (url !== undefined) {
      const { data } = await read({ requestUri: url, headers: { Prefer: 'odata.maxpagesize=90' } }, undefined, md)
      pages++
      count ??= data['@odata.count']
      const value = data.value as Array<Record<string, unknown>>
      assert.ok(Array.isArray(value) && value.length <= 90)
      for (const e of value) {
        // the client found the entity type through @odata.context and $metadata
        assert.equal(e['@odata.type'], '#Hourglass.Metric')
        assert.equal(e['total_events@odata.type'], '#Int64')
        assert.equal(e['window_start@odata.type'], '#DateTimeOffset')
      }
      rows.push(...value)
      url = data['@odata.nextLink'] as string | undefined
      assert.ok(pages < 1000)
    }
    assert.ok(pages > 1, `${set}: several pages (${pages})`)
    assert.equal(rows.length, count)
    const res = await fetch(`${base}${restUrl}&group_by=event_type,region`)
    assert.equal(res.status, 200)
    const rest = (await res.json() as { rows: Array<{ total_events: number, total_revenue: number }> }).rows
    assert.equal(rows.length, rest.length)
    const sum = (xs: Array<Record<string, unknown>>, k: string): number => xs.reduce((s, r) => s + (r[k] as number), 0)
    assert.equal(sum(rows, 'total_events'), sum(rest, 'total_events'))
    assert.equal(Math.round(sum(rows, 'total_revenue') * 100), Math.round(sum(rest, 'total_revenue') * 100))
  })
}

test('the client sees an unsupported option as a 501 with the OData error body', async () => {
  await assert.rejects(read({ requestUri: `${base}/odata/HourlyMetrics?$expand=Foo` }), (err: Error & { response?: HttpOData.Response }) => {
    assert.equal(err.response?.statusCode, 501)
    const body = JSON.parse(String(err.response?.body)) as { error: { code: string } }
    assert.equal(body.error.code, 'HG_ERR_ODATA_NOT_IMPLEMENTED')
    return true
  })
})
