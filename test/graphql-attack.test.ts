// Alias attacks on the real app (7 days of seeded synthetic history, gold built; over a real
// socket): many aliases of one 7-day query share one read and answer correctly, and the reported
// 190 of them are refused by the response budget, many grouped aliases by the cost, both before
// anything is read; many distinct queries are read in turn
// within the request's budgets. Throughout, the heap grows by less than HEAP_BOUND (DISTINCT_HEAP_BOUND
// for distinct queries, whose batch parts the merger caches), the event loop
// (measured with monitorEventLoopDelay) never stalls for more than LOOP_BOUND_MS, and /healthz
// answers while the attack runs.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { after, before, test, type TestContext } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { DAY_MS, HOUR_MS } from '../src/model/index.js'

/** most heap the process may grow by during one attack */
const HEAP_BOUND = 256 * 2 ** 20
/**
 * … during one of distinct queries (peak heap used, garbage included): besides the answer, the
 * merger's batch-part cache keeps each part read (up to its entry count, 1-2 MiB per 7-day part),
 * and each read leaves its gold rows to the collector
 */
const DISTINCT_HEAP_BOUND = 1024 * 2 ** 20
/**
 * longest event-loop stall during an attack. Generous: on a shared 2-core machine the loop delay
 * also counts the time the process waits for a core. In a quiet moment the stalls left are 100-200 ms
 * (a cold 7-day batch read; building and sending a 3 MB answer); before the budget, 100 grouped
 * aliases stalled the loop for 10 s and more, and 190 aliases of one query ran out of a 1.5 GB heap.
 */
const LOOP_BOUND_MS = 5000

const ROWS = '{ rows { window_start event_type total_events avg_latency total_revenue } }'
const aliases = (n: number, field: (i: number) => string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`

interface GqlBody { data: Record<string, { rows: unknown[] }> | null, errors?: Array<{ message: string, extensions?: { code?: string } }> }

let app: App
let base: string
let dataDir: string

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hg-attack-'))
  const config = loadConfig({}, { dataDir, seedDays: '7', syntheticRate: '1', source: 'synthetic', logLevel: 'silent', port: '0', host: '127.0.0.1' })
  app = await buildApp(config, { schedule: false })
  base = await app.server.listen({ port: 0, host: '127.0.0.1' })
})

after(async () => {
  await app?.close()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

interface Measured { status: number, body: GqlBody, ms: number, heapGrowth: number, maxLoopMs: number, healthz: number[] }

/** POSTs `query` while sampling the heap, the event loop's delay and /healthz's answers. */
async function attack (query: string): Promise<Measured> {
  globalThis.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  let heapPeak = heapBefore
  const sampler = setInterval(() => { heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed) }, 10)
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  let done = false
  const healthz: number[] = []
  const probe = (async () => {
    while (!done) {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(30_000) })
      await res.arrayBuffer()
      healthz.push(res.status)
    }
  })()
  const started = performance.now()
  try {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(120_000)
    })
    const body = await res.json() as GqlBody
    return { status: res.status, body, ms: performance.now() - started, heapGrowth: heapPeak - heapBefore, maxLoopMs: loop.max / 1e6, healthz }
  } finally {
    done = true
    await probe
    clearInterval(sampler)
    loop.disable()
  }
}

function assertHealthy (t: TestContext, m: Measured, what: string, heapBound = HEAP_BOUND): void {
  t.diagnostic(`${what}: status ${m.status} after ${Math.round(m.ms)} ms, heap +${Math.round(m.heapGrowth / 2 ** 20)} MiB, longest loop stall ${Math.round(m.maxLoopMs)} ms, ` +
    `${m.healthz.length} /healthz answers`)
  assert.ok(m.heapGrowth < heapBound, `${what}: the heap grew by ${Math.round(m.heapGrowth / 2 ** 20)} MiB`)
  assert.ok(m.maxLoopMs < LOOP_BOUND_MS, `${what}: the event loop stalled for ${Math.round(m.maxLoopMs)} ms`)
  assert.ok(m.healthz.length > 0 && m.healthz.every((s) => s === 200), `${what}: /healthz answered ${m.healthz.join(',')}`)
}

const sevenDaysAgo = () => new Date(Date.now() - 7 * DAY_MS + HOUR_MS).toISOString()

test('120 aliases of one 7-day query: one read, each alias the single query\'s answer, within the heap and loop bounds', async (t) => {
  const from = sevenDaysAgo()
  const misses = app.service.cache.misses
  const m = await attack(aliases(120, () => `metrics(from: "${from}") ${ROWS}`))
  assert.equal(m.status, 200, JSON.stringify(m.body.errors))
  assert.ok(app.service.cache.misses - misses <= 1, `one batch read for 120 aliases, not ${app.service.cache.misses - misses}`)
  assertHealthy(t, m, '120 aliases')

  const single = await fetch(`${base}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ a0: metrics(from: "${from}") ${ROWS} }` })
  })
  const expected = ((await single.json()) as GqlBody).data?.a0
  assert.ok(expected !== undefined && expected.rows.length > 100, 'the single query answers about 168 hourly rows')
  const answers = Object.values(m.body.data ?? {})
  assert.equal(answers.length, 120)
  for (const a of answers) assert.deepEqual(a, expected)
})

test('190 aliases of one 7-day query (the reported attack, about 4.4 MB of answer): 422 before anything is read', async (t) => {
  const misses = app.service.cache.misses
  const from = sevenDaysAgo()
  const m = await attack(aliases(190, () => `metrics(from: "${from}") ${ROWS}`))
  assert.equal(m.status, 422)
  assert.equal(m.body.errors?.[0]?.extensions?.code, 'HG_ERR_RESPONSE_TOO_LARGE')
  assert.equal(m.body.data, null)
  assert.equal(app.service.cache.misses, misses)
  assertHealthy(t, m, '190 aliases')
})

test('100 aliases grouped by event_type and region over 7 days: refused by the cost (400), nothing read', async (t) => {
  const misses = app.service.cache.misses
  const m = await attack(aliases(100, (i) => `metrics(from: "${sevenDaysAgo()}", to: "${new Date(Date.now() - i * 60_000).toISOString()}", ` +
    `groupBy: [event_type, region]) ${ROWS}`))
  assert.equal(m.status, 400)
  assert.equal(m.body.errors?.[0]?.extensions?.code, 'HG_ERR_GRAPHQL_TOO_COMPLEX')
  assert.match(m.body.errors?.[0]?.message ?? '', /buckets × groups/)
  assert.equal(app.service.cache.misses, misses)
  assertHealthy(t, m, '100 grouped aliases')
})

test('190 distinct 7-day queries: read in turn within the budgets, a full answer or a coded refusal, never more', async (t) => {
  const now = Date.now()
  const m = await attack(aliases(190, (i) => `metrics(from: "${new Date(now - 8 * DAY_MS + i * HOUR_MS).toISOString()}") ${ROWS}`))
  if (m.status === 200) {
    assert.equal(m.body.errors, undefined)
    assert.equal(Object.keys(m.body.data ?? {}).length, 190)
  } else {
    assert.ok([400, 422].includes(m.status), `status ${m.status}`)
    assert.equal(m.body.data, null)
    assert.ok(['HG_ERR_GRAPHQL_TOO_COMPLEX', 'HG_ERR_RESPONSE_TOO_LARGE'].includes(m.body.errors?.[0]?.extensions?.code ?? ''), JSON.stringify(m.body.errors?.[0]))
  }
  assertHealthy(t, m, '190 distinct queries', DISTINCT_HEAP_BOUND)
})
