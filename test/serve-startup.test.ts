// `hourglass serve` listens before it builds anything: while it seeds history and builds gold,
// /healthz answers 200, /readyz 503 with the stage, and every data route 503 HG_ERR_NOT_READY with
// Retry-After in its API's error shape; a port in use fails at once, before seeding; a SIGTERM
// during start-up stops it cleanly. The CLI as a child process on a real socket.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { ServeProcess } from './helpers/serve-process.js'
import { until } from './helpers/wait.js'

/** A fresh data folder, removed after the test. */
function dataDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-startup-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `serve` on a fresh folder with `days` of synthetic history to seed first. */
function serve (t: TestContext, dir: string, env: Record<string, string>, days = 3): ServeProcess {
  const base: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
  const p = new ServeProcess('serve', ['serve'], { ...base, HOURGLASS_DATA_DIR: dir, HOURGLASS_SEED_DAYS: String(days), HOURGLASS_LOG_LEVEL: 'warn', ...env })
  t.after(async () => { if (p.alive) await p.terminate(60_000) })
  return p
}

/** The address `serve` printed once it listened. */
async function listening (p: ServeProcess, ms = 60_000): Promise<string> {
  const pattern = /listening on (https?:\/\/[^\s;]+)/
  await until(() => `${p.name} to listen; output:\n${p.output}`, () => pattern.test(p.output) || !p.alive, ms)
  const m = pattern.exec(p.output)
  assert.ok(m !== null, `${p.name} exited before it listened:\n${p.output}`)
  return m[1] as string
}

interface Answer { status: number, retryAfter: string | null, body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call (base: string, path: string, init?: RequestInit): Promise<Answer> {
  const r = await fetch(base + path, init)
  const text = await r.text()
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: text === '' ? null : JSON.parse(text) }
}

test('serve listens at once: while it seeds, /healthz is 200, /readyz 503 with the stage, data routes 503 HG_ERR_NOT_READY; then it serves', { timeout: 400_000 }, async (t) => {
  const p = serve(t, dataDir(t), { HOURGLASS_PORT: '0' })
  const base = await listening(p)
  const seedAt = p.output.indexOf('seed: ')
  assert.ok(seedAt === -1 || seedAt > p.output.indexOf('listening on'), 'it listened before seeding began: ' + p.output)

  const health = await call(base, '/healthz')
  assert.equal(health.status, 200)
  const ready = await call(base, '/readyz')
  assert.equal(ready.status, 503)
  assert.equal(ready.body.code, 'HG_ERR_NOT_READY')
  assert.match(ready.body.message, /starting: /)
  assert.equal(ready.retryAfter, '5')

  const from = new Date(Date.now() - 24 * 3_600_000).toISOString()
  const rest = await call(base, `/v1/metrics?from=${from}`)
  assert.equal(rest.status, 503)
  assert.deepEqual([rest.body.code, rest.body.statusCode], ['HG_ERR_NOT_READY', 503])
  assert.match(rest.body.message, /starting: /)
  assert.equal(rest.retryAfter, '5')
  for (const path of ['/v1/quality', '/v1/dimensions', '/v1/dead-letters', '/v1/reconciliation', '/v1/metrics/live?last=5m', `/v1/anomalies?from=${from}`]) {
    const r = await call(base, path)
    assert.deepEqual([r.status, r.body.code, r.retryAfter], [503, 'HG_ERR_NOT_READY', '5'], path)
  }
  const odata = await call(base, '/odata/HourlyMetrics')
  assert.equal(odata.status, 503)
  assert.equal(odata.body.error.code, 'HG_ERR_NOT_READY', JSON.stringify(odata.body))
  assert.equal(odata.retryAfter, '5')
  const graphql = await call(base, '/graphql', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ metrics(from: "${from}") { rows { total_events } } }` })
  })
  assert.equal(graphql.status, 503, JSON.stringify(graphql.body))
  assert.equal(graphql.body.errors[0].extensions.code, 'HG_ERR_NOT_READY')
  const metrics = await fetch(base + '/metrics')
  assert.equal(metrics.status, 200)
  assert.match(await metrics.text(), /^hourglass_ready 0$/m)

  // every stage /readyz names until it is ready; the process stays up all along
  const stages = new Set<string>()
  await until(() => `/readyz to answer 200; stages seen: ${[...stages].join(' | ')}; output:\n${p.output}`, async () => {
    assert.ok(p.alive, `serve exited during start-up:\n${p.output}`)
    const r = await call(base, '/readyz')
    if (r.status === 503) stages.add(String(r.body.message))
    return r.status === 200
  }, 300_000)
  assert.ok([...stages].some((s) => s.includes('starting: seeding history')), [...stages].join(' | '))
  assert.ok(p.output.includes('Hourglass is serving on ' + base), p.output)
  // the start banner names the pages and the OData feed, and each answers
  for (const path of ['/dashboard', '/graphiql', '/odata/']) {
    assert.ok(p.output.includes(base + path), `the banner lists ${path}`)
    assert.equal((await fetch(base + path)).status, 200, path)
  }
  const served = await call(base, `/v1/metrics?from=${from}&granularity=day`)
  assert.equal(served.status, 200)
  assert.ok(served.body.rows.length > 0)
  assert.match(await (await fetch(base + '/metrics')).text(), /^hourglass_ready 1$/m)
  assert.deepEqual(await p.terminate(60_000), { code: 0, signal: null })
})

test('a port already in use stops serve at once, before seeding, with exit 1 and a message naming the port and the setting', { timeout: 120_000 }, async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const port = (blocker.address() as net.AddressInfo).port
  const dir = dataDir(t)
  const p = serve(t, dir, { HOURGLASS_PORT: String(port) }, 7)
  const exit = await p.exited
  assert.deepEqual(exit, { code: 1, signal: null }, p.output)
  assert.match(p.output, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use.*HOURGLASS_PORT`))
  assert.ok(!p.output.includes('seed: '), 'nothing was seeded: ' + p.output)
  assert.equal(existsSync(join(dir, 'bronze')), false, 'no bronze was written')
  // from its start to its exit: the time to load the CLI and fail the listen, not a seeding's
  assert.ok(Date.now() - p.startedAt < 60_000, `exited ${Date.now() - p.startedAt} ms after it started`)
})

test('SIGTERM during start-up stops serve cleanly (exit 0) at the end of the stage under way; it never serves', { timeout: 300_000 }, async (t) => {
  const p = serve(t, dataDir(t), { HOURGLASS_PORT: '0' })
  const base = await listening(p)
  assert.equal((await call(base, '/readyz')).status, 503)
  assert.deepEqual(await p.terminate(240_000), { code: 0, signal: null }, p.output)
  assert.ok(!p.output.includes('Hourglass is serving'), p.output)
})
