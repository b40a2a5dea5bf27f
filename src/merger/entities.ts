// Top entities over a range. Entities exist only in gold (each hourly row keeps its most frequent ones; the speed
// layer keeps none), so gold answers the part before the batch boundary, and the part after it is reported as a
// speed_no_entities gap, in the same meta block as /v1/metrics (planned by the same merge rule).
import { type Coverage, type EntitiesQuery, type EntitiesResult, type GoldSource, iso } from '../model/index.js'
import { resultMeta } from './meta.js'
import { planQuery } from './plan.js'

export interface EntitiesSources {
  gold: GoldSource
  /** the speed layer's coverage, for the meta block's freshness */
  coverage: Coverage
  now: number
}

export async function topEntities ({ gold, coverage, now }: EntitiesSources, q: EntitiesQuery): Promise<EntitiesResult> {
  const snapshot = gold.snapshot()
  const plan = planQuery({
    from: q.from, to: q.to, granularity: 'hour', boundary: snapshot?.completeUntil ?? null, historyFrom: snapshot?.completeFrom ?? null,
    speed: coverage, now, speedStaleMs: Infinity
  })
  const gaps = plan.gaps.filter((g) => g.reason === 'before_history')
  // the part after the boundary, up to now (what has not happened yet is not missing)
  const until = plan.speed === null ? 0 : Math.min(plan.speed.to, Math.max(now, plan.speed.from))
  if (plan.speed !== null && plan.speed.from < until) gaps.push({ from: iso(plan.speed.from), to: iso(until), reason: 'speed_no_entities' })
  const batch = plan.batch
  const entities = batch === null || snapshot === null
    ? []
    : await gold.topEntities(snapshot, batch.from, batch.to, q.filters, q.limit)
  const meta = resultMeta({ from: plan.from, to: plan.to, sources: plan.sources.filter((s) => s.layer === 'batch'), gaps }, 'hour', snapshot, coverage, now)
  return { entities, meta }
}
