// Overload (@fastify/under-pressure): while the event loop lags, a request is answered at once with
// 503 HG_ERR_OVERLOADED and Retry-After in its API's error shape (REST, GraphQL, OData), /healthz
// /readyz and /metrics still answer, and once the lag is gone everything answers again. Over a real socket.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildServer } from '../src/api/server.js'
import { loadConfig } from '../src/config.js'
import { StubMetricsService } from './helpers/stub-service.js'
import { until } from './helpers/wait.js'

/** Keeps the event loop blocked `busyMs` out of every `everyMs`, until stopped. */
function lagLoop (busyMs: number, everyMs: number): () => void {
  const timer = setInterval(() => {
    const end = Date.now() + busyMs
    while (Date.now() < end) { /* busy: this is the lag */ }
  }, everyMs)
  return () => { clearInterval(timer) }
}

test('settings: the event-loop delay and heap share that make the service refuse work', () => {
  const config = loadConfig({ HOURGLASS_MAX_EVENT_LOOP_DELAY: '250ms', HOURGLASS_MAX_HEAP_SHARE: '0.8' })
  assert.equal(config.maxEventLoopDelayMs, 250)
  assert.equal(config.maxHeapShare, 0.8)
  assert.equal(loadConfig({ HOURGLASS_MAX_EVENT_LOOP_DELAY: '0' }).maxEventLoopDelayMs, 0)
  assert.throws(() => loadConfig({ HOURGLASS_MAX_EVENT_LOOP_DELAY: '5ms' }), /HOURGLASS_MAX_EVENT_LOOP_DELAY.*at least 10ms/)
})

test('a lagging event loop: 503 HG_ERR_OVERLOADED with Retry-After on every API, probes and /metrics answer; then all answer again', async (t) => {
  const service = new StubMetricsService()
  const app = buildServer({ service, pressure: { maxEventLoopDelayMs: 40, maxHeapShare: 0, sampleIntervalMs: 100 } })
  t.after(() => app.close())
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const get = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(30_000) })
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as Record<string, unknown> }
  }

  // the start itself (loading, compiling) may lag the loop for a moment
  await until('answers once the start is over', async () => (await get('/v1/dimensions')).status === 200)
  /** the answer of `path` once it is 503 (the lag is sampled: a request may fall between two samples) */
  const refused = async (path: string, init: RequestInit = {}) => {
    let res = await get(path, init)
    await until(`a 503 from ${path} while the loop lags`, async () => {
      res = await get(path, init)
      return res.status === 503
    })
    return res
  }
  const stop = lagLoop(300, 305)
  try {
    const rest = await refused('/v1/dimensions')
    assert.equal(rest.body.code, 'HG_ERR_OVERLOADED')
    assert.equal(rest.body.statusCode, 503)
    assert.match(String(rest.body.message), /event-loop delay (\d+ ms|the whole sample interval)/)
    assert.ok(Number(rest.retryAfter) > 0, `Retry-After: ${rest.retryAfter}`)

    const graphql = await refused('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ quality { received } }"}' })
    assert.equal((graphql.body.errors as Array<{ extensions: { code: string } }>)[0]?.extensions.code, 'HG_ERR_OVERLOADED')
    assert.ok(Number(graphql.retryAfter) > 0)

    const odata = await refused('/odata/HourlyMetrics')
    assert.equal((odata.body.error as { code: string }).code, 'HG_ERR_OVERLOADED')

    // the probes and the scrape answer for themselves, lagging or not
    for (let i = 0; i < 5; i++) {
      assert.equal((await get('/healthz')).status, 200, 'liveness is never refused')
      const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(30_000) })
      assert.notEqual((await ready.json() as { code?: string }).code, 'HG_ERR_OVERLOADED', 'readiness answers for itself')
      const scrape = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) })
      await scrape.text()
      assert.equal(scrape.status, 200, 'the Prometheus scrape is never refused')
    }
  } finally {
    stop()
  }
  await until('answers again once the lag is gone', async () => (await get('/v1/dimensions')).status === 200)
})
