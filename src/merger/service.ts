// The metrics service: plans each query at the batch boundary, reads gold and the speed store
// through their interfaces, merges, finalises and writes the meta block.
import { bucketStart, type Coverage, type DeadLetter, type Filters, type GoldSnapshot, type GoldSource, iso, type LiveQuery, MINUTE_MS, type MetricsQuery, type MetricsResult, type QualitySource, qualityRatio, type ResultMeta, type SpeedStore } from '../model/index.js'
import { BatchCache } from './batch-cache.js'
import { cloneRollup, finaliseRollup, type Rollup, rollUp } from './merge.js'
import { type Plan, planQuery } from './plan.js'
import type { Dimensions, Limits, MetricsService, QualityReport, Readiness } from './types.js'

export interface MetricsServiceOptions {
  gold: GoldSource
  speed: SpeedStore
  quality: QualitySource
  limits: Limits
  allowedLatenessMs: number
  now?: () => number
  /** entries in the batch-part cache */
  cacheSize?: number
}

function filterKey (f: Filters): string {
  return JSON.stringify([f.event_type ?? [], f.region ?? []])
}

export class MergingMetricsService implements MetricsService {
  readonly limits: Limits
  readonly cache: BatchCache
  readonly #gold: GoldSource
  readonly #speed: SpeedStore
  readonly #quality: QualitySource
  readonly #now: () => number
  readonly #staleMs: number
  #dimensions: { version: number, value: Dimensions } | null = null

  constructor (opts: MetricsServiceOptions) {
    this.limits = opts.limits
    this.#gold = opts.gold
    this.#speed = opts.speed
    this.#quality = opts.quality
    this.#now = opts.now ?? Date.now
    // the speed layer is "behind" when its newest event is older than twice the allowed lateness
    this.#staleMs = Math.max(2 * opts.allowedLatenessMs, 30_000)
    this.cache = new BatchCache(opts.cacheSize)
  }

  async query (q: MetricsQuery): Promise<MetricsResult> {
    const now = this.#now()
    const snapshot = this.#gold.snapshot()
    const coverage = await this.#speed.coverage()
    const plan = planQuery({
      from: q.from,
      to: q.to,
      granularity: q.granularity,
      boundary: snapshot?.completeUntil ?? null,
      historyFrom: snapshot?.completeFrom ?? null,
      speed: coverage,
      now,
      speedStaleMs: this.#staleMs
    })
    const [batchPart, speedRows] = await Promise.all([
      this.#batchPart(q, plan, snapshot),
      plan.speed === null ? [] : this.#speed.query(plan.speed.from, plan.speed.to, q.filters)
    ])
    const merged = batchPart === null ? new Map() : cloneRollup(batchPart)
    rollUp(merged, speedRows, q.granularity, q.groupBy)
    return { rows: finaliseRollup(merged, q.metrics), meta: this.#meta(plan, q.granularity, snapshot, coverage, now) }
  }

  async live (q: LiveQuery): Promise<MetricsResult> {
    const now = this.#now()
    const to = bucketStart(now, 'minute') + MINUTE_MS
    const from = to - Math.ceil(q.last / MINUTE_MS) * MINUTE_MS
    const coverage = await this.#speed.coverage()
    const plan = planQuery({ from, to, granularity: 'minute', boundary: null, historyFrom: null, speed: coverage, now, speedStaleMs: this.#staleMs })
    const rows = await this.#speed.query(from, to, q.filters)
    const merged: Rollup = rollUp(new Map(), rows, 'minute', q.groupBy)
    return { rows: finaliseRollup(merged, q.metrics), meta: this.#meta(plan, 'minute', this.#gold.snapshot(), coverage, now) }
  }

  async #batchPart (q: MetricsQuery, plan: Plan, snapshot: GoldSnapshot | null): Promise<Rollup | null> {
    if (plan.batch === null || snapshot === null) return null
    const key = [snapshot.version, plan.batch.from, plan.batch.to, q.granularity, q.groupBy.join(','), filterKey(q.filters)].join('|')
    const cached = this.cache.get(key)
    if (cached !== undefined) return cached
    const rows = await this.#gold.query(snapshot, plan.batch.from, plan.batch.to, q.filters)
    const rollup = rollUp(new Map(), rows, q.granularity, q.groupBy)
    this.cache.set(key, rollup)
    return rollup
  }

  #meta (plan: Plan, granularity: ResultMeta['granularity'], snapshot: GoldSnapshot | null, coverage: Coverage, now: number): ResultMeta {
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

  async dimensions (): Promise<Dimensions> {
    const snapshot = this.#gold.snapshot()
    let gold: Dimensions = { event_types: [], regions: [] }
    if (snapshot !== null) {
      if (this.#dimensions?.version !== snapshot.version) {
        this.#dimensions = { version: snapshot.version, value: await this.#gold.dimensions(snapshot) }
      }
      gold = this.#dimensions.value
    }
    const now = this.#now()
    const speedRows = await this.#speed.query(now - this.limits.retentionMs, now + MINUTE_MS, {})
    const types = new Set(gold.event_types); const regions = new Set(gold.regions)
    for (const r of speedRows) { types.add(r.event_type); regions.add(r.region) }
    return { event_types: [...types].sort(), regions: [...regions].sort() }
  }

  quality (): QualityReport {
    const c = this.#quality.counts()
    return { ...c, quality_ratio: qualityRatio(c) }
  }

  deadLetters (limit: number): DeadLetter[] {
    return this.#quality.deadLetters(limit)
  }

  async readiness (): Promise<Readiness> {
    const snapshot = this.#gold.snapshot()
    const coverage = await this.#speed.coverage()
    const reasons: string[] = []
    if (coverage.coveredFrom === null) reasons.push('the speed layer has not started consuming')
    return {
      ready: reasons.length === 0,
      reasons,
      batch_version: snapshot?.version ?? null,
      speed_watermark: coverage.watermark === null ? null : iso(coverage.watermark)
    }
  }

  async status (): Promise<{ batchVersion: number | null, batchAgeSeconds: number | null, watermarkLagSeconds: number | null }> {
    const now = this.#now()
    const snapshot = this.#gold.snapshot()
    const coverage = await this.#speed.coverage()
    return {
      batchVersion: snapshot?.version ?? null,
      batchAgeSeconds: snapshot === null ? null : (now - snapshot.publishedAt) / 1000,
      watermarkLagSeconds: coverage.maxEventTime === null ? null : Math.max(0, now - coverage.maxEventTime) / 1000
    }
  }
}

