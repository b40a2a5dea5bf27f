// Metrics queries turned from what a client asked into typed queries. Pure: no I/O, the clock is a
// parameter. The typed entry (parseMetricsInput, parseLiveInput) takes lists as lists: GraphQL passes
// its arguments as they are, REST first splits its comma-separated querystring values
// (metricsInput, liveInput). Both then go through the same checks and fail with the same catalogue
// errors, whose messages say what to fix. The route schemas check the querystring's shape (which
// parameters exist, each given once).
import {
  BUCKET_MS, DAY_MS, DIMENSIONS, type Dimension, errors, type Filters, type Granularity, GRANULARITIES,
  iso, type LiveQuery, METRIC_NAMES, type MetricName, type MetricsQuery, parseDuration, parseInstant
} from '../../model/index.js'
import type { Limits } from '../../merger/types.js'

/** Absent and null (GraphQL's explicit null) both mean: the default. */
type Maybe<T> = T | null | undefined

/** Filter values per dimension, each list as asked (values may hold commas). */
export interface FilterInput {
  event_type?: Maybe<readonly string[]>
  region?: Maybe<readonly string[]>
}

/** A /v1/metrics query as typed input: GraphQL's `metrics` arguments, field for field. */
export interface MetricsInput {
  from?: Maybe<string>
  to?: Maybe<string>
  granularity?: Maybe<string>
  groupBy?: Maybe<readonly string[]>
  filter?: Maybe<FilterInput>
  metrics?: Maybe<readonly string[]>
}

/** A /v1/metrics/live query as typed input: GraphQL's `live` arguments, field for field. */
export interface LiveInput {
  last?: Maybe<string>
  groupBy?: Maybe<readonly string[]>
  filter?: Maybe<FilterInput>
  metrics?: Maybe<readonly string[]>
}

/** The raw querystring of GET /v1/metrics (every value as the client sent it). */
export interface MetricsQueryString {
  from?: string
  to?: string
  granularity?: string
  group_by?: string
  event_type?: string
  region?: string
  metrics?: string
}

/** The raw querystring of GET /v1/metrics/live. */
export interface LiveQueryString {
  last?: string
  group_by?: string
  event_type?: string
  region?: string
  metrics?: string
}

export const DEFAULT_GRANULARITY: Granularity = 'hour'
export const DEFAULT_LIVE_LAST = '15m'
export const DEFAULT_DEAD_LETTER_LIMIT = 50
export const MAX_DEAD_LETTER_LIMIT = 1000
/** longest filter value, characters (the event contract's limit for event_type and region) */
export const MAX_FILTER_VALUE_LENGTH = 64

export const EARLIEST = Date.UTC(2000, 0, 1) // inclusive
export const LATEST = Date.UTC(2101, 0, 1) // exclusive: the year 2100 is still allowed

export function instant (name: 'from' | 'to', text: string): number {
  const t = parseInstant(text)
  if (t === null) throw new errors.HG_ERR_BAD_TIMESTAMP(text)
  if (t < EARLIEST || t >= LATEST) throw new errors.HG_ERR_TIMESTAMP_OUT_OF_RANGE(`${name}=${text}`)
  return t
}

/** "1.5" for 1.5, "401" for 401.0, at most two decimals. */
function days (ms: number): string {
  return String(Math.round((ms / DAY_MS) * 100) / 100)
}

/** 3_600_000 → "1h", 5_400_000 → "90m": the largest unit that divides exactly. */
export function formatDuration (ms: number): string {
  for (const [unit, size] of [['d', DAY_MS], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

export function parseGranularity (text: Maybe<string>): Granularity {
  if (text === null || text === undefined) return DEFAULT_GRANULARITY
  if (!(GRANULARITIES as readonly string[]).includes(text)) throw new errors.HG_ERR_UNKNOWN_GRANULARITY(text)
  return text as Granularity
}

/** Dimensions to group by, in the order given; absent or empty → no grouping. */
export function parseGroupBy (items: Maybe<readonly string[]>): Dimension[] {
  const out: Dimension[] = []
  for (const item of items ?? []) {
    if (!(DIMENSIONS as readonly string[]).includes(item)) throw new errors.HG_ERR_UNKNOWN_DIMENSION(item)
    if (out.includes(item as Dimension)) throw new errors.HG_ERR_DUPLICATE_DIMENSION(item)
    out.push(item as Dimension)
  }
  return out
}

/**
 * One filter: values kept as given, duplicates dropped; absent → undefined. An empty list is as
 * invalid as an empty value: a filter that matches nothing is a mistake.
 */
function filterValues (name: Dimension, items: Maybe<readonly string[]>, limits: Limits): string[] | undefined {
  if (items === null || items === undefined) return undefined
  if (items.length === 0 || items.some((v) => v.length === 0 || v.length > MAX_FILTER_VALUE_LENGTH)) {
    throw new errors.HG_ERR_BAD_FILTER_VALUE(name)
  }
  const values = [...new Set(items)]
  if (values.length > limits.maxFilterValues) {
    throw new errors.HG_ERR_TOO_MANY_VALUES(name, values.length, limits.maxFilterValues)
  }
  return values
}

export function parseFilters (filter: Maybe<FilterInput>, limits: Limits): Filters {
  const filters: Filters = {}
  const eventTypes = filterValues('event_type', filter?.event_type, limits)
  if (eventTypes !== undefined) filters.event_type = eventTypes
  const regions = filterValues('region', filter?.region, limits)
  if (regions !== undefined) filters.region = regions
  return filters
}

/** The named metrics in catalogue order; absent → all four. */
export function parseMetrics (items: Maybe<readonly string[]>): MetricName[] {
  if (items === null || items === undefined) return [...METRIC_NAMES]
  // no metric at all is a mistake, reported as REST's `metrics=` is: an empty name
  if (items.length === 0) throw new errors.HG_ERR_UNKNOWN_METRIC('')
  const asked = new Set<string>()
  for (const item of items) {
    if (!(METRIC_NAMES as readonly string[]).includes(item)) throw new errors.HG_ERR_UNKNOWN_METRIC(item)
    asked.add(item)
  }
  return METRIC_NAMES.filter((m) => asked.has(m))
}

/** "a, b" → ['a', 'b']: REST's comma-separated names (dimensions, metrics), trimmed; blank → none. */
function names (text: string | undefined, blankIsNone: boolean): string[] | undefined {
  if (text === undefined) return undefined
  if (blankIsNone && text.trim() === '') return []
  return text.split(',').map((s) => s.trim())
}

/** REST's filter values "a,b" → ['a', 'b'], kept as given. */
function values (text: string | undefined): string[] | undefined {
  return text?.split(',')
}

/** The querystring of GET /v1/metrics as typed input. */
export function metricsInput (raw: MetricsQueryString): MetricsInput {
  return {
    from: raw.from,
    to: raw.to,
    granularity: raw.granularity,
    groupBy: names(raw.group_by, true),
    filter: { event_type: values(raw.event_type), region: values(raw.region) },
    metrics: names(raw.metrics, false)
  }
}

/** The querystring of GET /v1/metrics/live as typed input. */
export function liveInput (raw: LiveQueryString): LiveInput {
  return {
    last: raw.last,
    groupBy: names(raw.group_by, true),
    filter: { event_type: values(raw.event_type), region: values(raw.region) },
    metrics: names(raw.metrics, false)
  }
}

/**
 * A metrics query. `from` is required, `to` defaults to `now`; the range is aligned outward to the
 * granularity (from floored, to ceiled), which the merger reports back in meta.from / meta.to.
 */
export function parseMetricsInput (input: MetricsInput, limits: Limits, now: number): MetricsQuery {
  if (input.from === null || input.from === undefined) throw new errors.HG_ERR_MISSING_PARAMETER('from')
  const from = instant('from', input.from)
  const to = input.to === null || input.to === undefined ? now : instant('to', input.to)
  if (from > now) throw new errors.HG_ERR_FROM_IN_FUTURE(iso(from))
  if (to <= from) throw new errors.HG_ERR_EMPTY_RANGE(iso(to), iso(from))
  if (to - from > limits.maxRangeDays * DAY_MS) throw new errors.HG_ERR_RANGE_TOO_LARGE(days(to - from), limits.maxRangeDays)

  const granularity = parseGranularity(input.granularity)
  const size = BUCKET_MS[granularity]
  const alignedFrom = Math.floor(from / size) * size
  const alignedTo = Math.ceil(to / size) * size
  const buckets = (alignedTo - alignedFrom) / size
  if (buckets > limits.maxBuckets) throw new errors.HG_ERR_TOO_MANY_BUCKETS(buckets, limits.maxBuckets)

  return {
    from: alignedFrom,
    to: alignedTo,
    granularity,
    groupBy: parseGroupBy(input.groupBy),
    filters: parseFilters(input.filter, limits),
    metrics: parseMetrics(input.metrics)
  }
}

/** A live query: `last` (default 15m) up to the speed layer's retention. */
export function parseLiveInput (input: LiveInput, limits: Limits): LiveQuery {
  const text = input.last ?? DEFAULT_LIVE_LAST
  const last = parseDuration(text)
  if (last === null || last <= 0) throw new errors.HG_ERR_BAD_DURATION(text)
  if (last > limits.retentionMs) throw new errors.HG_ERR_LIVE_TOO_LONG(text, formatDuration(limits.retentionMs))
  return {
    last,
    groupBy: parseGroupBy(input.groupBy),
    filters: parseFilters(input.filter, limits),
    metrics: parseMetrics(input.metrics)
  }
}

/** GET /v1/metrics, from its querystring. */
export function parseMetricsQuery (raw: MetricsQueryString, limits: Limits, now: number): MetricsQuery {
  return parseMetricsInput(metricsInput(raw), limits, now)
}

/** GET /v1/metrics/live, from its querystring. */
export function parseLiveQuery (raw: LiveQueryString, limits: Limits): LiveQuery {
  return parseLiveInput(liveInput(raw), limits)
}

/** GET /v1/dead-letters?limit= (and /v1/reconciliation): an integer 1..max, default `fallback` (50). */
export function parseLimit (text: string | undefined, max = MAX_DEAD_LETTER_LIMIT, fallback = DEFAULT_DEAD_LETTER_LIMIT): number {
  if (text === undefined) return Math.min(fallback, max)
  if (!/^\d{1,7}$/.test(text)) throw new errors.HG_ERR_BAD_LIMIT(max)
  const n = Number(text)
  if (n < 1 || n > max) throw new errors.HG_ERR_BAD_LIMIT(max)
  return n
}
