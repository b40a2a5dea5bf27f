// The checked-in Grafana dashboard and Prometheus scrape job (examples/grafana, examples/prometheus): the dashboard
// is well-formed JSON Grafana can import (unique panel ids, a Prometheus data source input, a query per target),
// and every metric its queries name is one the real service's GET /metrics exports, with the labels they group by.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'

interface Target { refId: string, expr: string, legendFormat?: string }
interface Panel { id: number, type: string, title: string, datasource: { type: string, uid: string }, gridPos: Record<string, number>, targets: Target[] }
interface Dashboard { title: string, uid: string, __inputs: Array<{ name: string, pluginId: string }>, panels: Panel[] }

const dashboard = JSON.parse(await readFile(new URL('../examples/grafana/hourglass-operations.json', import.meta.url), 'utf8')) as Dashboard
const scrape = await readFile(new URL('../examples/prometheus/hourglass.yml', import.meta.url), 'utf8')

/** PromQL functions, aggregations and keywords: names in an expression that are not metrics */
const NOT_METRICS = new Set(['sum', 'min', 'max', 'avg', 'count', 'by', 'without', 'rate', 'irate', 'increase', 'histogram_quantile', 'le'])

/** Metric names an expression reads (identifiers not followed by "(" and outside braces, strings and ranges). */
function metricNames (expr: string): string[] {
  const bare = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/"[^"]*"/g, '').replace(/\b(?:by|without)\s*\([^)]*\)/g, '')
  return [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1] as string).filter((n) => !NOT_METRICS.has(n) && !/^\d/.test(n))
}

let app: App
let dataDir: string
let exported: string

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hourglass-grafana-'))
  const config = loadConfig({}, { dataDir, seedDays: '1', syntheticRate: '1', source: 'synthetic', logLevel: 'silent', port: '0', host: '127.0.0.1' })
  app = await buildApp(config, { schedule: false })
  await app.server.ready()
  await app.startSource()
  await app.server.inject('/v1/metrics/live?last=15m') // one HTTP series with a route and a status
  exported = (await app.server.inject('/metrics')).body
})

after(async () => {
  await app?.close()
  await rm(dataDir, { recursive: true, force: true })
})

test('the dashboard is importable: a Prometheus input, unique panel ids, every panel on it with a query per target', () => {
  assert.equal(dashboard.uid, 'hourglass-ops')
  assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']])
  const ids = dashboard.panels.map((p) => p.id)
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  assert.ok(dashboard.panels.length >= 10)
  for (const p of dashboard.panels) {
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${DS_PROMETHEUS}' }, p.title)
    assert.ok(p.targets.length > 0 && p.targets.every((t) => t.expr.trim() !== ''), p.title)
    assert.ok(['x', 'y', 'w', 'h'].every((k) => Number.isInteger(p.gridPos[k])), p.title)
  }
})

test('every metric the dashboard queries is exported by GET /metrics, with the labels it groups by', () => {
  const types = new Map([...exported.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]))
  const known = (name: string): boolean => {
    if (types.has(name)) return true
    const base = name.replace(/_(bucket|count|sum)$/, '')
    return base !== name && (types.get(base) === 'histogram' || types.get(base) === 'summary')
  }
  let checked = 0
  for (const p of dashboard.panels) {
    for (const t of p.targets) {
      const names = metricNames(t.expr)
      assert.ok(names.length > 0, `${p.title}: ${t.expr} names no metric`)
      for (const n of names) {
        assert.ok(known(n), `${p.title}: ${n} is not exported by /metrics`)
        checked++
      }
      assert.match(t.expr, /job="hourglass"/, `${p.title}: every query selects the scrape job`)
      for (const m of t.expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of (m[1] as string).split(',').map((s) => s.trim()).filter((l) => l !== 'le')) {
          const series = names.flatMap((n) => [...exported.matchAll(new RegExp(`^${n}\\{([^}]*)\\}`, 'gm'))].map((s) => s[1] as string))
          // a labelled metric without any series yet (no Kafka group here) cannot show its labels
          if (series.length > 0) assert.ok(series.some((s) => s.includes(`${label}="`)), `${p.title}: no series of ${names.join(', ')} has the label ${label}`)
        }
      }
    }
  }
  assert.ok(checked >= 15)
  // the check can fail: a name /metrics does not export is caught
  assert.equal(known('hourglass_no_such_metric_total'), false)
})

test('the scrape job is the one the dashboard selects, reading /metrics with a bearer key from a file', () => {
  assert.match(scrape, /job_name: hourglass$/m)
  assert.match(scrape, /metrics_path: \/metrics$/m)
  assert.match(scrape, /credentials_file: /)
  assert.doesNotMatch(scrape, /hg_[0-9a-f]+_/, 'no key in the example')
})
