// What the APIs (REST now; GraphQL and OData later) need of the merger. The API layer knows only
// this interface and src/model; src/app/ wires the implementation in.
import type { DeadLetter, EntitiesQuery, EntitiesResult, LiveQuery, MetricsQuery, MetricsResult, QualityCounts } from '../model/index.js'
import type { Reconciliation } from './reconcile.js'

export interface Limits {
  /** most buckets × groups one query may produce */
  maxBuckets: number
  /** longest range of /v1/metrics, days */
  maxRangeDays: number
  /** most values in one filter */
  maxFilterValues: number
  /** what the speed layer keeps (longest `last` of /v1/metrics/live), ms */
  retentionMs: number
}

export interface QualityReport extends QualityCounts {
  /** valid / received */
  quality_ratio: number
}

export interface Dimensions {
  event_types: string[]
  regions: string[]
}

export interface Readiness {
  ready: boolean
  /** what is missing when not ready */
  reasons: string[]
  batch_version: number | null
  speed_watermark: string | null
}

export interface MetricsService {
  readonly limits: Limits
  /**
   * merged batch + speed answer; throws catalogue errors (HG_ERR_*) for queries it cannot answer.
   * The rows array is the caller's; the row objects may be frozen and shared between answers.
   */
  query (q: MetricsQuery): Promise<MetricsResult>
  /** speed only, minute windows ending now, open windows included */
  live (q: LiveQuery): Promise<MetricsResult>
  /** the most frequent entities of [from, to) in gold (the speed layer keeps none: a speed_no_entities gap after the boundary) */
  entities (q: EntitiesQuery): Promise<EntitiesResult>
  dimensions (): Promise<Dimensions>
  quality (): QualityReport
  deadLetters (limit: number): DeadLetter[]
  readiness (): Promise<Readiness>
  /** gauges for /metrics: batch version and age, speed watermark lag */
  status (): Promise<{ batchVersion: number | null, batchAgeSeconds: number | null, watermarkLagSeconds: number | null }>
}

/**
 * The minute windows the speed layer has just changed, for live pushes (GraphQL `windowUpdated`).
 * The composition root implements it from the pipeline's applies: after each batch the store
 * applied, the distinct window_start of its deltas (src/merger/window-changes.ts has a ready hub
 * and a store decorator). Listeners are called synchronously and must return quickly: they only
 * note the windows, and read the data later, coalesced.
 */
export interface WindowChanges {
  /**
   * Calls `listener` with the window starts (epoch ms, minute-aligned, distinct) of each applied
   * batch; returns the function that stops the calls.
   */
  subscribe (listener: (windowStarts: readonly number[]) => void): () => void
}

/**
 * Speed-vs-batch reconciliations of the hours gold published while the speed layer still held them
 * (src/merger/reconciliation-log.ts keeps them; GET /v1/reconciliation and /metrics read them).
 */
export interface ReconciliationSource {
  /** the newest reconciliations, newest hour first, at most `limit` */
  latest (limit: number): Reconciliation[]
  /** reconciliations recorded since the process started */
  readonly recorded: number
}
