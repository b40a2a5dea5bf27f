// Reconciliation: how far the speed layer drifted from the batch layer over an hour that both hold. Pure: no I/O, no
// clock. Known reasons for a difference: events later than the allowed lateness (left to the batch), duplicates further
// apart than the dedup window (counted twice by speed), and speed restarts (a rebuilt speed layer may hold a little
// more or less). An hour is compared only when the speed side holds all of it, closed (coveredFrom ≤ hour start,
// hour end ≤ closedUntil); any other hour is "not comparable": a missing part is not a difference.
import { HOUR_MS, type Partials } from '../model/index.js'

/** What a reconciliation needs of a partial row (gold hour rows and speed minute rows alike). */
export interface CountRow {
  window_start: number
  event_type: string
  region: string
  partials: Pick<Partials, 'events' | 'revenue_cents'>
}

/** What the speed side holds: every on-time event from `coveredFrom`, final up to `closedUntil`. */
export interface SpeedCoverage {
  /** event time from which every on-time event is held (null: nothing held) */
  coveredFrom: number | null
  /** windows ending at or before this instant are closed (the watermark; null: none closed) */
  closedUntil: number | null
}

/** Speed and batch totals of one hour (or one group of it), and how far apart they are. */
export interface Comparison {
  speed_events: number
  batch_events: number
  /** speed − batch */
  events_diff: number
  /** (speed − batch) / batch; 0 when both are 0, null when only the batch is 0 */
  events_relative_diff: number | null
  speed_revenue_cents: number
  batch_revenue_cents: number
  /** speed − batch, cents */
  revenue_diff_cents: number
  /** (speed − batch) / batch; 0 when both are 0, null when only the batch is 0 */
  revenue_relative_diff: number | null
}

export interface GroupComparison extends Comparison {
  event_type: string
  region: string
}

export interface Reconciliation extends Comparison {
  /** start of the hour (epoch ms, UTC, hour-aligned) */
  hour: number
  /** the gold version compared against */
  batch_version: number
  /** the (event_type, region) groups whose events or revenue differ, sorted */
  differing_groups: GroupComparison[]
}

export type NotComparableReason = 'speed_not_covered' | 'speed_open'

export interface NotComparable {
  hour: number
  /** speed_not_covered: the speed side does not hold the whole hour; speed_open: the hour is not closed there yet */
  reason: NotComparableReason
}

export type HourOutcome = { comparable: true, reconciliation: Reconciliation } | { comparable: false, notComparable: NotComparable }

/** Why an hour cannot be compared, or null when the speed side holds all of it, closed. */
export function notComparableReason (hour: number, coverage: SpeedCoverage): NotComparableReason | null {
  if (coverage.coveredFrom === null || coverage.coveredFrom > hour) return 'speed_not_covered'
  if (coverage.closedUntil === null || coverage.closedUntil < hour + HOUR_MS) return 'speed_open'
  return null
}

function relative (diff: number, batch: number): number | null {
  if (batch === 0) return diff === 0 ? 0 : null
  return diff / batch
}

function compare (speed: Totals, batch: Totals): Comparison {
  const eventsDiff = speed.events - batch.events
  const revenueDiff = speed.revenue_cents - batch.revenue_cents
  return {
    speed_events: speed.events,
    batch_events: batch.events,
    events_diff: eventsDiff,
    events_relative_diff: relative(eventsDiff, batch.events),
    speed_revenue_cents: speed.revenue_cents,
    batch_revenue_cents: batch.revenue_cents,
    revenue_diff_cents: revenueDiff,
    revenue_relative_diff: relative(revenueDiff, batch.revenue_cents)
  }
}

interface Totals { events: number, revenue_cents: number }

/** hour → group key → totals, for the rows whose window_start lies in one of `hours` */
function totalsByHour (rows: readonly CountRow[], hours: ReadonlySet<number>): Map<number, Map<string, Totals>> {
  const out = new Map<number, Map<string, Totals>>()
  for (const r of rows) {
    const hour = Math.floor(r.window_start / HOUR_MS) * HOUR_MS
    if (!hours.has(hour)) continue
    let groups = out.get(hour)
    if (groups === undefined) { groups = new Map(); out.set(hour, groups) }
    const key = r.event_type + '\u0000' + r.region
    const t = groups.get(key)
    if (t === undefined) groups.set(key, { events: r.partials.events, revenue_cents: r.partials.revenue_cents })
    else { t.events += r.partials.events; t.revenue_cents += r.partials.revenue_cents }
  }
  return out
}

function sum (groups: Map<string, Totals> | undefined): Totals {
  const t: Totals = { events: 0, revenue_cents: 0 }
  for (const g of groups?.values() ?? []) { t.events += g.events; t.revenue_cents += g.revenue_cents }
  return t
}

export interface ReconcileInput {
  /** hour starts to compare (hour-aligned) */
  hours: readonly number[]
  /** gold rows of those hours (hourly rows; other rows are ignored) */
  gold: readonly CountRow[]
  /** speed rows of those hours (minute rows; other rows are ignored) */
  speed: readonly CountRow[]
  /** what the speed side holds */
  coverage: SpeedCoverage
  /** the gold version the gold rows come from */
  batchVersion: number
}

/** Speed against batch for each hour asked for, in ascending hour order. */
export function reconcileHours (input: ReconcileInput): HourOutcome[] {
  const hours = [...new Set(input.hours)].sort((a, b) => a - b)
  const comparable = new Set(hours.filter((h) => notComparableReason(h, input.coverage) === null))
  const gold = totalsByHour(input.gold, comparable)
  const speed = totalsByHour(input.speed, comparable)
  return hours.map((hour): HourOutcome => {
    const reason = notComparableReason(hour, input.coverage)
    if (reason !== null) return { comparable: false, notComparable: { hour, reason } }
    const g = gold.get(hour); const s = speed.get(hour)
    const differing: GroupComparison[] = []
    for (const key of new Set([...(g?.keys() ?? []), ...(s?.keys() ?? [])])) {
      const c = compare(s?.get(key) ?? { events: 0, revenue_cents: 0 }, g?.get(key) ?? { events: 0, revenue_cents: 0 })
      if (c.events_diff === 0 && c.revenue_diff_cents === 0) continue
      const [eventType, region] = key.split('\u0000') as [string, string]
      differing.push({ event_type: eventType, region, ...c })
    }
    differing.sort((a, b) => cmp(a.event_type, b.event_type) || cmp(a.region, b.region))
    return { comparable: true, reconciliation: { hour, batch_version: input.batchVersion, ...compare(sum(s), sum(g)), differing_groups: differing } }
  })
}

function cmp (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
