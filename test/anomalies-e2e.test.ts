// Anomaly detection end to end on the real app: a file source with two days and a half of steady traffic in two
// groups, the batch job building gold from it (the seasonal baseline), and in the last hour, which the speed layer
// holds, an injected spike (checkout/eu, one minute at five times its rate) and a drop to zero (view/us, five minutes
// without an event). Detection judges the closed minutes; the anomalies must appear in GET /v1/anomalies, the GraphQL
// query, the OData entity set and /metrics, and a subscriber (a real WebSocket) must receive them as they are found.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createClient } from 'graphql-ws'
import WebSocket from 'ws'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { DAY_MS, iso } from '../src/model/index.js'
import { until } from './helpers/wait.js'

const M = 60_000
const DAY0 = Date.UTC(2026, 0, 17)
const T = DAY0 + 2 * DAY_MS + 12 * 3_600_000 + 30 * M // the clock: 12:30 on the third day
const SPIKE = T - 20 * M // 12:10
const DROP_FROM = T - 15 * M // 12:15 .. 12:20
const DROP_TO = T - 10 * M
const GROUPS = [{ type: 'checkout', region: 'eu', rate: 10 }, { type: 'view', region: 'us', rate: 12 }]

/** steady traffic: rate ± 2 events a minute (a fixed pattern), with the injected spike and drop */
function lines (): string[] {
  const out: string[] = []
  let id = 0
  for (let t = DAY0, i = 0; t < T - M; t += M, i++) {
    GROUPS.forEach((g, gi) => {
      let n = g.rate + ((i * 7 + gi * 3) % 5) - 2
      if (g.type === 'checkout' && t === SPIKE) n = 5 * g.rate
      if (g.type === 'view' && t >= DROP_FROM && t < DROP_TO) n = 0
      for (let k = 0; k < n; k++) {
        out.push(JSON.stringify({
          event_id: `e${++id}`, timestamp: iso(t + Math.floor((k * 59_000) / n)), event_type: g.type, region: g.region,
          response_time: 100 + ((k * 37) % 50), ...(g.type === 'checkout' ? { revenue: 10 + (k % 7) } : {})
        }))
      }
    })
  }
  return out
}

interface Row { window_start: string, event_type: string | null, region: string | null, metric: string, kind: string, observed: number, score: number }
const brief = (r: Row): string => `${r.window_start.slice(11, 16)} ${r.event_type ?? '*'}/${r.region ?? '*'} ${r.metric} ${r.kind}`

test('a spike and a drop to zero: found in REST, GraphQL, OData and /metrics, and pushed to a subscriber', async (t) => {
  // what was opened is closed in reverse, whatever fails
  const opened: Array<() => unknown> = []
  t.after(async () => { for (const close of opened.reverse()) await close() })
  const dir = await mkdtemp(join(tmpdir(), 'hg-anomalies-'))
  opened.push(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'events.jsonl')
  await writeFile(file, lines().join('\n') + '\n')
  const config = loadConfig({}, { dataDir: join(dir, 'data'), source: `file:${file}`, logLevel: 'silent', seedDays: '0', port: '0' })
  const app: App = await buildApp(config, { now: () => T, schedule: false })
  opened.push(() => app.close())
  await app.startSource()
  await app.source?.done
  const built = await app.runBatchNow()
  assert.equal(built.published, true, 'gold holds the previous days: the baseline')

  const base = await app.server.listen({ port: 0, host: '127.0.0.1' })
  const received: Row[] = []
  const failures: unknown[] = []
  const ws = createClient({ url: base.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 0 })
  opened.push(() => ws.dispose())
  const stop = ws.subscribe<{ anomalyDetected: Row }>({
    query: 'subscription ($f: Filter) { anomalyDetected(filter: $f) { window_start event_type region metric kind observed score } }',
    variables: { f: { event_type: ['checkout', 'view'] } }
  }, {
    next: (m) => { if (m.data != null) received.push(m.data.anomalyDetected) },
    error: (err) => { failures.push(err) },
    complete: () => {}
  })
  opened.push(() => stop())
  await until('the subscription to listen', () => app.anomalies.listeners === 1)

  await app.detectAnomaliesNow()
  const expected = [
    `${iso(SPIKE).slice(11, 16)} checkout/eu total_events spike`,
    ...[0, 1, 2, 3, 4].map((m) => `${iso(DROP_FROM + m * M).slice(11, 16)} view/us total_events drop`)
  ]

  // REST: exactly the injected minutes in the two groups' event counts
  const from = iso(T - 60 * M)
  const rest = await app.server.inject(`/v1/anomalies?from=${from}&event_type=checkout,view`)
  assert.equal(rest.statusCode, 200, rest.body)
  const rows = (rest.json() as { anomalies: Row[] }).anomalies
  assert.deepEqual(rows.filter((r) => r.metric === 'total_events').map(brief), expected)
  const spike = rows.find((r) => r.kind === 'spike') as Row
  assert.equal(spike.observed, 50)
  assert.ok(spike.score >= config.anomalySensitivity, `score ${spike.score}`)
  const all = (await app.server.inject(`/v1/anomalies?from=${from}`)).json() as { anomalies: Row[] }
  assert.ok(all.anomalies.some((r) => brief(r) === `${iso(SPIKE).slice(11, 16)} */* total_events spike`), 'the overall group sees the spike')
  for (const [query, code] of [
    ['from=yesterday', 'HG_ERR_BAD_TIMESTAMP'], ['', 'HG_ERR_MISSING_PARAMETER'], [`from=${from}&to=${from}`, 'HG_ERR_EMPTY_RANGE'],
    [`from=${from}&region=`, 'HG_ERR_BAD_FILTER_VALUE'], [`from=${from}&metric=total_events`, 'HG_ERR_UNKNOWN_PARAMETER']
  ]) {
    const bad = await app.server.inject(`/v1/anomalies?${query}`)
    assert.deepEqual([bad.statusCode, (bad.json() as { code: string }).code], [400, code], query)
  }

  // GraphQL: the same rows
  const gql = await app.server.inject({
    method: 'POST',
    url: '/graphql',
    payload: { query: `{ anomalies(from: "${from}", filter: { event_type: ["checkout", "view"] }) { window_start event_type region metric kind observed expected score } }` }
  })
  assert.equal(gql.statusCode, 200, gql.body)
  assert.deepEqual((gql.json() as { data: { anomalies: Row[] } }).data.anomalies, rows)

  // OData: the drops of view/us
  const odata = await app.server.inject(`/odata/Anomalies?$filter=${encodeURIComponent("event_type eq 'view' and kind eq 'drop' and metric eq 'total_events'")}&$count=true`)
  assert.equal(odata.statusCode, 200, odata.body)
  const set = odata.json() as { '@odata.count': number, value: Row[] }
  assert.equal(set['@odata.count'], 5)
  assert.deepEqual(set.value.map((r) => r.window_start), [0, 1, 2, 3, 4].map((m) => iso(DROP_FROM + m * M)))
  const badFilter = await app.server.inject(`/odata/Anomalies?$filter=${encodeURIComponent('nothing eq 1')}`)
  assert.equal(badFilter.statusCode, 400)
  assert.equal((badFilter.json() as { error: { code: string } }).error.code, 'HG_ERR_ODATA_BAD_FILTER')

  // Prometheus
  const metrics = (await app.server.inject('/metrics')).body
  const count = (metric: string, kind: string): number =>
    Number(new RegExp(`^hourglass_anomalies_total\\{metric="${metric}",kind="${kind}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN)
  assert.ok(count('total_events', 'drop') >= 5, metrics)
  assert.ok(count('total_events', 'spike') >= 2, 'checkout/eu and overall')

  // the subscriber got each of its groups' anomalies once, as detection found them
  await until(() => `the pushes (got ${received.map(brief).join('; ')})`, () => received.filter((r) => r.metric === 'total_events').length === expected.length)
  assert.deepEqual(received.filter((r) => r.metric === 'total_events').map(brief).sort(), [...expected].sort())

  // judged again: nothing new is recorded or pushed
  const before = received.length
  await app.detectAnomaliesNow()
  assert.equal(((await app.server.inject(`/v1/anomalies?from=${from}&event_type=checkout,view`)).json() as { anomalies: Row[] }).anomalies.length, rows.length)
  assert.equal(received.length, before)
  assert.deepEqual(failures, [], 'the subscription never failed')
})
