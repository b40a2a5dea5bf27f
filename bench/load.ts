// `npm run load`: the k6 scenarios of load-tests/ (their definitions in load-tests/scenarios.js, the same ones the k6
// scripts run) fired here with autocannon, each scenario's p50/p95/p99, error rate and thresholds printed.
//
//   npm run load [-- --scenario dashboard,graphql,odata,spike --scale 0.25 --seed-days 7 --json]
//
// With BASE_URL (and API_KEY) in the environment it loads that deployment, else it starts `serve` as a child process
// on a temporary data folder seeded with --seed-days of synthetic history (its rate limit raised so the load is not
// refused by it). --scale shortens every stage (1: the k6 scripts' durations; default 0.25). Requests failed: a
// status ≥ 400 or no answer, as k6 counts http_req_failed. Exits 1 when a threshold fails, like k6.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { durationSeconds, headersFor, pick, type PagingScenario, type RateScenario, SCENARIOS, type Scenario } from '../load-tests/scenarios.js'
import { holds, type Measured, parseThreshold, percentile, statOf } from './load-thresholds.js'
import { ServiceChild } from './service-child.js'

const HELP = `npm run load [-- options]: the k6 scenarios of load-tests/ run here with autocannon
  --scenario LIST   comma-separated, of: ${Object.keys(SCENARIOS).join(', ')} (default all)
  --scale X         stage durations × X (default 0.25; 1 = the k6 scripts' own)
  --seed-days N     history seeded for the embedded service (default 7; ignored with BASE_URL)
  --json            print the results as JSON instead of a table
Environment: BASE_URL (a deployment to load; default: an embedded serve), API_KEY (sent as a Bearer token)`

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    scale: { type: 'string', default: '0.25' },
    'seed-days': { type: 'string', default: '7' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (args.help) {
  console.log(HELP)
  process.exit(0)
}
const names = args.scenario === undefined ? Object.keys(SCENARIOS) : args.scenario.split(',').map((s) => s.trim())
for (const n of names) if (SCENARIOS[n] === undefined) throw new Error(`--scenario: ${n} is not one of ${Object.keys(SCENARIOS).join(', ')}`)
const scale = Number(args.scale)
if (!(scale > 0)) throw new Error(`--scale: a number > 0, not ${args.scale}`)
const seedDays = Number(args['seed-days'])
if (!Number.isInteger(seedDays) || seedDays < 1) throw new Error(`--seed-days: a whole number ≥ 1, not ${args['seed-days']}`)
const apiKey = process.env.API_KEY

/** what one scenario measured, by k6 metric name */
interface Samples { durations: number[], failed: number, total: number, iterations: number[] }

const progress = (line: string): void => { process.stderr.write(`load: ${line}\n`) }

/** One stage of a rate scenario: autocannon at `rate` requests/s for `seconds`, every response timed. */
function runStage (base: string, s: RateScenario, rate: number, seconds: number, into: Samples): Promise<void> {
  const now = Date.now()
  // the weighted mix as a list each connection walks through (40 slots: weights in proportion)
  const requests = Array.from({ length: 40 }, (_, i) => pick(s.requests, (i + 0.5) / 40)).map((r) => ({
    method: r.method, path: r.path(now), headers: headersFor(apiKey, r.method), ...(r.body === undefined ? {} : { body: r.body(now) })
  }))
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: base, requests, overallRate: Math.max(1, Math.round(rate)), connections: Math.min(s.vus, Math.max(1, Math.round(rate))), duration: seconds, workers: 0, timeout: 10
    }, (err) => { if (err !== null) reject(err); else resolve() })
    instance.on('response', (_client, status, _bytes, ms) => {
      into.total++
      into.durations.push(ms)
      if (status >= 400) into.failed++
    })
    instance.on('reqError', () => { into.total++; into.failed++ })
  })
}

async function runRate (base: string, s: RateScenario): Promise<Samples> {
  const out: Samples = { durations: [], failed: 0, total: 0, iterations: [] }
  for (const st of s.stages) {
    const seconds = Math.max(1, Math.round(durationSeconds(st.duration) * scale))
    progress(`  ${st.target} requests/s for ${seconds} s`)
    await runStage(base, s, st.target, seconds, out)
  }
  return out
}

/** One refresh: the first page, then every @odata.nextLink, each request timed. */
async function refresh (base: string, s: PagingScenario, into: Samples): Promise<void> {
  const started = performance.now()
  let url: string | undefined = base + s.first(Date.now())
  const headers = { ...headersFor(apiKey, 'GET'), prefer: `odata.maxpagesize=${s.pageSize}` }
  for (let pages = 0; url !== undefined && pages < 1000; pages++) {
    const t = performance.now()
    into.total++
    try {
      const res: Response = await fetch(url, { headers })
      const body = await res.text()
      into.durations.push(performance.now() - t)
      if (res.status >= 400) { into.failed++; return }
      const next: unknown = (JSON.parse(body) as Record<string, unknown>)['@odata.nextLink']
      url = typeof next === 'string' ? next : undefined
    } catch {
      into.failed++
      return
    }
  }
  into.iterations.push(performance.now() - started)
}

async function runPaging (base: string, s: PagingScenario): Promise<Samples> {
  const out: Samples = { durations: [], failed: 0, total: 0, iterations: [] }
  let left = s.iterations
  progress(`  ${s.iterations} refreshes on ${s.vus} users`)
  await Promise.all(Array.from({ length: s.vus }, async () => {
    while (left > 0) {
      left--
      await refresh(base, s, out)
    }
  }))
  return out
}

interface Verdict { metric: string, threshold: string, value: number, ok: boolean }

function verdicts (name: string, s: Scenario, m: Samples): Verdict[] {
  const byMetric: Record<string, Measured> = {
    [`http_req_duration{scenario:${name}}`]: { kind: 'trend', sorted: [...m.durations].sort((a, b) => a - b) },
    [`http_req_failed{scenario:${name}}`]: { kind: 'rate', hits: m.failed, total: m.total },
    [`iteration_duration{scenario:${name}}`]: { kind: 'trend', sorted: [...m.iterations].sort((a, b) => a - b) }
  }
  return Object.entries(s.thresholds).flatMap(([metric, exprs]) => exprs.map((e) => {
    const measured = byMetric[metric]
    if (measured === undefined) throw new Error(`${name}: no measurement for threshold metric ${metric}`)
    const t = parseThreshold(e)
    const value = statOf(t, measured)
    return { metric, threshold: e, value: Math.round(value * 1e4) / 1e4, ok: holds(t, value) }
  }))
}

let service: ServiceChild | null = null
let dataDir: string | null = null
let base = process.env.BASE_URL?.replace(/\/$/, '')
const results: Record<string, { description: string, requests: number, failed_rate: number, p50_ms: number, p95_ms: number, p99_ms: number, thresholds: Verdict[] }> = {}
try {
  if (base === undefined) {
    dataDir = await mkdtemp(join(tmpdir(), 'hourglass-load-'))
    progress(`starting serve on ${dataDir} (${seedDays} days of history)`)
    service = await ServiceChild.start({
      HOURGLASS_DATA_DIR: dataDir, HOURGLASS_SEED_DAYS: String(seedDays), HOURGLASS_SOURCE: 'synthetic', HOURGLASS_LOG_LEVEL: 'warn',
      HOURGLASS_RATE_LIMIT_MAX: '1000000000'
    }, 300_000, { cpuProfile: false })
    base = service.url
  }
  for (const name of names) {
    const s = SCENARIOS[name] as Scenario
    progress(`${name}: ${s.description}`)
    const m = s.kind === 'rate' ? await runRate(base, s) : await runPaging(base, s)
    const sorted = [...m.durations].sort((a, b) => a - b)
    const round = (x: number): number => Math.round(x * 10) / 10
    results[name] = {
      description: s.description,
      requests: m.total,
      failed_rate: m.total === 0 ? 0 : Math.round((m.failed / m.total) * 1e5) / 1e5,
      p50_ms: round(percentile(sorted, 50)),
      p95_ms: round(percentile(sorted, 95)),
      p99_ms: round(percentile(sorted, 99)),
      thresholds: verdicts(name, s, m)
    }
  }
} finally {
  await service?.stop()
  if (dataDir !== null) await rm(dataDir, { recursive: true, force: true })
}

const failed = Object.values(results).flatMap((r) => r.thresholds.filter((t) => !t.ok))
if (args.json) {
  console.log(JSON.stringify({ target: process.env.BASE_URL ?? 'embedded serve', scale, scenarios: results }, null, 2))
} else {
  console.log(`target ${process.env.BASE_URL ?? 'embedded serve'}, stage durations × ${scale}`)
  console.log('scenario    requests  failed    p50 ms   p95 ms   p99 ms  thresholds')
  for (const [name, r] of Object.entries(results)) {
    const th = r.thresholds.map((t) => `${t.ok ? 'ok' : 'FAIL'} ${t.metric.replace(/\{.*\}/, '')} ${t.threshold} (${t.value})`).join('; ')
    console.log(`${name.padEnd(10)} ${String(r.requests).padStart(9)}  ${String(r.failed_rate).padEnd(8)} ${String(r.p50_ms).padStart(7)}  ${String(r.p95_ms).padStart(7)}  ` +
      `${String(r.p99_ms).padStart(7)}  ${th}`)
  }
}
if (failed.length > 0) {
  progress(`${failed.length} threshold(s) failed`)
  process.exitCode = 1
}
