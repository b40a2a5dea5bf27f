// An anomalies query (GET /v1/anomalies, GraphQL `anomalies`) from what a client asked. Pure. `from` is required, `to`
// defaults to now; the filters are checked as /v1/metrics checks them (same codes). The range is not limited: the
// answer comes from a bounded log.
import type { AnomalyFilter } from '../../merger/anomaly-log.js'
import type { Limits } from '../../merger/types.js'
import { errors, iso } from '../../model/index.js'
import { type FilterInput, instant, parseFilters } from './parse-query.js'

type Maybe<T> = T | null | undefined

export interface AnomaliesInput {
  from?: Maybe<string>
  to?: Maybe<string>
  filter?: Maybe<FilterInput>
}

export function parseAnomaliesInput (input: AnomaliesInput, limits: Limits, now: number): AnomalyFilter {
  if (input.from === null || input.from === undefined) throw new errors.HG_ERR_MISSING_PARAMETER('from')
  const from = instant('from', input.from)
  const to = input.to === null || input.to === undefined ? now : instant('to', input.to)
  if (to <= from) throw new errors.HG_ERR_EMPTY_RANGE(iso(to), iso(from))
  return { from, to, ...parseFilters(input.filter, limits) }
}

/** REST's querystring: filter values comma-separated. */
export function anomaliesInput (raw: { from?: string, to?: string, event_type?: string, region?: string }): AnomaliesInput {
  return {
    from: raw.from,
    to: raw.to,
    filter: { event_type: raw.event_type?.split(','), region: raw.region?.split(',') }
  }
}
