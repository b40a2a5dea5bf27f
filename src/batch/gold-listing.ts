// What the gold reader reads: versions of gold as listings of files, from a source (our own Delta tables,
// or a Delta table another engine writes: delta/gold-table.ts).
import type { GoldSnapshot } from '../model/gold.js'

export interface GoldFile {
  path: string
  /** YYYY-MM-DD from a date= folder or partition value, null when the file has none (never pruned) */
  date: string | null
  /** gold columns held in the table's partition values rather than in the file */
  partitionValues?: Record<string, string | null>
}

/** One version of gold: what the merger sees of it and its files. */
export interface GoldListing {
  /** the same key is the same listing (not prepared again) */
  key: string
  snapshot: GoldSnapshot
  hourly: GoldFile[]
  /** daily gold: whole UTC days, each file with its date */
  daily: GoldFile[]
}

/** Where versions of gold come from; latest() resolves null while there is none, and throws what makes one unusable. */
export interface GoldListingSource {
  latest (): Promise<GoldListing | null>
}
