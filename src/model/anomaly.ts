// Anomaly detection on closed minute windows (docs/design.md, "Anomalies"). Pure: series in, anomalies out.
// For each group (event_type × region, and the overall group) and metric, the expectation of a minute is its seasonal
// baseline (the same minute of previous days, from gold) plus the median of the recent minutes' residuals against that
// baseline; the score is the residual's distance from it in robust standard deviations (1.4826 × MAD, floored so a
// flat history cannot make every wiggle an anomaly). A group expected to see fewer than `minVolume` events a minute
// never alerts; a minute with no events where at least `minVolume` were expected is a drop whatever its score.
import { MINUTE_MS } from './time.js'

export const ANOMALY_METRICS = ['total_events', 'p95_response', 'total_revenue'] as const
export type AnomalyMetric = typeof ANOMALY_METRICS[number]
export const ANOMALY_KINDS = ['drop', 'spike', 'shift'] as const
export type AnomalyKind = typeof ANOMALY_KINDS[number]

export interface Anomaly {
  /** the minute window, epoch ms */
  window_start: number
  /** null: every event type (the overall group, or a region's total) */
  event_type: string | null
  region: string | null
  metric: AnomalyMetric
  /** drop / spike for counts and revenue, shift for p95 */
  kind: AnomalyKind
  observed: number
  expected: number
  /** robust z-score: (observed − expected) / robust standard deviation */
  score: number
}

/** What one closed minute of one group holds. */
export interface MinuteValues {
  total_events: number
  /** null: no response times that minute */
  p95_response: number | null
  total_revenue: number
}

/** The seasonal expectation of one minute of one group (null metric: not known). */
export interface Expected {
  total_events: number
  p95_response: number | null
  total_revenue: number
}

export interface GroupSeries {
  event_type: string | null
  region: string | null
  /** closed minutes by window start; a minute of the covered range without an entry saw no events */
  minutes: ReadonlyMap<number, MinuteValues>
  /** the seasonal baseline of a minute, or null where there is none (too little gold) */
  baseline: (windowStart: number) => Expected | null
}

export interface DetectorSettings {
  /** the robust z-score beyond which a minute is anomalous */
  sensitivity: number
  /** fewest events a minute a group must be expected to see before it may alert */
  minVolume: number
  /** recent minutes whose residuals give the level and spread */
  historyMinutes: number
}

/** fewest residuals of recent minutes needed to judge a minute by its score (a drop to zero needs none) */
export const MIN_HISTORY = 10
/** the spread is at least this share of the expectation (counts: at least Poisson's √expected too) */
const RELATIVE_FLOOR: Record<AnomalyMetric, number> = { total_events: 0.04, p95_response: 0.05, total_revenue: 0.05 }
const MAD_TO_SD = 1.4826
/** the 90 % quantile of a normal distribution is 1.2816 standard deviations above its median */
const DECILE_TO_SD = 1.2816
/** fewest events of a minute whose p95 is judged (of fewer, the p95 is about their maximum) */
export const P95_MIN_EVENTS = 20
/** minutes of the wider window */
export const WINDOW = 5

export function median (values: readonly number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** median and median absolute deviation */
export function robustSpread (values: readonly number[]): { center: number, mad: number } {
  const center = median(values)
  return { center, mad: median(values.map((v) => Math.abs(v - center))) }
}

const EMPTY: MinuteValues = { total_events: 0, p95_response: null, total_revenue: 0 }

function observedOf (series: GroupSeries, t: number): MinuteValues {
  return series.minutes.get(t) ?? EMPTY
}

/**
 * a window's value of a metric: the mean of its minutes but the highest and the lowest (p95: of those with events;
 * null: too few), so one odd minute does not carry into the windows after it
 */
function windowValue (series: GroupSeries, metric: AnomalyMetric, end: number, width: number): number | null {
  if (width === 1) {
    const o = observedOf(series, end)
    return metric === 'p95_response' && o.total_events === 0 ? null : o[metric]
  }
  const values: number[] = []
  for (let s = end - (width - 1) * MINUTE_MS; s <= end; s += MINUTE_MS) {
    const o = observedOf(series, s)
    const v = o[metric]
    if (v === null || (metric === 'p95_response' && o.total_events === 0)) continue
    values.push(v)
  }
  if (values.length * 2 <= width) return null
  values.sort((a, b) => a - b)
  const kept = values.length > 2 ? values.slice(1, -1) : values
  return kept.reduce((a, b) => a + b, 0) / kept.length
}

/** the same window's seasonal expectation, the mean of its minutes' (null: a minute of it has none) */
function windowBaseline (series: GroupSeries, metric: AnomalyMetric, end: number, width: number): number | null {
  let sum = 0
  for (let s = end - (width - 1) * MINUTE_MS; s <= end; s += MINUTE_MS) {
    const b = series.baseline(s)?.[metric]
    if (b === null || b === undefined) return null
    sum += b
  }
  return sum / width
}

function spreadFloor (metric: AnomalyMetric, expected: number, width: number): number {
  const relative = RELATIVE_FLOOR[metric] * Math.abs(expected)
  if (metric === 'total_events') return Math.max(1 / width, Math.sqrt(Math.max(expected, 0) / width), relative)
  return Math.max(relative, 1e-9)
}

interface Judged { observed: number, expected: number, score: number }

/**
 * Expectation and score of `metric` over the `width` minutes ending at t, from the residuals of the windows of the
 * same width ending in [historyFrom, t). With a baseline at t only history windows with a baseline count (residual =
 * observed − baseline); without one the residual is the observed value itself (a plain robust z-score over the recent
 * minutes). The spread is taken on each side of the median apart (a skewed metric such as revenue from few orders has
 * a long upper tail), each from the MAD and from the 10–90 % deciles, whichever is larger (a metric often zero has a
 * MAD of nothing).
 */
function judge (series: GroupSeries, metric: AnomalyMetric, t: number, historyFrom: number, width: number): Judged | null {
  const observed = windowValue(series, metric, t, width)
  if (observed === null) return null
  const seasonal = windowBaseline(series, metric, t, width)
  const residuals: number[] = []
  for (let s = historyFrom + (width - 1) * MINUTE_MS; s < t; s += MINUTE_MS) {
    const v = windowValue(series, metric, s, width)
    if (v === null) continue
    if (seasonal === null) { residuals.push(v); continue }
    const b = windowBaseline(series, metric, s, width)
    if (b !== null) residuals.push(v - b)
  }
  if (residuals.length < MIN_HISTORY) {
    if (seasonal === null) return null
    const sd = spreadFloor(metric, seasonal, width)
    return { observed, expected: seasonal, score: (observed - seasonal) / sd }
  }
  residuals.sort((a, b) => a - b)
  const center = quantile(residuals, 0.5)
  const mad = median(residuals.map((r) => Math.abs(r - center)))
  const expected = (seasonal ?? 0) + center
  const floor = Math.max(MAD_TO_SD * mad, spreadFloor(metric, expected, width))
  const up = observed >= expected
  const decile = up ? quantile(residuals, 0.9) - center : center - quantile(residuals, 0.1)
  const sd = Math.max(floor, decile / DECILE_TO_SD)
  return { observed, expected, score: (observed - expected) / sd }
}

/** the q-quantile of sorted values, interpolated */
function quantile (sorted: readonly number[], q: number): number {
  const x = q * (sorted.length - 1)
  const i = Math.floor(x)
  const a = sorted[i] as number
  const b = sorted[Math.min(i + 1, sorted.length - 1)] as number
  return a + (b - a) * (x - i)
}

/**
 * The anomalies of one group in the closed minutes [from, to), each judged against the `historyMinutes` before it
 * (never before `coveredFrom`, the first minute the series holds): the minute alone, and the trimmed mean of the
 * `WINDOW` minutes ending with it (a dip or shift lasting a few minutes stands out of the noise there, one odd minute
 * does not), the window only where the minute itself leans the same way by a standard deviation (so it does not echo
 * an anomaly that is over). Observed and expected are per minute: of the minute, or the window's trimmed mean when only
 * the window stands out.
 */
export function detectGroup (series: GroupSeries, from: number, to: number, coveredFrom: number, settings: DetectorSettings): Anomaly[] {
  const out: Anomaly[] = []
  for (let t = from; t < to; t += MINUTE_MS) {
    const historyFrom = Math.max(coveredFrom, t - settings.historyMinutes * MINUTE_MS)
    const volume = judge(series, 'total_events', t, historyFrom, 1)
    if (volume === null || volume.expected < settings.minVolume) continue
    const o = observedOf(series, t)
    for (const metric of ANOMALY_METRICS) {
      if (metric === 'p95_response' && o.total_events < Math.max(settings.minVolume, P95_MIN_EVENTS)) continue
      const zeroDrop = metric === 'total_events' && o.total_events === 0
      let j = metric === 'total_events' ? volume : judge(series, metric, t, historyFrom, 1)
      if (!zeroDrop && (j === null || Math.abs(j.score) < settings.sensitivity)) {
        const wide = t - (WINDOW - 1) * MINUTE_MS >= historyFrom ? judge(series, metric, t, historyFrom, WINDOW) : null
        if (wide === null || Math.abs(wide.score) < settings.sensitivity) continue
        // the minute itself must lean the same way, or the window only remembers an anomaly that is over
        if (j === null || Math.sign(j.score) !== Math.sign(wide.score) || Math.abs(j.score) < 1) continue
        j = wide
      }
      if (j === null) continue
      const kind: AnomalyKind = metric === 'p95_response' ? 'shift' : j.score < 0 || zeroDrop ? 'drop' : 'spike'
      out.push({
        window_start: t,
        event_type: series.event_type,
        region: series.region,
        metric,
        kind,
        observed: round(j.observed),
        expected: round(j.expected),
        score: round(j.score)
      })
    }
  }
  return out
}

/** Every group's anomalies in [from, to), in minute order, then group, then metric. */
export function detectAnomalies (
  groups: Iterable<GroupSeries>, from: number, to: number, coveredFrom: number, settings: DetectorSettings
): Anomaly[] {
  const all: Anomaly[] = []
  for (const g of groups) all.push(...detectGroup(g, from, to, coveredFrom, settings))
  return all.sort(compareAnomalies)
}

export function compareAnomalies (a: Anomaly, b: Anomaly): number {
  return a.window_start - b.window_start ||
    (a.event_type ?? '').localeCompare(b.event_type ?? '') || (a.region ?? '').localeCompare(b.region ?? '') ||
    ANOMALY_METRICS.indexOf(a.metric) - ANOMALY_METRICS.indexOf(b.metric)
}

/** the identity of an anomaly: one per minute, group and metric */
export function anomalyKey (a: Pick<Anomaly, 'window_start' | 'event_type' | 'region' | 'metric'>): string {
  return JSON.stringify([a.window_start, a.event_type, a.region, a.metric])
}

function round (x: number): number {
  return Math.round(x * 1000) / 1000
}
