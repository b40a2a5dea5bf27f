// The metrics service: plans each query at the batch boundary, reads gold and the speed store
// through their interfaces, merges, finalises and writes the meta block.
import {
  bucketStart, type Coverage, type DeadLetter, type Dimension, type EntitiesQuery, type EntitiesResult, type Filters, type Granularity,
  type GoldSnapshot, type GoldSource, iso, type LiveQuery, MINUTE_MS, type MetricsQuery, type MetricsResult, type QualitySource, qualityRatio,
  type ResultRow, runSliced, type SpeedStore
} from '../model/index.js'
import { BatchCache, rollupBytes } from './batch-cache.js'
import { topEntities } from './entities.js'
import { finaliseOverSteps, FinalisedRollup, rollUpOver, rollUpSteps } from './merge.js'
import { resultMeta } from './meta.js'
import { type Plan, planQuery, type Range } from './plan.js'
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
  /** the most the batch-part cache holds, bytes as estimated by rollupBytes (absent: bounded by entries only) */
  cacheBytes?: number
  /** entries in the settled-speed-part cache and in the answer cache (0: read the whole speed part on every query) */
  speedCacheSize?: number
  /** whether the speed store holds only some partitions' windows (a memory store shared by no one): a speed_partial gap */
  speedPartial?: () => boolean
}

/** speedCacheSize when the caller does not say */
const SPEED_CACHE_SIZE = 64

function filterKey (f: Filters): string {
  return JSON.stringify([f.event_type ?? [], f.region ?? []])
}

/** what, besides the range, decides a rolled-up part */
function shapeKey (granularity: Granularity, groupBy: readonly Dimension[], filters: Filters): string {
  return [granularity, groupBy.join(','), filterKey(filters)].join('|')
}

/** a rolled-up part and the cache key it is known by ('none' for no part) */
interface Part { key: string, part: FinalisedRollup | null }

export class MergingMetricsService implements MetricsService {
  readonly limits: Limits
  /** batch parts by (gold version, range, shape), kept with their finalised groups */
  readonly cache: BatchCache<FinalisedRollup>
  /**
   * settled speed parts (minute windows the watermark has passed), rolled up over their batch part,
   * by (batch part, range, shape, the store's change token for the range)
   */
  readonly speedCache: BatchCache<FinalisedRollup>
  /** finalised rows of queries with a speed part, by (batch part, speed range, shape, metrics, change token) */
  readonly answerCache: BatchCache<ResultRow[]>
  /** the store's change tokens, or null when the speed caches are off */
  readonly #tokens: Pick<SpeedStore, 'changeToken'> | null
  readonly #gold: GoldSource
  readonly #speed: SpeedStore
  readonly #quality: QualitySource
  readonly #now: () => number
  readonly #staleMs: number
  readonly #partial: () => boolean
  #dimensions: { version: number, value: Dimensions } | null = null
  /** batch parts being read, by cache key: queries asking one at the same time share the read */
  readonly #reading = new Map<string, Promise<FinalisedRollup>>()

  constructor (opts: MetricsServiceOptions) {
    this.limits = opts.limits
    this.#gold = opts.gold
    this.#speed = opts.speed
    this.#quality = opts.quality
    this.#now = opts.now ?? Date.now
    // the speed layer is "behind" when its newest event is older than twice the allowed lateness
    this.#staleMs = Math.max(2 * opts.allowedLatenessMs, 30_000)
    this.#partial = opts.speedPartial ?? (() => false)
    this.cache = new BatchCache<FinalisedRollup>(opts.cacheSize, opts.cacheBytes === undefined ? undefined : { maxBytes: opts.cacheBytes, sizeOf: rollupBytes })
    this.speedCache = new BatchCache<FinalisedRollup>(opts.speedCacheSize ?? SPEED_CACHE_SIZE)
    this.answerCache = new BatchCache<ResultRow[]>(opts.speedCacheSize ?? SPEED_CACHE_SIZE)
    this.#tokens = opts.speedCacheSize !== 0 ? opts.speed : null
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
      speedStaleMs: this.#staleMs,
      speedPartial: this.#partial()
    })
    const shape = shapeKey(q.granularity, q.groupBy, q.filters)
    const batch = await this.#batchPart(q, plan, snapshot, shape)
    return {
      rows: await this.#finish(batch, plan.speed, coverage, q, shape),
      meta: resultMeta(plan, q.granularity, snapshot, coverage, now)
    }
  }

  async live (q: LiveQuery): Promise<MetricsResult> {
    const now = this.#now()
    const to = bucketStart(now, 'minute') + MINUTE_MS
    const from = to - Math.ceil(q.last / MINUTE_MS) * MINUTE_MS
    const coverage = await this.#speed.coverage()
    const plan = planQuery({
      from, to, granularity: 'minute', boundary: null, historyFrom: null, speed: coverage, now, speedStaleMs: this.#staleMs, speedPartial: this.#partial()
    })
    const shaped = { ...q, granularity: 'minute' as const }
    const rows = await this.#finish({ key: 'none', part: null }, { from, to }, coverage, shaped, shapeKey('minute', q.groupBy, q.filters))
    return { rows, meta: resultMeta(plan, 'minute', this.#gold.snapshot(), coverage, now) }
  }

  /**
   * The speed part over the batch part, finalised. Minute windows the watermark has passed are
   * settled: their rollup is kept (over the batch part) for as long as the store's change token for
   * them stays the same; the open minutes are read fresh. The finalised rows are kept too, for as
   * long as the token of the whole speed range stays the same, so a store that changes every
   * 200 ms costs one computation per change, however many queries come in between. The answer is
   * the same, addition for addition, as rolling every speed row up over a copy of the batch part.
   */
  async #finish (
    batch: Part, range: Range | null, coverage: Coverage,
    q: { granularity: Granularity, groupBy: Dimension[], filters: Filters, metrics: MetricsQuery['metrics'] }, shape: string
  ): Promise<ResultRow[]> {
    if (range === null) return await runSliced(finaliseOverSteps(batch.part, new Map(), q.metrics))
    let answerKey: string | null = null
    if (this.#tokens !== null) {
      // the token is read before the rows: a change in between leaves an entry no token leads to
      const token = await this.#tokens.changeToken(range.from, range.to)
      answerKey = [batch.key, range.from, range.to, shape, q.metrics.join(','), token].join('|')
      const kept = this.answerCache.get(answerKey)
      if (kept !== undefined) return kept.slice()
    }
    let base = batch.part
    let split = range.from
    if (this.#tokens !== null && coverage.watermark !== null) {
      split = Math.min(range.to, Math.max(range.from, bucketStart(coverage.watermark, 'minute')))
    }
    if (split > range.from) base = await this.#settledPart(batch, { from: range.from, to: split }, q, shape)
    const fresh = split < range.to ? await this.#speed.query(split, range.to, q.filters) : []
    const rows = await runSliced(finaliseOverSteps(base, rollUpOver(base?.rollup ?? null, fresh, q.granularity, q.groupBy), q.metrics))
    if (answerKey === null) return rows
    for (const row of rows) Object.freeze(row) // shared by the answers that follow
    this.answerCache.set(answerKey, rows)
    return rows.slice()
  }

  async #settledPart (
    batch: Part, range: Range, q: { granularity: Granularity, groupBy: Dimension[], filters: Filters }, shape: string
  ): Promise<FinalisedRollup> {
    // the token is read before the rows: a change in between leaves an entry no token leads to
    const token = await (this.#tokens as Pick<SpeedStore, 'changeToken'>).changeToken(range.from, range.to)
    const key = [batch.key, range.from, range.to, shape, token].join('|')
    const cached = this.speedCache.get(key)
    if (cached !== undefined) return cached
    const rows = await this.#speed.query(range.from, range.to, q.filters)
    const part = FinalisedRollup.over(batch.part, rollUpOver(batch.part?.rollup ?? null, rows, q.granularity, q.groupBy))
    this.speedCache.set(key, part)
    return part
  }

  async #batchPart (q: MetricsQuery, plan: Plan, snapshot: GoldSnapshot | null, shape: string): Promise<Part> {
    if (plan.batch === null || snapshot === null) return { key: 'none', part: null }
    const key = [snapshot.version, plan.batch.from, plan.batch.to, shape].join('|')
    const cached = this.cache.get(key)
    if (cached !== undefined) return { key, part: cached }
    let reading = this.#reading.get(key)
    if (reading === undefined) {
      const batch = plan.batch
      reading = (async () => {
        const rows = await this.#gold.query(snapshot, batch.from, batch.to, q.filters, q.granularity === 'day' ? 'day' : 'hour')
        const part = new FinalisedRollup(await runSliced(rollUpSteps(new Map(), rows, q.granularity, q.groupBy)))
        this.cache.set(key, part)
        return part
      })().finally(() => this.#reading.delete(key))
      this.#reading.set(key, reading)
    }
    return { key, part: await reading }
  }

  /** the top entities of [from, to): gold's part only (src/merger/entities.ts) */
  async entities (q: EntitiesQuery): Promise<EntitiesResult> {
    return await topEntities({ gold: this.#gold, coverage: await this.#speed.coverage(), now: this.#now() }, q)
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

