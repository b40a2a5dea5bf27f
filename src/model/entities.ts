// Top entities: the most frequent named entities of enriched events' text, kept per hourly gold row (the batch
// layer only: the speed layer keeps none) and summed over a range (GET /v1/entities, GraphQL topEntities).
import type { Filters, ResultMeta } from './query.js'

/** an entity and how often it was named */
export interface EntityCount {
  entity: string
  n: number
}

/** each gold row (hour or day × event_type × region) keeps its most frequent entities, at most this many */
export const TOP_ENTITIES_PER_ROW = 10

export const DEFAULT_ENTITIES_LIMIT = 10
export const MAX_ENTITIES_LIMIT = 100

/** [from, to) hour-aligned, the filters, and how many entities to return */
export interface EntitiesQuery {
  from: number
  to: number
  filters: Filters
  limit: number
}

export interface EntitiesResult {
  /** by n descending, then entity */
  entities: EntityCount[]
  meta: ResultMeta
}
