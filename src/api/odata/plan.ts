// Turns a parsed $filter into the merger's typed query. Pure: no I/O, the clock is a parameter.
//
// Only the top-level and-ed conditions are folded, and only where the fold is exact:
// - window_start ge/gt/lt/le/eq a DateTimeOffset → the range [from, to), aligned to the entity
//   set's granularity (so a Power BI refresh of the last 7 days reads 7 days, not all history);
// - event_type / region eq 'x', in ('x', 'y'), or an or-chain of those on one dimension →
//   Filters (intersected when given more than once).
// Whatever is not folded is the residual, evaluated on the result rows (evaluate.ts). Filter values
// are never pasted into SQL: they travel as MetricsQuery data.
import {
  BUCKET_MS, bucketStart, DAY_MS, type Dimension, errors, type Filters, type Granularity, iso, MINUTE_MS
} from '../../model/index.js'
import type { Limits } from '../../merger/types.js'
import { EARLIEST, LATEST, MAX_FILTER_VALUE_LENGTH } from '../rest/parse-query.js'
import { badOption } from './errors.js'
import type { EntitySetDef } from './csdl.js'
import type { CompareOp, Expr, Literal } from './filter-parser.js'

export interface FilterPlan {
  /** lower bound of window_start folded from the filter (inclusive, aligned), or null */
  from: number | null
  /** upper bound of window_start folded from the filter (exclusive, aligned), or null */
  to: number | null
  filters: Filters
  /** what is left to evaluate on the rows (null: nothing) */
  residual: Expr | null
  /** the folded conditions contradict each other: no row can match */
  empty: boolean
}

const FLIP: Record<CompareOp, CompareOp> = { eq: 'eq', ne: 'ne', gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' }
const DIMENSIONS: readonly string[] = ['event_type', 'region']

/** a and b and c → [a, b, c] (parentheses leave no node, so (a) and (b) is the same) */
export function conjuncts (e: Expr): Expr[] {
  return e.kind === 'and' ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e]
}

function conjunction (parts: Expr[]): Expr | null {
  if (parts.length === 0) return null
  return parts.reduce((left, right) => ({ kind: 'and', left, right }))
}

/** window_start <op> instant, either way round; null when the condition is not of that shape */
function timeBound (e: Expr): { op: CompareOp, t: number } | null {
  if (e.kind !== 'compare') return null
  const { left, right } = e
  const isStart = (x: Expr): boolean => x.kind === 'property' && x.name === 'window_start'
  if (isStart(left) && right.kind === 'literal' && right.type === 'datetime') return { op: e.op, t: right.value }
  if (isStart(right) && left.kind === 'literal' && left.type === 'datetime') return { op: FLIP[e.op], t: left.value }
  return null
}

/** the dimension values a condition allows (dim eq 'x', dim in (…), or-chains of those), or null */
function dimensionValues (e: Expr): { dim: Dimension, values: string[] } | null {
  const str = (l: Expr): l is Literal & { type: 'string' } => l.kind === 'literal' && l.type === 'string'
  if (e.kind === 'compare' && e.op === 'eq') {
    if (e.left.kind === 'property' && DIMENSIONS.includes(e.left.name) && str(e.right)) return { dim: e.left.name as Dimension, values: [e.right.value] }
    if (e.right.kind === 'property' && DIMENSIONS.includes(e.right.name) && str(e.left)) return { dim: e.right.name as Dimension, values: [e.left.value] }
    return null
  }
  if (e.kind === 'in' && e.operand.kind === 'property' && DIMENSIONS.includes(e.operand.name) && e.values.every(str)) {
    return { dim: e.operand.name as Dimension, values: e.values.map((v) => v.value as string) }
  }
  if (e.kind === 'or') {
    const l = dimensionValues(e.left); const r = dimensionValues(e.right)
    if (l !== null && r !== null && l.dim === r.dim) return { dim: l.dim, values: [...l.values, ...r.values] }
  }
  return null
}

const ceilTo = (t: number, size: number): number => Math.ceil(t / size) * size
const floorTo = (t: number, size: number): number => Math.floor(t / size) * size

/**
 * Fold what can be folded of `filter` for an entity set of `granularity`. `maxFilterValues` is the
 * merger's limit: a longer value list stays in the residual rather than failing the request.
 */
export function planFilter (filter: Expr | null, granularity: Granularity, maxFilterValues: number): FilterPlan {
  const size = BUCKET_MS[granularity]
  let from: number | null = null
  let to: number | null = null
  let empty = false
  const sets: Partial<Record<Dimension, Set<string>>> = {}
  const rest: Expr[] = []

  for (const c of filter === null ? [] : conjuncts(filter)) {
    const tb = timeBound(c)
    if (tb !== null && tb.op !== 'ne') {
      // the windows whose start satisfies the bound, as aligned [lo, hi)
      let lo = -Infinity; let hi = Infinity
      switch (tb.op) {
        case 'ge': lo = ceilTo(tb.t, size); break
        case 'gt': lo = floorTo(tb.t, size) + size; break
        case 'lt': hi = ceilTo(tb.t, size); break
        case 'le': hi = floorTo(tb.t, size) + size; break
        case 'eq':
          if (tb.t % size !== 0) empty = true
          lo = tb.t; hi = tb.t + size
          break
      }
      if (lo !== -Infinity) from = from === null ? lo : Math.max(from, lo)
      if (hi !== Infinity) to = to === null ? hi : Math.min(to, hi)
      continue
    }
    const dv = dimensionValues(c)
    if (dv !== null && new Set(dv.values).size <= maxFilterValues) {
      // no event carries a value longer than the event contract allows
      const allowed = new Set(dv.values.filter((v) => v.length >= 1 && v.length <= MAX_FILTER_VALUE_LENGTH))
      const before = sets[dv.dim]
      sets[dv.dim] = before === undefined ? allowed : new Set([...before].filter((v) => allowed.has(v)))
      continue
    }
    rest.push(c)
  }

  const filters: Filters = {}
  for (const dim of ['event_type', 'region'] as const) {
    const s = sets[dim]
    if (s === undefined) continue
    if (s.size === 0) empty = true
    filters[dim] = [...s].sort()
  }
  if (from !== null && to !== null && from >= to) empty = true
  return { from, to, filters, residual: conjunction(rest), empty }
}

export interface ReadRange {
  from: number
  to: number
}

/** "1.5" for 1.5 days */
function days (ms: number): string {
  return String(Math.round((ms / DAY_MS) * 100) / 100)
}

/**
 * The range to read for an entity set: the folded bounds, a default where the filter leaves a side
 * open (upper: the end of the current window; lower: the upper end minus the set's default window),
 * never past the current window; for minutes never before the speed layer's retention. null when
 * nothing can match. Throws the REST catalogue errors for a range the merger would refuse.
 */
export function readRange (plan: Pick<FilterPlan, 'from' | 'to' | 'empty'>, set: EntitySetDef, limits: Limits, now: number): ReadRange | null {
  if (plan.empty) return null
  const size = BUCKET_MS[set.granularity]
  const end = bucketStart(now, set.granularity) + size
  const to = Math.min(plan.to ?? end, end)
  let from: number
  if (set.defaultWindowMs === null) {
    const earliest = end - Math.ceil(limits.retentionMs / MINUTE_MS) * MINUTE_MS
    from = Math.max(plan.from ?? earliest, earliest)
  } else {
    from = plan.from ?? to - set.defaultWindowMs
  }
  if (from >= to) return null
  return withinLimits({ from, to }, size, limits)
}

function withinLimits (range: ReadRange, size: number, limits: Limits): ReadRange {
  const { from, to } = range
  if (to - from > limits.maxRangeDays * DAY_MS) throw new errors.HG_ERR_RANGE_TOO_LARGE(days(to - from), limits.maxRangeDays)
  const buckets = (to - from) / size
  if (buckets > limits.maxBuckets) throw new errors.HG_ERR_TOO_MANY_BUCKETS(buckets, limits.maxBuckets)
  return range
}

/**
 * The range a $skiptoken carries, checked again as if it were asked for now (a token signed with a
 * shared key may come from a process with other limits): it must belong to `set`, be aligned to its
 * granularity, lie in the years 2000..2100 and not past the current window, and keep the limits.
 */
export function tokenRange (token: { set: string, range: ReadRange }, set: EntitySetDef, limits: Limits, now: number): ReadRange {
  const size = BUCKET_MS[set.granularity]
  const { from, to } = token.range
  if (token.set !== set.name || from >= to || from % size !== 0 || to % size !== 0) {
    throw badOption('$skiptoken', 'it does not belong to this entity set')
  }
  if (from < EARLIEST || to > LATEST || to > bucketStart(now, set.granularity) + size) {
    throw badOption('$skiptoken', 'its range lies outside what this service serves; start again from the entity set')
  }
  return withinLimits(token.range, size, limits)
}

/** A plan in words, for tests and debug logs. */
export function describePlan (plan: FilterPlan): string {
  const parts: string[] = []
  if (plan.from !== null) parts.push(`from=${iso(plan.from)}`)
  if (plan.to !== null) parts.push(`to=${iso(plan.to)}`)
  for (const [k, v] of Object.entries(plan.filters)) parts.push(`${k}=${(v as string[]).join(',')}`)
  if (plan.empty) parts.push('empty')
  return parts.join(' ')
}
