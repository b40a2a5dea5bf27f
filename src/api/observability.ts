// Prometheus metrics on a per-server prom-client Registry (never the global one, so tests can build
// many servers): process defaults, HTTP request durations per route, the speed pipeline's event
// counters and store apply time, batch version and age, watermark lag, and the newest speed-vs-batch
// reconciliation (gauges of the latest reconciled hour only: no hour label, so no unbounded series),
// readiness, and Kafka outages (per consumer group: how long no broker has answered it).
//
// The composition root creates the Observability first, hands `observeApply` to the speed
// pipeline, then passes the same object to buildServer, which binds the service (the source of the
// scrape-time counters and gauges) and serves GET /metrics.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { ENRICH_SKIP_REASONS, type EnrichSkipReason, INVALID_REASONS, isHourglassError } from '../model/index.js'
import type { MetricsService, ReconciliationSource } from '../merger/types.js'

/** What the scrape-time metrics read. */
export type ObservedService = Pick<MetricsService, 'quality' | 'status' | 'readiness'>

export interface Observability {
  readonly registry: Registry
  /** one speed-store apply took this long (the composition root wires it to the speed pipeline) */
  observeApply (seconds: number): void
  /** one HTTP request was answered (the server's onResponse hook calls it) */
  observeRequest (method: string, route: string, statusCode: number, seconds: number): void
  /** read event counters and batch/speed gauges from this service at each scrape */
  bindService (service: ObservedService): void
  /** read the reconciliation gauges and counter from this source at each scrape */
  bindReconciliations (source: ReconciliationSource): void
  /** a Kafka consumer group lost every broker at `since` (epoch ms), or has them again (null) */
  kafkaOutage (group: string, since: number | null): void
  /** the speed layer's enrichment stage enriched these events and left these unenriched, by reason */
  observeEnrich (enriched: number, skipped: Partial<Record<EnrichSkipReason, number>>): void
}

export interface ObservabilityOptions {
  /** default: a new Registry */
  registry?: Registry
  /** process metrics (CPU, memory, event loop lag, GC); default true */
  defaultMetrics?: boolean
}

/** HTTP request durations, seconds: 1 ms .. 10 s */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** speed-store apply durations, seconds: 0.1 ms .. 1 s */
const APPLY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
/** one service.status() call serves every gauge of one scrape */
const STATUS_REUSE_MS = 1000

export function createObservability (opts: ObservabilityOptions = {}): Observability {
  const registry = opts.registry ?? new Registry()
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  let service: ObservedService | null = null
  let reconciliations: ReconciliationSource | null = null

  const http = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry]
  })
  const apply = new Histogram({
    name: 'hourglass_store_apply_seconds',
    help: 'Time to apply one consumed batch of window deltas to the speed store',
    buckets: APPLY_BUCKETS,
    registers: [registry]
  })

  // Counters mirror the speed pipeline's own counts, read at scrape time (none while the app starts).
  const quality = (): ReturnType<ObservedService['quality']> | null => unlessStarting(() => service?.quality()) ?? null
  const counter = (name: string, help: string, read: (q: ReturnType<ObservedService['quality']>) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect () {
        const q = quality()
        if (q === null) return
        this.reset()
        this.inc(read(q))
      }
    })
  }
  counter('hourglass_events_received_total', 'Records consumed', (q) => q.received)
  counter('hourglass_events_valid_total', 'Records that passed validation', (q) => q.valid)
  counter('hourglass_events_duplicate_total', 'Valid records dropped as duplicates', (q) => q.duplicates)
  counter('hourglass_events_late_total', 'Valid records past the allowed lateness, left to the batch layer', (q) => q.late)
  new Counter({
    name: 'hourglass_events_invalid_total',
    help: 'Records sent to the dead-letter topic, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect () {
      const byReason = quality()?.invalid_by_reason
      if (byReason === undefined) return
      this.reset()
      for (const reason of INVALID_REASONS) this.inc({ reason }, byReason[reason] ?? 0)
    }
  })

  let status: { at: number, value: ReturnType<ObservedService['status']> } | null = null
  const readStatus = (): ReturnType<ObservedService['status']> | null => {
    if (service === null) return null
    const now = Date.now()
    if (status === null || now - status.at > STATUS_REUSE_MS) status = { at: now, value: service.status() }
    return status.value
  }
  type Status = Awaited<ReturnType<ObservedService['status']>>
  const gauge = (name: string, help: string, read: (s: Status) => number | null): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect () {
        const pending = readStatus()
        if (pending === null) return
        const value = read(await pending)
        this.set(value ?? NaN) // NaN: not known yet (no gold, or nothing applied)
      }
    })
  }
  gauge('hourglass_speed_watermark_lag_seconds', 'Now minus the newest event time the speed layer applied, seconds', (s) => s.watermarkLagSeconds)
  gauge('hourglass_batch_version', 'Version of the gold being served (Delta table version)', (s) => s.batchVersion)
  gauge('hourglass_batch_age_seconds', 'Seconds since the served gold version was published', (s) => s.batchAgeSeconds)

  new Gauge({
    name: 'hourglass_ready',
    help: '1 when the service can answer queries (GET /readyz 200), 0 while it starts or a source is down',
    registers: [registry],
    async collect () {
      if (service !== null) this.set((await service.readiness()).ready ? 1 : 0)
    }
  })
  const outages = new Map<string, number | null>()
  new Gauge({
    name: 'hourglass_kafka_outage_seconds',
    help: 'Seconds since a Kafka consumer group last reached a broker (0 while it does), by consumer group',
    labelNames: ['group'] as const,
    registers: [registry],
    collect () {
      const now = Date.now()
      for (const [group, since] of outages) this.set({ group }, since === null ? 0 : (now - since) / 1000)
    }
  })

  // Reconciliation: the newest reconciled hour, speed against batch (NaN until one is reconciled).
  type Latest = ReturnType<ReconciliationSource['latest']>[number]
  const reconciled = (name: string, help: string, read: (r: Latest) => number | null): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect () {
        const latest = unlessStarting(() => reconciliations?.latest(1)[0])
        this.set(latest === undefined ? NaN : read(latest) ?? NaN)
      }
    })
  }
  reconciled('hourglass_reconciliation_hour_timestamp_seconds', 'Start of the newest reconciled hour, Unix seconds', (r) => r.hour / 1000)
  reconciled('hourglass_reconciliation_speed_events', 'Events the speed layer counted in the newest reconciled hour', (r) => r.speed_events)
  reconciled('hourglass_reconciliation_batch_events', 'Events the batch layer counted in the newest reconciled hour', (r) => r.batch_events)
  reconciled('hourglass_reconciliation_events_diff',
    'Speed minus batch events in the newest reconciled hour (negative: late events the speed layer left out)', (r) => r.events_diff)
  reconciled('hourglass_reconciliation_events_relative_diff',
    'Speed minus batch events over batch events in the newest reconciled hour (NaN when the batch counted none)', (r) => r.events_relative_diff)
  reconciled('hourglass_reconciliation_revenue_diff', 'Speed minus batch revenue in the newest reconciled hour', (r) => r.revenue_diff_cents / 100)
  new Counter({
    name: 'hourglass_reconciled_hours_total',
    help: 'Hours whose speed and batch totals were compared',
    registers: [registry],
    collect () {
      this.reset()
      this.inc(reconciliations?.recorded ?? 0)
    }
  })

  // enrichment (speed layer): counted as it happens
  const enriched = new Counter({
    name: 'hourglass_events_enriched_total',
    help: 'Events whose text the speed layer enriched (work done: a batch consumed again after a rebalance counts again)',
    registers: [registry]
  })
  const enrichSkipped = new Counter({
    name: 'hourglass_enrich_skipped_total',
    help: 'Events with text the speed layer left unenriched, by reason: budget (time budget spent), error, unavailable (breaker open)',
    labelNames: ['reason'] as const,
    registers: [registry]
  })
  for (const reason of ENRICH_SKIP_REASONS) enrichSkipped.inc({ reason }, 0)

  return {
    registry,
    observeApply (seconds) { apply.observe(seconds) },
    observeEnrich (n, skipped) {
      if (n > 0) enriched.inc(n)
      for (const [reason, k] of Object.entries(skipped)) if (k > 0) enrichSkipped.inc({ reason }, k)
    },
    observeRequest (method, route, statusCode, seconds) {
      http.observe({ method, route, status_code: String(statusCode) }, seconds)
    },
    bindService (s) {
      service = s
      status = null
    },
    bindReconciliations (source) {
      reconciliations = source
    },
    kafkaOutage (group, since) {
      outages.set(group, since)
    }
  }
}

/** What `read` returns, or undefined while the app is starting (it throws HG_ERR_NOT_READY). */
function unlessStarting<T> (read: () => T): T | undefined {
  try {
    return read()
  } catch (err) {
    if (isHourglassError(err) && err.code === 'HG_ERR_NOT_READY') return undefined
    throw err
  }
}

/** Route label of requests that matched no route (one label value, not one per URL). */
export const UNMATCHED_ROUTE = 'unmatched'

export interface ObservabilityPluginOptions {
  observability: Observability
  service: ObservedService
  /** speed-vs-batch reconciliations (absent: the gauges stay NaN) */
  reconciliations?: ReconciliationSource
}

async function observabilityPlugin (app: FastifyInstance, opts: ObservabilityPluginOptions): Promise<void> {
  const { observability } = opts
  observability.bindService(opts.service)
  if (opts.reconciliations !== undefined) observability.bindReconciliations(opts.reconciliations)

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE
    observability.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000)
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const text = await observability.registry.metrics()
    return reply.type(observability.registry.contentType).send(text)
  })
}

export default fp(observabilityPlugin, { name: 'hourglass-observability', fastify: '5.x' })
