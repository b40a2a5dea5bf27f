// Query and result types shared by the merger and the APIs.
import type { MetricName } from './partials.js'
import type { Granularity } from './time.js'

export const DIMENSIONS = ['event_type', 'region'] as const
export type Dimension = typeof DIMENSIONS[number]

/** Filter values per dimension; an absent or empty list means "all". */
export interface Filters {
  event_type?: string[]
  region?: string[]
}

export interface MetricsQuery {
  from: number
  to: number
  granularity: Granularity
  groupBy: Dimension[]
  filters: Filters
  metrics: MetricName[]
}

export interface LiveQuery {
  /** window length in ms, ending now (open windows included) */
  last: number
  groupBy: Dimension[]
  filters: Filters
  metrics: MetricName[]
}

export type Layer = 'batch' | 'speed'

export interface SourceRange { layer: Layer, from: string, to: string }

/** speed_no_entities: top entities only (GET /v1/entities): the speed layer keeps none, so the part after the boundary has none */
export type GapReason = 'speed_not_covered' | 'speed_behind' | 'speed_partial' | 'before_history' | 'speed_no_entities'

export interface Gap { from: string, to: string, reason: GapReason }

export interface Freshness {
  /** the speed layer's watermark (event time up to which minute windows are closed) */
  watermark: string | null
  /** now − newest event time the speed layer has applied, ms */
  lag_ms: number | null
}

export interface ResultMeta {
  from: string
  to: string
  granularity: Granularity
  boundary: string | null
  sources: SourceRange[]
  complete: boolean
  gaps: Gap[]
  freshness: Freshness
  batch_version: number | null
}

export interface ResultRow {
  window_start: string
  event_type?: string
  region?: string
  total_events?: number
  avg_latency?: number | null
  p95_response?: number | null
  total_revenue?: number
  avg_sentiment?: number | null
  sentiment_positive?: number
  sentiment_neutral?: number
  sentiment_negative?: number
}

export interface MetricsResult {
  rows: ResultRow[]
  meta: ResultMeta
}
