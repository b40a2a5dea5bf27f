// Spark as the batch layer: examples/spark/hourly_gold.py (PySpark 4.2.0 with delta-spark 4.4.0 from PyPI, on local[2];
// Spark fetches the Delta jars from Maven Central through Ivy into .cache/ivy) builds hourly gold from Hourglass's own
// bronze as a Delta table; `serve --gold delta:PATH` on it answers what Hourglass's own batch job's gold answers. And
// Spark reads Hourglass's own gold table with the rows Hourglass serves.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { sparkEnv, sparkVenv } from './helpers/spark.js'
import { tempData } from './helpers/temp-data.js'

const JOB = fileURLToPath(new URL('../examples/spark/hourly_gold.py', import.meta.url))
const DV = fileURLToPath(new URL('./helpers/spark-dv.py', import.meta.url))
const READ = fileURLToPath(new URL('./helpers/spark-read.py', import.meta.url))
const t = tempData('hourglass-delta-spark-')

async function open (env: Record<string, string>): Promise<App> {
  const config = loadConfig({ HOURGLASS_SOURCE: 'none', HOURGLASS_LOG_LEVEL: 'silent', HOURGLASS_AUTH: 'none', ...env })
  return await buildApp(config, { schedule: false, progress: () => {} })
}

interface Answer {
  rows: Array<Record<string, unknown> & { avg_latency: number | null, avg_sentiment: number | null }>
  meta: { boundary: string, batch_version: number, sources: Array<{ layer: string }> }
}

async function hourly (app: App, from: string, to: string): Promise<Answer> {
  const res = await app.server.inject(`/v1/metrics?from=${from}&to=${to}&granularity=hour&group_by=event_type,region`)
  assert.equal(res.statusCode, 200, res.body)
  return res.json<Answer>()
}

test('Spark reads our own gold; Spark builds hourly gold from our bronze as a Delta table; served with --gold delta:PATH it answers what our own gold answers',
  { timeout: 2_400_000 }, async (t2) => {
    const venv = await sparkVenv((line) => t2.diagnostic(line))
    const data = join(t.dir, 'data')
    // our own: a day of synthetic history seeded into bronze, rolled up by our batch job (the live source is not started)
    const own = await open({ HOURGLASS_DATA_DIR: data, HOURGLASS_SOURCE: 'synthetic', HOURGLASS_SEED_DAYS: '1', HOURGLASS_SYNTHETIC_RATE: '2' })
    let ours: Answer
    let from: string
    let until: string
    try {
      const snapshot = own.gold.snapshot()
      assert.ok(snapshot?.completeUntil != null && snapshot.completeFrom != null, 'our batch job built gold')
      from = new Date(snapshot.completeFrom).toISOString()
      until = new Date(snapshot.completeUntil).toISOString()
      ours = await hourly(own, from, until)
    } finally {
      await own.close()
    }
    assert.ok(ours.rows.length > 100, `${ours.rows.length} rows`)

    // our own gold opens in Spark: the hourly table's rows are the rows we serve
    const printed = (await venv.exec([READ, join(data, 'gold', 'hourly_metrics')], { timeoutMs: 1_800_000, env: sparkEnv() }))
      .trim().split('\n').filter((l) => l.startsWith('RESULT ')).at(-1) ?? ''
    const [read] = JSON.parse(printed.slice('RESULT '.length)) as Array<{ version: number, rows: Array<Record<string, unknown>> }>
    const sparkRows = read?.rows ?? []
    assert.equal(read?.version, 1, 'our first publish is version 1')
    const key = (r: Record<string, unknown>): string => JSON.stringify([r.window_start, r.event_type, r.region, r.total_events])
    assert.deepEqual(sparkRows.map(key).sort(), ours.rows.map(key).sort())
    assert.ok(sparkRows.every((r) => r.date === String(r.window_start).slice(0, 10)), 'date from the partition values')

    const table = join(t.dir, 'spark-gold')
    const started = Date.now()
    const out = await venv.exec([JOB, '--bronze', join(data, 'bronze', 'events'), '--gold', table, '--until', until], {
      timeoutMs: 1_800_000, env: sparkEnv()
    })
    t2.diagnostic(`spark job: ${((Date.now() - started) / 1000).toFixed(0)} s; ${out.trim().split('\n').at(-1) ?? ''}`)
    assert.match(out, new RegExp(`hourglass.complete_until = ${until.replace('.', '\\.')}`))

    const served = await open({ HOURGLASS_DATA_DIR: join(t.dir, 'reader'), HOURGLASS_SEED_DAYS: '0', HOURGLASS_GOLD: `delta:${table}` })
    try {
      const theirs = await hourly(served, from, until)
      assert.equal(theirs.meta.boundary, until, 'the boundary is the property the job set')
      assert.deepEqual(theirs.meta.sources.map((s) => s.layer), ['batch'])
      assert.equal(theirs.rows.length, ours.rows.length)
      // the same rows; the average latency within float rounding (Spark sums the latencies in another order), and so the
      // average sentiment, served to 3 decimals: a sum a last bit apart may round one unit apart
      const exact = (rows: Answer['rows']): unknown[] => rows.map(({ avg_latency: _a, avg_sentiment: _s, ...rest }) => rest)
      assert.deepEqual(exact(theirs.rows), exact(ours.rows))
      theirs.rows.forEach((r, i) => {
        const o = ours.rows[i]?.avg_latency ?? null
        if (r.avg_latency === null || o === null) assert.equal(r.avg_latency, o)
        else assert.ok(Math.abs(r.avg_latency - o) <= 1e-9 * Math.max(1, Math.abs(o)), `avg_latency ${r.avg_latency} against ${o}`)
        const s = ours.rows[i]?.avg_sentiment ?? null
        if (r.avg_sentiment === null || s === null) assert.equal(r.avg_sentiment, s)
        else assert.ok(Math.abs(r.avg_sentiment - s) <= 0.001 + 1e-9, `avg_sentiment ${r.avg_sentiment} against ${s}`)
      })
    } finally {
      await served.close()
    }
  })

test('a table Spark wrote with deletion vectors, after a DELETE, is refused at start naming the feature (never served with the deleted rows)',
  { timeout: 2_400_000 }, async (t2) => {
    const venv = await sparkVenv((line) => t2.diagnostic(line))
    const table = join(t.dir, 'spark-dv')
    const out = await venv.exec([DV, table], { timeoutMs: 1_800_000, env: sparkEnv() })
    t2.diagnostic(out.trim())
    assert.match(out, /DELETE/, 'the last commit is the DELETE')
    await assert.rejects(open({ HOURGLASS_DATA_DIR: join(t.dir, 'dv-reader'), HOURGLASS_SEED_DAYS: '0', HOURGLASS_GOLD: `delta:${table}` }), /deletionVectors/)
  })
