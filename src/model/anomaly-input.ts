// The detector's input from the layers' partial rows (pure): closed minute windows of the speed layer per group, and
// the seasonal baseline from gold's hourly rows of previous days.
import type { Expected, GroupSeries, MinuteValues } from './anomaly.js'
import { emptyPartials, mergePartials, type Partials, type PartialRow } from './partials.js'
import { sketchQuantile } from './sketch.js'
import { DAY_MS, HOUR_MS, MINUTE_MS } from './time.js'

/** the group of a row: (event_type, region), or [null, null] for every event */
export type GroupId = readonly [string | null, string | null]
export const OVERALL: GroupId = [null, null]

export function groupKey (event_type: string | null, region: string | null): string {
  return JSON.stringify([event_type, region])
}

function groupOf (key: string): GroupId {
  return JSON.parse(key) as GroupId
}

/** Partials summed per group and window start, the overall group included. */
function sumByGroup (rows: Iterable<PartialRow>): Map<string, Map<number, Partials>> {
  const out = new Map<string, Map<number, Partials>>()
  const add = (key: string, r: PartialRow): void => {
    let windows = out.get(key)
    if (windows === undefined) { windows = new Map(); out.set(key, windows) }
    let p = windows.get(r.window_start)
    if (p === undefined) { p = emptyPartials(); windows.set(r.window_start, p) }
    mergePartials(p, r.partials)
  }
  for (const r of rows) {
    add(groupKey(r.event_type, r.region), r)
    add(groupKey(null, null), r)
  }
  return out
}

function valuesOf (p: Partials): MinuteValues {
  return { total_events: p.events, p95_response: sketchQuantile(p.response, 0.95), total_revenue: p.revenue_cents / 100 }
}

/** closed minute values per group key, from the speed layer's minute rows */
export function minuteValues (rows: Iterable<PartialRow>): Map<string, Map<number, MinuteValues>> {
  const out = new Map<string, Map<number, MinuteValues>>()
  for (const [key, windows] of sumByGroup(rows)) {
    out.set(key, new Map([...windows].map(([t, p]) => [t, valuesOf(p)])))
  }
  return out
}

/** per group key, per hour of day (0..23): the expected minute */
export type HourlyBaseline = Map<string, Array<Expected | null>>

function medianOf (values: number[]): number | null {
  if (values.length === 0) return null
  const s = values.sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/**
 * The seasonal baseline from gold's hourly rows of the whole UTC days [from, to): for each group and hour of day,
 * the median over those days of the hour's events and revenue per minute (an hour's total / 60) and of its p95. A day
 * without a row for a group's hour saw none of its events (0). The median makes one odd day (an earlier incident)
 * harmless once there are three.
 */
export function hourlyBaseline (rows: Iterable<PartialRow>, from: number, to: number): HourlyBaseline {
  const days = Math.max(0, Math.round((to - from) / DAY_MS))
  const out: HourlyBaseline = new Map()
  if (days === 0) return out
  for (const [key, hours] of sumByGroup(rows)) {
    const perHour: Array<{ events: number[], revenue: number[], p95: number[] }> =
      Array.from({ length: 24 }, () => ({ events: [], revenue: [], p95: [] }))
    for (const [start, p] of hours) {
      if (start < from || start >= to) continue
      const h = perHour[Math.floor((start % DAY_MS) / HOUR_MS)] as (typeof perHour)[number]
      h.events.push(p.events / 60)
      h.revenue.push(p.revenue_cents / 100 / 60)
      const p95 = sketchQuantile(p.response, 0.95)
      if (p95 !== null) h.p95.push(p95)
    }
    out.set(key, perHour.map((h) => {
      while (h.events.length < days) { h.events.push(0); h.revenue.push(0) }
      return { total_events: medianOf(h.events) as number, total_revenue: medianOf(h.revenue) as number, p95_response: medianOf(h.p95) }
    }))
  }
  return out
}

function lerp (a: number | null, b: number | null, f: number): number | null {
  if (a === null) return b
  if (b === null) return a
  return a + (b - a) * f
}

/**
 * A minute's expectation from the hourly baseline, each hour's value placed at the hour's middle and joined linearly
 * (round midnight too), so a daily curve is followed within the hour instead of in steps.
 */
export function expectedAt (hours: ReadonlyArray<Expected | null>, t: number): Expected | null {
  const x = (((t + MINUTE_MS / 2) % DAY_MS) / HOUR_MS) - 0.5
  const h0 = Math.floor(x)
  const f = x - h0
  const a = hours[(h0 + 24) % 24] ?? null
  const b = hours[(h0 + 25) % 24] ?? null
  if (a === null || b === null) return a ?? b
  return {
    total_events: lerp(a.total_events, b.total_events, f) as number,
    total_revenue: lerp(a.total_revenue, b.total_revenue, f) as number,
    p95_response: lerp(a.p95_response, b.p95_response, f)
  }
}

/**
 * The detector's groups: every group the speed rows or the baseline know (a group gone quiet has no speed rows at
 * all), with its minutes and its baseline.
 */
export function groupSeries (speedRows: Iterable<PartialRow>, baseline: HourlyBaseline): GroupSeries[] {
  const minutes = minuteValues(speedRows)
  const keys = new Set([...minutes.keys(), ...baseline.keys(), groupKey(null, null)])
  // the overall group first, then by event type and region
  const ordered = [...keys].map(groupOf)
    .sort((a, b) => a[0] === null ? -1 : b[0] === null ? 1 : a[0].localeCompare(b[0]) || (a[1] ?? '').localeCompare(b[1] ?? ''))
  return ordered.map(([event_type, region]) => {
    const key = groupKey(event_type, region)
    const hours = baseline.get(key)
    return {
      event_type,
      region,
      minutes: minutes.get(key) ?? new Map(),
      baseline: hours === undefined ? () => null : (t: number) => expectedAt(hours, t)
    }
  })
}
