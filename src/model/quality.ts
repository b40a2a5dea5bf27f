// Data-quality counters kept by the speed pipeline and served by /v1/quality.
import type { DeadLetter, InvalidReason } from './event.js'

export interface QualityCounts {
  received: number
  valid: number
  invalid: number
  invalid_by_reason: Partial<Record<InvalidReason, number>>
  duplicates: number
  late: number
}

export interface QualitySource {
  counts (): QualityCounts
  /** the newest dead letters kept in memory (embedded mode), newest first */
  deadLetters (limit: number): DeadLetter[]
}

/** records that passed validation over all records received (1 when nothing was received) */
export function qualityRatio (c: QualityCounts): number {
  if (c.received === 0) return 1
  return c.valid / c.received
}
