// Merge partial rows of both layers, roll them up to the query's granularity and grouping, and
// finalise them into served rows. Pure: no I/O.
import {
  bucketStart, emptyPartials, finalise, type Dimension, type Granularity, iso, mergePartials, type MetricName, type Metrics, type PartialRow,
  type Partials, type ResultRow, runSteps, STEP, type Steps
} from '../model/index.js'

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
  return runSteps(rollUpSteps(into, rows, granularity, groupBy))
}

/** rollUp in steps (runSliced) */
export function * rollUpSteps (into: Rollup, rows: Iterable<PartialRow>, granularity: Granularity, groupBy: readonly Dimension[]): Steps<Rollup> {
  let n = 0
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
    if (++n % STEP === 0) yield
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

function toRow (g: Group, m: Metrics, metrics: readonly MetricName[], windowStart = iso(g.window_start)): ResultRow {
  const row: ResultRow = { window_start: windowStart }
  if (g.event_type !== undefined) row.event_type = g.event_type
  if (g.region !== undefined) row.region = g.region
  for (const name of metrics) (row as unknown as Record<string, unknown>)[name] = m[name]
  return row
}

/** Finalise a rollup into rows sorted by window_start, event_type, region; only the asked metrics. */
export function finaliseRollup (r: Rollup, metrics: readonly MetricName[]): ResultRow[] {
  return runSteps(finaliseRollupSteps(r, metrics))
}

function * finaliseRollupSteps (r: Rollup, metrics: readonly MetricName[]): Steps<ResultRow[]> {
  const groups = [...r.values()].sort(compareGroups)
  const out: ResultRow[] = new Array(groups.length)
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as Group
    out[i] = toRow(g, finalise(g.partials), metrics)
    if ((i + 1) % STEP === 0) yield
  }
  return out
}

/**
 * Roll rows up over a base rollup that must not change (a cached batch part), copy on write: the
 * result holds only the groups the rows touch, each starting from a copy of the base group, so
 * `finaliseOver(base, overlay)` equals `finaliseRollup(rollUp(cloneRollup(base), rows))` exactly
 * (the same additions in the same order) without copying the untouched base groups.
 */
export function rollUpOver (base: Rollup | null, rows: Iterable<PartialRow>, granularity: Granularity, groupBy: readonly Dimension[]): Rollup {
  const into: Rollup = new Map()
  const byType = groupBy.includes('event_type')
  const byRegion = groupBy.includes('region')
  for (const row of rows) {
    const start = bucketStart(row.window_start, granularity)
    const key = rollupKey(start, groupBy, row)
    let g = into.get(key)
    if (g === undefined) {
      const b = base?.get(key)
      if (b !== undefined) {
        g = { ...b, partials: { ...b.partials, response: new Map(b.partials.response) } }
      } else {
        g = { window_start: start, partials: emptyPartials() }
        if (byType) g.event_type = row.event_type
        if (byRegion) g.region = row.region
      }
      into.set(key, g)
    }
    mergePartials(g.partials, row.partials)
  }
  return into
}

/**
 * What finalising an immutable rollup once can keep: its groups in row order and each group's
 * metrics. Valid only while the rollup and its groups are not changed (cached batch parts never are).
 */
export class FinalisedRollup {
  readonly rollup: Rollup
  readonly #inherit: FinalisedRollup | null
  #sorted: [string, Group][] | null = null
  readonly #finalised = new Map<string, { windowStart: string, metrics: Metrics }>()
  /** served rows by metric list, then by group key (frozen: answers share them) */
  readonly #rows = new Map<string, Map<string, ResultRow>>()

  /** `inherit`: a FinalisedRollup whose groups this one shares (the same objects), metrics and all */
  constructor (rollup: Rollup, inherit: FinalisedRollup | null = null) {
    this.rollup = rollup
    this.#inherit = inherit
  }

  /** `base` overlaid with the groups of `rollUpOver(base.rollup, …)`, as one immutable rollup */
  static over (base: FinalisedRollup | null, overlay: Rollup): FinalisedRollup {
    if (base === null) return new FinalisedRollup(overlay)
    const combined: Rollup = new Map(base.rollup)
    for (const [k, g] of overlay) combined.set(k, g)
    return new FinalisedRollup(combined, base)
  }

  /** [key, group] in row order */
  sorted (): [string, Group][] {
    this.#sorted ??= [...this.rollup].sort((a, b) => compareGroups(a[1], b[1]))
    return this.#sorted
  }

  /** the group's metrics and its window_start as served, computed once */
  finalised (key: string, g: Group): { windowStart: string, metrics: Metrics } {
    let f = this.#finalised.get(key)
    if (f === undefined) {
      f = this.#inherit !== null && this.#inherit.rollup.get(key) === g
        ? this.#inherit.finalised(key, g)
        : { windowStart: iso(g.window_start), metrics: finalise(g.partials) }
      this.#finalised.set(key, f)
    }
    return f
  }

  /** the served rows of this rollup's groups for a metric list, made once, frozen */
  rows (metrics: readonly MetricName[]): (key: string, g: Group) => ResultRow {
    const name = metrics.join(',')
    let rows = this.#rows.get(name)
    if (rows === undefined) {
      rows = new Map()
      this.#rows.set(name, rows)
    }
    const made = rows
    return (key, g) => {
      let row = made.get(key)
      if (row === undefined) {
        const f = this.finalised(key, g)
        row = Object.freeze(toRow(g, f.metrics, metrics, f.windowStart))
        made.set(key, row)
      }
      return row
    }
  }
}

/**
 * Finalise a base rollup overlaid with the groups of `rollUpOver(base.rollup, …)`: rows sorted as
 * finaliseRollup sorts them; base groups the overlay does not replace give their kept rows, which
 * are frozen and shared between answers (serialise them, do not change them).
 */
export function finaliseOver (base: FinalisedRollup | null, overlay: Rollup, metrics: readonly MetricName[]): ResultRow[] {
  return runSteps(finaliseOverSteps(base, overlay, metrics))
}

/** finaliseOver in steps (runSliced) */
export function * finaliseOverSteps (base: FinalisedRollup | null, overlay: Rollup, metrics: readonly MetricName[]): Steps<ResultRow[]> {
  if (base === null) return yield * finaliseRollupSteps(overlay, metrics)
  const added: Group[] = []
  for (const [k, g] of overlay) if (!base.rollup.has(k)) added.push(g)
  added.sort(compareGroups)
  const out: ResultRow[] = []
  const kept = base.rows(metrics)
  let i = 0; let n = 0
  for (const [k, b] of base.sorted()) {
    while (i < added.length && compareGroups(added[i] as Group, b) < 0) {
      const a = added[i++] as Group
      out.push(toRow(a, finalise(a.partials), metrics))
    }
    const o = overlay.get(k)
    out.push(o === undefined ? kept(k, b) : toRow(o, finalise(o.partials), metrics))
    if (++n % STEP === 0) yield
  }
  while (i < added.length) {
    const a = added[i++] as Group
    out.push(toRow(a, finalise(a.partials), metrics))
  }
  return out
}
