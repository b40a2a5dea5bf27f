// The gold contract as the merger sees it (DESIGN.md, "Gold").
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
    [name: string]: { files: string[], rows: number }
  }
}

/** What the merger needs of the current manifest. */
export interface GoldSnapshot {
  version: number
  completeUntil: number | null
  completeFrom: number | null
  publishedAt: number
}

export interface GoldSource {
  /** the manifest in force, or null when no gold has been published */
  snapshot (): GoldSnapshot | null
  /** hourly partial rows of that snapshot with window_start in [from, to) */
  query (snapshot: GoldSnapshot, from: number, to: number, filters: Filters): Promise<PartialRow[]>
  /** distinct event types and regions in the snapshot */
  dimensions (snapshot: GoldSnapshot): Promise<{ event_types: string[], regions: string[] }>
}
