// Synthetic per-minute traffic for bench/anomaly.ts: a handful of (event_type, region) groups with a daily curve,
// day-to-day level changes, over-dispersed counts, log-normal response times and revenue per event, and anomalies
// injected at known minutes (a drop to zero, a spike, a p95 shift, a revenue dip). Seeded: the same run every time.
import { prng } from '../src/ingest/synthetic.js'
import { DAY_MS, emptyPartials, MINUTE_MS, type PartialRow, sketchAdd } from '../src/model/index.js'

export type InjectionKind = 'drop_to_zero' | 'spike' | 'p95_shift' | 'revenue_dip'
export const INJECTION_KINDS: readonly InjectionKind[] = ['drop_to_zero', 'spike', 'p95_shift', 'revenue_dip']

export interface Injection {
  kind: InjectionKind
  event_type: string
  region: string
  /** minutes [from, to) */
  from: number
  to: number
}

export interface GroupSpec {
  event_type: string
  region: string
  /** mean events a minute over the day */
  rate: number
  /** share of events with revenue, and its mean */
  revenueShare: number
  revenueMean: number
  /** median response time, ms */
  responseMedian: number
  /** hour of day (UTC) of the daily peak */
  peakHour: number
  /** the anomalies injected into it */
  inject: readonly InjectionKind[]
}

function gaussian (rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

function poisson (rand: () => number, lambda: number): number {
  if (lambda <= 0) return 0
  if (lambda > 40) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gaussian(rand)))
  const l = Math.exp(-lambda)
  let k = 0
  let p = 1
  do { k++; p *= rand() } while (p > l)
  return k - 1
}

/** the daily curve: 1 at the mean, 1 ± 0.6 at the peak and trough */
function daily (t: number, peakHour: number): number {
  const phase = ((t % DAY_MS) / DAY_MS) - peakHour / 24
  return 1 + 0.6 * Math.cos(2 * Math.PI * phase)
}

/** Minute partial rows of `days` days from `start`, with the injections applied. */
export function generateTraffic (groups: readonly GroupSpec[], start: number, days: number, injections: readonly Injection[], seed: number): PartialRow[] {
  const rand = prng(seed)
  const rows: PartialRow[] = []
  const levels = Array.from({ length: days * groups.length }, () => 1 + 0.1 * gaussian(rand))
  for (let t = start; t < start + days * DAY_MS; t += MINUTE_MS) {
    const day = Math.floor((t - start) / DAY_MS)
    groups.forEach((g, gi) => {
      const active = injections.filter((i) => i.event_type === g.event_type && i.region === g.region && t >= i.from && t < i.to)
      const has = (k: InjectionKind): boolean => active.some((i) => i.kind === k)
      // over-dispersion: the minute's rate wanders a little around the curve
      let lambda = g.rate * daily(t, g.peakHour) * (levels[day * groups.length + gi] as number) * Math.exp(0.08 * gaussian(rand))
      if (has('spike')) lambda *= 2.5
      if (has('drop_to_zero')) lambda = 0
      const n = poisson(rand, lambda)
      if (n === 0) return
      const p = emptyPartials()
      p.events = n
      // response times: up to 100 drawn, each standing for its share of the minute's events
      const responseMedian = g.responseMedian * (1 + 0.15 * daily(t, g.peakHour)) * (has('p95_shift') ? 1.6 : 1)
      const k = Math.min(n, 100)
      for (let i = 0; i < k; i++) {
        const weight = Math.floor(n / k) + (i < n % k ? 1 : 0)
        sketchAdd(p.response, Math.round(responseMedian * Math.exp(0.4 * gaussian(rand))), weight)
      }
      // revenue: the events with revenue, each an exponential amount (their sum drawn as a normal past 30)
      const paying = poisson(rand, n * g.revenueShare)
      const mean = g.revenueMean * (has('revenue_dip') ? 0.3 : 1)
      let revenue = 0
      if (paying > 30) revenue = Math.max(0, paying * mean + Math.sqrt(paying) * mean * gaussian(rand))
      else for (let i = 0; i < paying; i++) revenue += -Math.log(1 - rand()) * mean
      p.revenue_cents = Math.round(revenue * 100)
      rows.push({ window_start: t, event_type: g.event_type, region: g.region, partials: p })
    })
  }
  return rows
}

const LENGTH_MIN: Record<InjectionKind, number> = { drop_to_zero: 10, spike: 5, p95_shift: 20, revenue_dip: 15 }

/**
 * One injection of each of its kinds per group and day in [from, from + days), at random minutes at least two hours apart (so
 * each is judged against a normal recent history).
 */
export function planInjections (groups: readonly GroupSpec[], from: number, days: number, seed: number): Injection[] {
  const rand = prng(seed)
  const out: Injection[] = []
  for (let d = 0; d < days; d++) {
    for (const g of groups) {
      const slots = [2, 6, 10, 14, 18].sort(() => rand() - 0.5)
      g.inject.forEach((kind, k) => {
        const at = from + d * DAY_MS + (slots[k] as number) * 3_600_000 + Math.floor(rand() * 90) * MINUTE_MS
        out.push({ kind, event_type: g.event_type, region: g.region, from: at, to: at + LENGTH_MIN[kind] * MINUTE_MS })
      })
    }
  }
  return out
}
