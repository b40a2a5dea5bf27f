// GraphQL arguments as the raw querystring REST would have received for them, so both go through
// the same parse functions (src/api/rest/parse-query.ts) and fail with the same codes.
import type { LiveQueryString, MetricsQueryString } from '../rest/parse-query.js'

export interface FilterArg { event_type?: string[] | null, region?: string[] | null }

export interface MetricsArgs {
  from: string
  to?: string | null
  granularity?: string | null
  groupBy?: string[] | null
  filter?: FilterArg | null
  metrics?: string[] | null
}

export interface LiveArgs {
  last?: string | null
  groupBy?: string[] | null
  filter?: FilterArg | null
  metrics?: string[] | null
}

export interface WindowUpdatedArgs {
  groupBy?: string[] | null
  filter?: FilterArg | null
}

/** null (given explicitly) and absent mean the same: the default */
export const given = <T>(v: T | null | undefined): T | undefined => v ?? undefined
export const list = (v: string[] | null | undefined): string | undefined => v === null || v === undefined ? undefined : v.join(',')

function withoutUndefined<T extends object> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

/** The querystring GET /v1/metrics would have received for these arguments. */
export function metricsQueryString (a: MetricsArgs): MetricsQueryString {
  return withoutUndefined({
    from: a.from,
    to: given(a.to),
    granularity: given(a.granularity),
    group_by: list(a.groupBy),
    event_type: given(a.filter?.event_type),
    region: given(a.filter?.region),
    metrics: list(a.metrics)
  })
}

/** The querystring GET /v1/metrics/live would have received for these arguments. */
export function liveQueryString (a: LiveArgs): LiveQueryString {
  return withoutUndefined({
    last: given(a.last),
    group_by: list(a.groupBy),
    event_type: given(a.filter?.event_type),
    region: given(a.filter?.region),
    metrics: list(a.metrics)
  })
}
