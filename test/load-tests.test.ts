// The k6 load tests (load-tests/): the scripts type-check against @types/k6 (k6 itself is not installable here),
// a script that misuses k6's API fails that check, and the thresholds `npm run load` evaluates read as k6 reads them.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { holds, parseThreshold, percentile, statOf } from '../bench/load-thresholds.js'
import { durationSeconds, pick, SCENARIOS } from '../load-tests/scenarios.js'

const dir = fileURLToPath(new URL('../load-tests/', import.meta.url))
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url))

function typecheck (project: string): { status: number | null, out: string } {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' })
  return { status: r.status, out: r.stdout + r.stderr }
}

test('the k6 scripts type-check against @types/k6, and a misuse of the k6 API fails the check', () => {
  const scripts = readdirSync(dir).filter((f) => f.endsWith('.js'))
  assert.ok(['dashboard.js', 'graphql.js', 'odata-refresh.js', 'spike.js'].every((s) => scripts.includes(s)), scripts.join(', '))
  const ok = typecheck(join(dir, 'tsconfig.json'))
  assert.equal(ok.status, 0, ok.out)
  const copy = mkdtempSync(join(tmpdir(), 'hourglass-k6-'))
  try {
    cpSync(dir, copy, { recursive: true })
    // tsconfig's "types": ["k6"] resolves from the copy's node_modules: link the project's
    cpSync(fileURLToPath(new URL('../node_modules/@types/k6', import.meta.url)), join(copy, 'node_modules/@types/k6'), { recursive: true })
    writeFileSync(join(copy, 'broken.js'), "// @ts-check\nimport http from 'k6/http'\nexport default function () { http.get(42, { tags: 'x' }) }\n")
    const bad = typecheck(join(copy, 'tsconfig.json'))
    assert.notEqual(bad.status, 0)
    assert.match(bad.out, /broken\.js/)
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
})

test('every scenario has thresholds k6 and `npm run load` both read, and a duration', () => {
  for (const [name, s] of Object.entries(SCENARIOS)) {
    const keys = Object.keys(s.thresholds)
    assert.ok(keys.length > 0, name)
    for (const [metric, exprs] of Object.entries(s.thresholds)) {
      assert.match(metric, new RegExp(`^(http_req_duration|http_req_failed|iteration_duration)\\{scenario:${name}\\}$`))
      for (const e of exprs) parseThreshold(e)
    }
    if (s.kind === 'rate') assert.ok(s.stages.reduce((n, st) => n + durationSeconds(st.duration), 0) > 0, name)
  }
})

test('thresholds: parsed as k6 writes them, percentiles by nearest rank, NaN never holds', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
  assert.equal(percentile(sorted, 99), 99)
  assert.equal(percentile(sorted, 95), 95)
  assert.equal(percentile([7], 50), 7)
  const p99 = parseThreshold('p(99)<250')
  assert.deepEqual(p99, { text: 'p(99)<250', stat: 'p(99)', op: '<', value: 250 })
  assert.equal(holds(p99, statOf(p99, { kind: 'trend', sorted })), true)
  assert.equal(holds(p99, statOf(p99, { kind: 'trend', sorted: [...sorted.slice(0, 98), 300, 400] })), false)
  const rate = parseThreshold('rate<0.001')
  assert.equal(holds(rate, statOf(rate, { kind: 'rate', hits: 0, total: 5000 })), true)
  assert.equal(holds(rate, statOf(rate, { kind: 'rate', hits: 5, total: 1000 })), false)
  assert.equal(holds(p99, statOf(p99, { kind: 'trend', sorted: [] })), false, 'nothing measured is not a pass')
  assert.throws(() => parseThreshold('p99 < 250'), /expected e\.g\./)
  assert.throws(() => statOf(rate, { kind: 'trend', sorted }), /reads a rate/)
})

test('the weighted mix picks each request in proportion to its weight', () => {
  const s = SCENARIOS.dashboard
  assert.ok(s?.kind === 'rate')
  const counts = new Map<string, number>()
  for (let i = 0; i < 1000; i++) {
    const r = pick(s.requests, i / 1000)
    counts.set(r.name, (counts.get(r.name) ?? 0) + 1)
  }
  const total = s.requests.reduce((n, r) => n + r.weight, 0)
  for (const r of s.requests) assert.equal(counts.get(r.name), 1000 * r.weight / total, r.name)
})

test('npm run load fires every scenario at a real serve over a socket: each makes requests and none fails', async () => {
  // thresholds are timing targets and are not asserted here (a shared machine): only that every scenario ran
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../bench/load.ts', import.meta.url)), '--scale', '0.03', '--seed-days', '1', '--json'], {
    encoding: 'utf8', env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'BASE_URL' && k !== 'API_KEY')), timeout: 600_000
  })
  assert.ok(r.status === 0 || r.status === 1, `exit ${r.status}: ${r.stderr.slice(-2000)}`)
  const out = JSON.parse(r.stdout) as { scenarios: Record<string, { requests: number, failed_rate: number, p99_ms: number, thresholds: Array<{ ok: boolean }> }> }
  assert.deepEqual(Object.keys(out.scenarios).sort(), Object.keys(SCENARIOS).sort())
  for (const [name, s] of Object.entries(out.scenarios)) {
    assert.ok(s.requests > 0, `${name} made no request`)
    assert.equal(s.failed_rate, 0, `${name}: requests failed`)
    assert.ok(Number.isFinite(s.p99_ms) && s.thresholds.length > 0, name)
  }
  // the exit code says whether every threshold held
  assert.equal(r.status, Object.values(out.scenarios).every((s) => s.thresholds.every((t) => t.ok)) ? 0 : 1)
})
