// The longest event-loop stall of one request (the longest gap between the ticks of a 1 ms interval timer while it
// runs), for the heaviest requests the limits let through: a cold 7-day REST query grouped by event type and region
// (2 MB), the same warm, 100 GraphQL aliases of 7 days hourly (2.6 MB, distinct query texts so each is parsed,
// validated and run uncompiled), and a refused 120-alias GraphQL query. The baseline, measured in the same run: the
// longest gap of the idle service over 2 s. Prints JSON; asserts nothing.
//
//   npm run bench:stall [-- --days 7 --data DIR]
//
// The app is built on a data folder seeded with --days of synthetic history at 1 event/s (a temporary one unless
// --data names a folder to keep and reuse; the first run seeds it, about a minute for 7 days). On a loaded machine
// other processes preempt this one and every figure grows: run it with `chrt -f 50` (root) for the service's own.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { DAY_MS, iso } from '../src/model/index.js'

const { values: args } = parseArgs({ options: { days: { type: 'string', default: '7' }, data: { type: 'string' } } })
const days = Number(args.days)
if (!Number.isInteger(days) || days < 1) throw new Error(`--days: a whole number of days ≥ 1, not ${args.days}`)
const dataDir = args.data ?? await mkdtemp(join(tmpdir(), 'hg-bench-stall-'))

/** The longest gap between ticks of a 1 ms interval while `fn` runs (ms), and fn's result. */
async function longestGap<T> (fn: () => Promise<T>): Promise<{ gapMs: number, value: T }> {
  let last = performance.now(); let max = 0
  const timer = setInterval(() => { const t = performance.now(); max = Math.max(max, t - last); last = t }, 1)
  try {
    const value = await fn()
    max = Math.max(max, performance.now() - last)
    return { gapMs: Math.round(max * 10) / 10, value }
  } finally {
    clearInterval(timer)
  }
}

process.stderr.write(`bench:stall: building the app on ${dataDir} (${days} days of history)\n`)
const config = loadConfig({}, {
  dataDir, seedDays: String(days), syntheticRate: '1', source: 'synthetic', logLevel: 'silent', port: '0', host: '127.0.0.1', rateLimitMax: '1000000000'
})
const app = await buildApp(config, { schedule: false })
try {
  await app.server.ready()
  await app.startSource()
  const idle = await longestGap(() => new Promise((resolve) => setTimeout(resolve, 2000)))
  const from = iso(Date.now() - days * DAY_MS)
  const rest = `/v1/metrics?from=${from}&granularity=hour&group_by=event_type,region`
  const aliases = (n: number, k: number, groupBy: string): string => '{ ' + Array.from({ length: n }, (_, i) =>
    `a${i}: metrics(from: "${iso(Date.parse(from) + k * 1000)}", granularity: hour${groupBy}) { rows { window_start total_events avg_latency total_revenue p95_response } }`
  ).join('\n') + ' }'
  const requests: Array<[string, () => Promise<{ statusCode: number, body: string }>]> = [
    ['rest_cold', () => app.server.inject({ method: 'GET', url: rest })],
    ['rest_warm', () => app.server.inject({ method: 'GET', url: rest })],
    ['graphql_refused_120_aliases', () => app.server.inject({ method: 'POST', url: '/graphql', payload: { query: aliases(120, 0, ', groupBy: [event_type, region]') } })],
    ...[1, 2, 3].map((k): [string, () => Promise<{ statusCode: number, body: string }>] =>
      [`graphql_100_aliases_${k}`, () => app.server.inject({ method: 'POST', url: '/graphql', payload: { query: aliases(100, k, '') } })])
  ]
  const out: Record<string, { status: number, bytes: number, ms: number, longest_stall_ms: number }> = {}
  for (const [name, run] of requests) {
    const t0 = performance.now()
    const { gapMs, value } = await longestGap(run)
    out[name] = { status: value.statusCode, bytes: value.body.length, ms: Math.round(performance.now() - t0), longest_stall_ms: gapMs }
    process.stderr.write(`bench:stall: ${name} ${value.statusCode}, ${value.body.length} bytes, longest stall ${gapMs} ms\n`)
  }
  console.log(JSON.stringify({ days, idle_longest_gap_ms: idle.gapMs, requests: out }, null, 2))
} finally {
  await app.close()
  if (args.data === undefined) await rm(dataDir, { recursive: true, force: true })
}
