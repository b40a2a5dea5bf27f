// A top-entities query (GET /v1/entities, GraphQL topEntities) from what a client asked. Pure. The range and filters
// are checked as /v1/metrics checks an hourly query (same codes, same limits), aligned outward to whole hours;
// `limit` is an integer 1..MAX_ENTITIES_LIMIT (default DEFAULT_ENTITIES_LIMIT), else HG_ERR_BAD_LIMIT.
import type { Limits } from '../../merger/types.js'
import { DEFAULT_ENTITIES_LIMIT, type EntitiesQuery, errors, MAX_ENTITIES_LIMIT } from '../../model/index.js'
import { type FilterInput, parseLimit, parseMetricsInput } from './parse-query.js'

type Maybe<T> = T | null | undefined

export interface EntitiesInput {
  from?: Maybe<string>
  to?: Maybe<string>
  filter?: Maybe<FilterInput>
  /** REST's text or GraphQL's Int */
  limit?: Maybe<string | number>
}

export function parseEntitiesLimit (limit: Maybe<string | number>): number {
  if (typeof limit === 'string') return parseLimit(limit, MAX_ENTITIES_LIMIT, DEFAULT_ENTITIES_LIMIT)
  if (limit === null || limit === undefined) return DEFAULT_ENTITIES_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ENTITIES_LIMIT) throw new errors.HG_ERR_BAD_LIMIT(MAX_ENTITIES_LIMIT)
  return limit
}

export function parseEntitiesInput (input: EntitiesInput, limits: Limits, now: number): EntitiesQuery {
  const q = parseMetricsInput({ from: input.from, to: input.to, granularity: 'hour', filter: input.filter }, limits, now)
  return { from: q.from, to: q.to, filters: q.filters, limit: parseEntitiesLimit(input.limit) }
}

/** REST's querystring: filter values comma-separated. */
export function entitiesInput (raw: { from?: string, to?: string, event_type?: string, region?: string, limit?: string }): EntitiesInput {
  return {
    from: raw.from,
    to: raw.to,
    filter: { event_type: raw.event_type?.split(','), region: raw.region?.split(',') },
    limit: raw.limit
  }
}
