// The gold contract as the merger sees it (docs/design.md, "Gold").
import type { EntityCount } from './entities.js'
import type { PartialRow } from './partials.js'
import type { Filters } from './query.js'

export const GOLD_FORMAT = 'hourglass-gold/1'

export interface GoldManifest {
  format: typeof GOLD_FORMAT
  version: number
  published_at: string
  /** every hour before this instant is final in gold (null: nothing built yet) */
  complete_until: string | null
  /** the first hour gold covers (bronze history starts here); optional for other writers */
  complete_from?: string | null
  sketch: { kind: 'ddsketch-log', relative_accuracy: number, zero_bin: number }
  tables: {
    hourly_metrics: { files: string[], rows: number }
    /** rolled up from hourly_metrics for whole UTC days before complete_until (optional) */
    daily_metrics?: { files: string[], rows: number }
    [name: string]: { files: string[], rows: number } | undefined
  }
  /**
   * Hourglass's own batch job: what each built hour was built from, as a fingerprint of its bronze
   * (date → "HH" → fingerprint; hours with no bronze are absent). Other writers leave it out.
   */
  built_from?: Record<string, Record<string, string>>
}

/** Bucket size of gold rows a query asks for: hourly rows, or rows rolled up per UTC day. */
export type GoldGranularity = 'hour' | 'day'

/** What the merger needs of the gold version in force (a Delta table version). */
export interface GoldSnapshot {
  version: number
  completeUntil: number | null
  completeFrom: number | null
  publishedAt: number
}

export interface GoldSource {
  /** the gold version in force, or null when no gold has been published */
  snapshot (): GoldSnapshot | null
  /**
   * Partial rows of that snapshot covering hours in [from, to): hourly rows (the default), or with
   * granularity 'day' one row per (UTC day, event_type, region), window_start the day's start,
   * summing the hours of that day inside [from, to) (from daily gold where a whole day is asked
   * for and built, else rolled up from hourly rows). Sources without daily support may ignore
   * the parameter only if they also return hour rows, which the caller then rolls up itself.
   */
  query (snapshot: GoldSnapshot, from: number, to: number, filters: Filters, granularity?: GoldGranularity): Promise<PartialRow[]>
  /** distinct event types and regions in the snapshot */
  dimensions (snapshot: GoldSnapshot): Promise<{ event_types: string[], regions: string[] }>
  /**
   * The `limit` most frequent entities of that snapshot's hourly rows in [from, to) that pass the filters: each row's
   * top entities summed per entity, by n descending, then entity. Gold without them (older gold, other engines) has
   * none.
   */
  topEntities (snapshot: GoldSnapshot, from: number, to: number, filters: Filters, limit: number): Promise<EntityCount[]>
}
