// Merge partial rows of both layers, roll them up to the query's granularity and grouping, and
// finalise them into served rows. Pure: no I/O.
import { bucketStart, emptyPartials, finalise, type Dimension, type Granularity, iso, mergePartials, type MetricName, type PartialRow, type Partials, type ResultRow } from '../model/index.js'

export interface Group {
  window_start: number
  event_type?: string
  region?: string
  partials: Partials
}

/** bucket start + grouped dimension values → merged partials */
export type Rollup = Map<string, Group>

export function rollupKey (windowStart: number, groupBy: readonly Dimension[], row: { event_type: string, region: string }): string {
  let key = String(windowStart)
  for (const d of groupBy) key += '\u0000' + row[d]
  return key
}

/** Add rows into a rollup at a granularity and grouping. The rows' partials are not aliased. */
export function rollUp (into: Rollup, rows: Iterable<PartialRow>, granularity: Granularity, groupBy: readonly Dimension[]): Rollup {
  for (const row of rows) {
    const start = bucketStart(row.window_start, granularity)
    const key = rollupKey(start, groupBy, row)
    let g = into.get(key)
    if (g === undefined) {
      g = { window_start: start, partials: emptyPartials() }
      if (groupBy.includes('event_type')) g.event_type = row.event_type
      if (groupBy.includes('region')) g.region = row.region
      into.set(key, g)
    }
    mergePartials(g.partials, row.partials)
  }
  return into
}

/** A deep copy, so a cached rollup can be merged into without being changed. */
export function cloneRollup (r: Rollup): Rollup {
  const out: Rollup = new Map()
  for (const [k, g] of r) out.set(k, { ...g, partials: { ...g.partials, response: new Map(g.partials.response) } })
  return out
}

export function mergeRollups (into: Rollup, from: Rollup): Rollup {
  for (const [k, g] of from) {
    const mine = into.get(k)
    if (mine === undefined) into.set(k, { ...g, partials: { ...g.partials, response: new Map(g.partials.response) } })
    else mergePartials(mine.partials, g.partials)
  }
  return into
}

function compareGroups (a: Group, b: Group): number {
  if (a.window_start !== b.window_start) return a.window_start - b.window_start
  const ea = a.event_type ?? ''; const eb = b.event_type ?? ''
  if (ea !== eb) return ea < eb ? -1 : 1
  const ra = a.region ?? ''; const rb = b.region ?? ''
  return ra < rb ? -1 : ra > rb ? 1 : 0
}

/** Finalise a rollup into rows sorted by window_start, event_type, region; only the asked metrics. */
export function finaliseRollup (r: Rollup, metrics: readonly MetricName[]): ResultRow[] {
  const groups = [...r.values()].sort(compareGroups)
  return groups.map((g) => {
    const row: ResultRow = { window_start: iso(g.window_start) }
    if (g.event_type !== undefined) row.event_type = g.event_type
    if (g.region !== undefined) row.region = g.region
    const m = finalise(g.partials)
    for (const name of metrics) (row as unknown as Record<string, unknown>)[name] = m[name]
    return row
  })
}
