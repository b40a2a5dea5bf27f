// GET /metrics: Prometheus text from the server's own registry. The HTTP histogram is labelled by
// route pattern (never the raw URL), and the event counters and batch/speed gauges are read from
// the service at scrape time.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { createObservability } from '../src/api/observability.js'
import { buildServer } from '../src/api/server.js'
import { StubMetricsService } from './helpers/stub-service.js'

test('GET /metrics serves the HTTP histogram by route, the event counters and the gauges', async (t) => {
  const app = buildServer({ service: new StubMetricsService() })
  t.after(() => app.close())
  await app.inject('/v1/quality')
  await app.inject('/v1/dead-letters?limit=1')
  await app.inject('/no/such/route/12345')
  const res = await app.inject('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  const text = res.body
  assert.match(text, /# TYPE http_request_duration_seconds histogram/)
  assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/v1\/quality",status_code="200"\} 1/)
  assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/v1\/dead-letters",status_code="200"\} 1/)
  assert.match(text, /route="unmatched",status_code="404"/)
  assert.doesNotMatch(text, /12345|limit=1/, 'raw URLs never become label values')
  assert.match(text, /^hourglass_events_received_total 10000$/m)
  assert.match(text, /^hourglass_events_valid_total 9950$/m)
  assert.match(text, /^hourglass_events_invalid_total\{reason="not_json"\} 20$/m)
  assert.match(text, /^hourglass_events_duplicate_total 100$/m)
  assert.match(text, /^hourglass_events_late_total 40$/m)
  assert.match(text, /^hourglass_speed_watermark_lag_seconds 0\.85$/m)
  assert.match(text, /^hourglass_batch_version 7$/m)
  assert.match(text, /^hourglass_batch_age_seconds 420$/m)
  assert.match(text, /# TYPE hourglass_store_apply_seconds histogram/)
  assert.match(text, /^process_cpu_user_seconds_total /m, 'default process metrics')
})

test('observeApply feeds the store apply-time histogram of the object the server was given', async (t) => {
  const observability = createObservability({ defaultMetrics: false })
  const app = buildServer({ service: new StubMetricsService(), observability })
  t.after(() => app.close())
  observability.observeApply(0.002)
  observability.observeApply(0.003)
  const text = (await app.inject('/metrics')).body
  assert.match(text, /^hourglass_store_apply_seconds_count 2$/m)
  assert.match(text, /^hourglass_store_apply_seconds_bucket\{le="0.0025"\} 1$/m)
  assert.doesNotMatch(text, /^process_cpu_user_seconds_total /m)
})

test('each server has its own registry: many servers can be built in one process', async (t) => {
  const registry = new Registry()
  const a = buildServer({ service: new StubMetricsService(), registry })
  const b = buildServer({ service: new StubMetricsService() })
  t.after(() => Promise.all([a.close(), b.close()]))
  await a.inject('/healthz')
  assert.match(await registry.metrics(), /route="\/healthz"/)
  assert.doesNotMatch((await b.inject('/metrics')).body, /route="\/healthz"/)
})

test('without gold or speed data the gauges are NaN, not a misleading 0', async (t) => {
  const service = new StubMetricsService()
  service.status = async () => ({ batchVersion: null, batchAgeSeconds: null, watermarkLagSeconds: null })
  const app = buildServer({ service })
  t.after(() => app.close())
  const text = (await app.inject('/metrics')).body
  assert.match(text, /^hourglass_batch_version nan$/im)
  assert.match(text, /^hourglass_batch_age_seconds nan$/im)
})

test('the request log: nothing per request at info; at debug one line per request, its URL without the api_key value', async (t) => {
  const { Writable } = await import('node:stream')
  const lines = (): { stream: InstanceType<typeof Writable>, got: Array<Record<string, unknown>> } => {
    const got: Array<Record<string, unknown>> = []
    const stream = new Writable({ write (chunk, _enc, done) { got.push(JSON.parse(String(chunk)) as Record<string, unknown>); done() } })
    return { stream, got }
  }
  const info = lines()
  const a = buildServer({ service: new StubMetricsService(), logger: { level: 'info', stream: info.stream } })
  const debug = lines()
  const b = buildServer({ service: new StubMetricsService(), logger: { level: 'debug', stream: debug.stream } })
  t.after(() => Promise.all([a.close(), b.close()]))
  await a.inject('/v1/quality')
  await a.inject('/healthz')
  assert.deepEqual(info.got.filter((l) => l.msg !== 'Server listening at' && (l.level as number) < 40), [], 'no line per request at info')
  await b.inject('/v1/quality?api_key=secret-value-123')
  const requests = debug.got.filter((l) => l.msg === 'request')
  assert.equal(requests.length, 1, JSON.stringify(debug.got))
  assert.equal(requests[0]?.statusCode, 200)
  assert.equal(typeof requests[0]?.ms, 'number')
  assert.doesNotMatch(JSON.stringify(debug.got), /secret-value-123/)
  assert.match(JSON.stringify(requests[0]?.req), /\/v1\/quality/)
})
