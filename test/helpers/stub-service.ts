// A stand-in for the real metrics service (src/merger + src/app/), so the API-layer tests can run
// without the data layers: it answers with fixed, plausible results of the right shape and knows
// nothing of Kafka, the speed store or gold. The end-to-end tests use the real app.
//
// Like the real merger, it refuses minute granularity where only hourly gold would exist: here,
// any `from` more than an hour before now.
import type { Dimensions, Limits, MetricsService, QualityReport, Readiness } from '../../src/merger/types.js'
import {
  BUCKET_MS, type DeadLetter, type EntitiesQuery, type EntitiesResult, errors, HOUR_MS, iso, type LiveQuery, MINUTE_MS, type MetricsQuery,
  type MetricsResult, type ResultMeta, type ResultRow
} from '../../src/model/index.js'
import { LIMITS_DEFAULTS } from './settings.js'

export const STUB_LIMITS: Limits = LIMITS_DEFAULTS

const EVENT_TYPES = ['page_view', 'purchase', 'search']
const REGIONS = ['eu-west', 'us-east']

export interface StubOptions {
  limits?: Partial<Limits>
  now?: () => number
  ready?: boolean
  /** make query() fail with a plain Error (not a catalogue error), to test the 500 path */
  failWith?: Error
}

export class StubMetricsService implements MetricsService {
  readonly limits: Limits
  readonly #now: () => number
  ready: boolean
  failWith: Error | undefined
  calls: Array<{ kind: 'query', q: MetricsQuery } | { kind: 'live', q: LiveQuery }> = []

  constructor (opts: StubOptions = {}) {
    this.limits = { ...STUB_LIMITS, ...opts.limits }
    this.#now = opts.now ?? Date.now
    this.ready = opts.ready ?? true
    this.failWith = opts.failWith
  }

  async query (q: MetricsQuery): Promise<MetricsResult> {
    this.calls.push({ kind: 'query', q })
    if (this.failWith !== undefined) throw this.failWith
    const now = this.#now()
    const speedFrom = Math.floor((now - HOUR_MS) / MINUTE_MS) * MINUTE_MS
    if (q.granularity === 'minute' && q.from < speedFrom) {
      throw new errors.HG_ERR_MINUTE_NOT_AVAILABLE(iso(speedFrom), iso(q.from))
    }
    return { rows: this.#rows(q.from, q.to, BUCKET_MS[q.granularity], q), meta: this.#meta(q.from, q.to, q.granularity, speedFrom) }
  }

  async live (q: LiveQuery): Promise<MetricsResult> {
    this.calls.push({ kind: 'live', q })
    const to = Math.floor(this.#now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS
    const from = to - Math.ceil(q.last / MINUTE_MS) * MINUTE_MS
    return { rows: this.#rows(from, to, MINUTE_MS, q), meta: this.#meta(from, to, 'minute', from) }
  }

  #rows (from: number, to: number, size: number, q: MetricsQuery | LiveQuery): ResultRow[] {
    const types = q.filters.event_type ?? EVENT_TYPES
    const regions = q.filters.region ?? REGIONS
    const groups: Array<Pick<ResultRow, 'event_type' | 'region'>> = []
    const byType = q.groupBy.includes('event_type')
    const byRegion = q.groupBy.includes('region')
    for (const t of byType ? types : [undefined]) {
      for (const r of byRegion ? regions : [undefined]) {
        groups.push({ ...(t === undefined ? {} : { event_type: t }), ...(r === undefined ? {} : { region: r }) })
      }
    }
    const rows: ResultRow[] = []
    // a handful of buckets is enough for shape tests
    for (let t = from, i = 0; t < to && i < 200; t += size, i++) {
      for (const g of groups) {
        const row: ResultRow = { window_start: iso(t), ...g }
        if (q.metrics.includes('total_events')) row.total_events = 120 + i
        if (q.metrics.includes('avg_latency')) row.avg_latency = i % 5 === 4 ? null : 12.5
        if (q.metrics.includes('p95_response')) row.p95_response = 340.2
        if (q.metrics.includes('total_revenue')) row.total_revenue = 1999.95
        rows.push(row)
      }
    }
    return rows
  }

  #meta (from: number, to: number, granularity: ResultMeta['granularity'], boundary: number): ResultMeta {
    const now = this.#now()
    const sources: ResultMeta['sources'] = []
    if (from < boundary) sources.push({ layer: 'batch', from: iso(from), to: iso(Math.min(to, boundary)) })
    if (to > boundary) sources.push({ layer: 'speed', from: iso(Math.max(from, boundary)), to: iso(to) })
    return {
      from: iso(from),
      to: iso(to),
      granularity,
      boundary: iso(boundary),
      sources,
      complete: true,
      gaps: [],
      freshness: { watermark: iso(Math.floor(now / MINUTE_MS) * MINUTE_MS - MINUTE_MS), lag_ms: 850 },
      batch_version: 7
    }
  }

  async entities (q: EntitiesQuery): Promise<EntitiesResult> {
    const speedFrom = Math.floor((this.#now() - HOUR_MS) / HOUR_MS) * HOUR_MS
    const entities = ['Berlin', 'Paris', 'Lufthansa'].map((entity, i) => ({ entity, n: 30 - 10 * i })).slice(0, q.limit)
    const meta = this.#meta(q.from, q.to, 'hour', speedFrom)
    return { entities, meta: { ...meta, sources: meta.sources.filter((s) => s.layer === 'batch') } }
  }

  async dimensions (): Promise<Dimensions> {
    return { event_types: [...EVENT_TYPES], regions: [...REGIONS] }
  }

  quality (): QualityReport {
    return {
      received: 10_000,
      valid: 9_950,
      invalid: 50,
      invalid_by_reason: { not_json: 20, bad_timestamp: 30 },
      duplicates: 100,
      late: 40,
      quality_ratio: 0.995
    }
  }

  deadLetters (limit: number): DeadLetter[] {
    const now = this.#now()
    const all: DeadLetter[] = Array.from({ length: 3 }, (_, i) => ({
      reason: i % 2 === 0 ? 'not_json' : 'bad_timestamp',
      detail: i % 2 === 0 ? 'Unexpected token' : 'timestamp is not an instant',
      raw: i % 2 === 0 ? '{"event_id": ' : '{"event_id":"e1","timestamp":"yesterday"}',
      source: { topic: 'events', partition: 0, offset: String(100 - i) },
      at: now - i * 1000
    }))
    return all.slice(0, limit)
  }

  async readiness (): Promise<Readiness> {
    return {
      ready: this.ready,
      reasons: this.ready ? [] : ['the speed layer has not started consuming'],
      batch_version: 7,
      speed_watermark: iso(Math.floor(this.#now() / MINUTE_MS) * MINUTE_MS - MINUTE_MS)
    }
  }

  async status (): Promise<{ batchVersion: number | null, batchAgeSeconds: number | null, watermarkLagSeconds: number | null }> {
    return { batchVersion: 7, batchAgeSeconds: 420, watermarkLagSeconds: 0.85 }
  }
}
