// The anomaly detector on synthetic traffic with injected anomalies: precision, recall per injected kind, and false
// alarms per group per day, at the configured defaults and at a few other sensitivities. Prints a table and JSON;
// asserts nothing. Goal: recall ≥ 0.9 at ≤ 1 false alarm per group per day.
//
//   npm run bench:anomaly [-- --days 7 --test-days 3 --seed 1]
//
// `days` days of normal traffic (the baseline's days) come first, then `test-days` days with anomalies injected;
// each test minute is judged as the service judges a closed minute: its baseline from the hourly rollup of the
// `days` whole days before its day (as gold holds them), its history the `historyMinutes` minutes before it.
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import {
  type Anomaly, DAY_MS, detectAnomalies, type DetectorSettings, emptyPartials, groupSeries, HOUR_MS, hourlyBaseline, mergePartials,
  type PartialRow
} from '../src/model/index.js'
import { generateTraffic, type GroupSpec, type Injection, INJECTION_KINDS, type InjectionKind, planInjections } from './anomaly-traffic.js'

const { values: args } = parseArgs({
  options: {
    days: { type: 'string', default: '7' },
    'test-days': { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' }
  }
})
const baselineDays = Number(args.days)
const testDays = Number(args['test-days'])
const seed = Number(args.seed)

const ALL: readonly InjectionKind[] = INJECTION_KINDS
const NO_REVENUE: readonly InjectionKind[] = ['drop_to_zero', 'spike', 'p95_shift']
const GROUPS: GroupSpec[] = [
  { event_type: 'checkout', region: 'eu', rate: 150, revenueShare: 0.8, revenueMean: 40, responseMedian: 180, peakHour: 19, inject: ALL },
  { event_type: 'checkout', region: 'us', rate: 200, revenueShare: 0.8, revenueMean: 35, responseMedian: 200, peakHour: 1, inject: ALL },
  { event_type: 'page_view', region: 'eu', rate: 900, revenueShare: 0.02, revenueMean: 5, responseMedian: 80, peakHour: 20, inject: NO_REVENUE },
  { event_type: 'page_view', region: 'us', rate: 1200, revenueShare: 0.02, revenueMean: 5, responseMedian: 90, peakHour: 2, inject: NO_REVENUE },
  { event_type: 'search', region: 'eu', rate: 40, revenueShare: 0.05, revenueMean: 10, responseMedian: 120, peakHour: 14, inject: NO_REVENUE },
  // below the minimum volume: it must never alert
  { event_type: 'signup', region: 'apac', rate: 0.5, revenueShare: 0, revenueMean: 0, responseMedian: 300, peakHour: 8, inject: [] }
]
/** the metric an injected kind must be found on */
const TARGET: Record<InjectionKind, Anomaly['metric']> = {
  drop_to_zero: 'total_events', spike: 'total_events', p95_shift: 'p95_response', revenue_dip: 'total_revenue'
}
/** minutes after an injection's end in which an alarm of its group is still its consequence (the return) */
const TAIL_MS = 5 * 60_000

const config = loadConfig({})
const defaults: DetectorSettings = {
  sensitivity: config.anomalySensitivity, minVolume: config.anomalyMinVolume, historyMinutes: config.anomalyHistoryMinutes
}

const start = Date.UTC(2026, 0, 5)
const testFrom = start + baselineDays * DAY_MS
const injections = planInjections(GROUPS, testFrom, testDays, seed + 1)
const t0 = performance.now()
const minutes = generateTraffic(GROUPS, start, baselineDays + testDays, injections, seed)
const hourly = rollUpHours(minutes)
const generatedMs = performance.now() - t0

function rollUpHours (rows: readonly PartialRow[]): PartialRow[] {
  const out = new Map<string, PartialRow>()
  for (const r of rows) {
    const hour = Math.floor(r.window_start / HOUR_MS) * HOUR_MS
    const key = `${hour}|${r.event_type}|${r.region}`
    let h = out.get(key)
    if (h === undefined) { h = { window_start: hour, event_type: r.event_type, region: r.region, partials: emptyPartials() }; out.set(key, h) }
    mergePartials(h.partials, r.partials)
  }
  return [...out.values()]
}

function detect (settings: DetectorSettings): Anomaly[] {
  const found: Anomaly[] = []
  for (let d = 0; d < testDays; d++) {
    const dayStart = testFrom + d * DAY_MS
    const baseline = hourlyBaseline(hourly.filter((r) => r.window_start >= dayStart - baselineDays * DAY_MS && r.window_start < dayStart),
      dayStart - baselineDays * DAY_MS, dayStart)
    const historyFrom = dayStart - settings.historyMinutes * 60_000
    const speed = minutes.filter((r) => r.window_start >= historyFrom && r.window_start < dayStart + DAY_MS)
    found.push(...detectAnomalies(groupSeries(speed, baseline), dayStart, dayStart + DAY_MS, historyFrom, settings))
  }
  return found
}

const explains = (i: Injection, a: Anomaly): boolean =>
  a.window_start >= i.from && a.window_start < i.to + TAIL_MS &&
  ((a.event_type === i.event_type && a.region === i.region) || (a.event_type === null && a.region === null))

interface Score {
  sensitivity: number
  alarms: number
  episodes: number
  false_episodes: number
  precision: number
  recall: Record<string, number>
  recall_all: number
  false_alarms_per_group_day: number
  worst_group_false_alarms_per_day: number
  false_by_group: Record<string, number>
  false_by_metric: Record<string, number>
}

/** alarms of one group and metric in consecutive minutes are one episode, as a pager would show them */
function episodes (found: readonly Anomaly[]): Anomaly[][] {
  const open = new Map<string, Anomaly[]>()
  const out: Anomaly[][] = []
  for (const a of [...found].sort((x, y) => x.window_start - y.window_start)) {
    const key = `${a.event_type}|${a.region}|${a.metric}`
    const current = open.get(key)
    const last = current?.[current.length - 1]
    if (current !== undefined && last !== undefined && a.window_start - last.window_start <= 60_000) current.push(a)
    else { const e = [a]; open.set(key, e); out.push(e) }
  }
  return out
}

function score (settings: DetectorSettings): Score {
  const found = detect(settings)
  const eps = episodes(found)
  const falseEps = eps.filter((e) => !injections.some((i) => e.some((a) => explains(i, a))))
  const groups = GROUPS.length + 1 // and the overall group
  const falseByGroup: Record<string, number> = {}
  for (const g of [...GROUPS.map((g) => `${g.event_type}/${g.region}`), 'overall']) falseByGroup[g] = 0
  for (const e of falseEps) {
    const a = e[0] as Anomaly
    const g = a.event_type === null ? 'overall' : `${a.event_type}/${a.region}`
    falseByGroup[g] = (falseByGroup[g] ?? 0) + 1
  }
  const recall: Record<string, number> = {}
  let hit = 0
  for (const kind of INJECTION_KINDS) {
    const of = injections.filter((i) => i.kind === kind)
    const detected = of.filter((i) => found.some((a) =>
      a.metric === TARGET[kind] && a.event_type === i.event_type && a.region === i.region && a.window_start >= i.from && a.window_start < i.to))
    recall[kind] = round(detected.length / Math.max(1, of.length))
    hit += detected.length
  }
  return {
    sensitivity: settings.sensitivity,
    alarms: found.length,
    episodes: eps.length,
    false_episodes: falseEps.length,
    precision: round((eps.length - falseEps.length) / Math.max(1, eps.length)),
    recall,
    recall_all: round(hit / Math.max(1, injections.length)),
    false_alarms_per_group_day: round(falseEps.length / (groups * testDays)),
    worst_group_false_alarms_per_day: round(Math.max(...Object.values(falseByGroup)) / testDays),
    false_by_metric: Object.fromEntries(['total_events', 'p95_response', 'total_revenue'].map((m) =>
      [m, round(falseEps.filter((e) => e[0]?.metric === m).length / (groups * testDays))])),
    false_by_group: Object.fromEntries(Object.entries(falseByGroup).map(([g, n]) => [g, round(n / testDays)]))
  }
}

function round (x: number): number {
  return Math.round(x * 1000) / 1000
}

const t1 = performance.now()
const main = score(defaults)
const detectMs = performance.now() - t1
const sweep = [4, 5, 6, 7, 8].filter((s) => s !== defaults.sensitivity).map((s) => score({ ...defaults, sensitivity: s }))

console.log(`anomaly bench: ${GROUPS.length} groups + overall, ${baselineDays} baseline days, ${testDays} test days, ` +
  `${injections.length} injections (seed ${seed}); traffic ${Math.round(generatedMs)} ms, detection ${Math.round(detectMs)} ms`)
console.log('sensitivity  recall  drop_to_zero  spike  p95_shift  revenue_dip  precision  false/group/day  worst group/day')
for (const s of [main, ...sweep].sort((a, b) => a.sensitivity - b.sensitivity)) {
  console.log([
    String(s.sensitivity).padEnd(11), String(s.recall_all).padEnd(6), String(s.recall.drop_to_zero).padEnd(12),
    String(s.recall.spike).padEnd(5), String(s.recall.p95_shift).padEnd(9), String(s.recall.revenue_dip).padEnd(11),
    String(s.precision).padEnd(9), String(s.false_alarms_per_group_day).padEnd(15), String(s.worst_group_false_alarms_per_day),
    s === main ? '  ← defaults' : ''
  ].join('  '))
}
console.log(JSON.stringify({ defaults, ...main, goal_met: main.recall_all >= 0.9 && main.worst_group_false_alarms_per_day <= 1 }))
