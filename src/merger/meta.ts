// The meta block of an answer: the range served, the boundary, which layer served which part, the gaps, the speed
// layer's freshness and the gold version (README, the meta table).
import { type Coverage, type GoldSnapshot, iso, type ResultMeta } from '../model/index.js'
import type { Plan } from './plan.js'

export function resultMeta (
  plan: Pick<Plan, 'from' | 'to' | 'sources' | 'gaps'>, granularity: ResultMeta['granularity'], snapshot: GoldSnapshot | null, coverage: Coverage, now: number
): ResultMeta {
  return {
    from: iso(plan.from),
    to: iso(plan.to),
    granularity,
    boundary: snapshot?.completeUntil == null ? null : iso(snapshot.completeUntil),
    sources: plan.sources,
    complete: plan.gaps.length === 0,
    gaps: plan.gaps,
    freshness: {
      watermark: coverage.watermark === null ? null : iso(coverage.watermark),
      lag_ms: coverage.maxEventTime === null ? null : Math.max(0, now - coverage.maxEventTime)
    },
    batch_version: snapshot?.version ?? null
  }
}
