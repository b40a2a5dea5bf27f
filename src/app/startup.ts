// Start-up in the open: the HTTP server listens before the data layers are built (seeding, the
// first gold build and the bronze replay take half a minute or more), so a health check sees a
// live process at once. Until the app is built this service stands in for the metrics service:
// /readyz answers 503 with the stage under way, every data route 503 HG_ERR_NOT_READY. Once built
// it passes every call on, and readiness also reports the problems the app sets while they last
// (a Kafka outage).
import type { Observability } from '../api/observability.js'
import type { Config } from '../config.js'
import type { AnomalySource } from '../merger/anomaly-log.js'
import type { Dimensions, Limits, MetricsService, QualityReport, Readiness, ReconciliationSource } from '../merger/types.js'
import { type DeadLetter, type EntitiesQuery, type EntitiesResult, errors, iso, type LiveQuery, type MetricsQuery, type MetricsResult } from '../model/index.js'

/** The query limits of the settings. */
export function limitsOf (config: Config): Limits {
  return { maxBuckets: config.maxBuckets, maxRangeDays: config.maxRangeDays, maxFilterValues: config.maxFilterValues, retentionMs: config.retentionMs }
}

export class StartingService implements MetricsService {
  readonly limits: Limits
  readonly #signal: AbortSignal | undefined
  #stage = 'starting'
  #service: MetricsService | null = null
  /** what makes the service not ready while it lasts, by what it concerns */
  readonly #problems = new Map<string, string>()

  /** `signal`: a stop asked for during start-up ends it at the next stage */
  constructor (limits: Limits, signal?: AbortSignal) {
    this.limits = limits
    this.#signal = signal
  }

  /** what start-up is doing now ("seeding history", "building gold", …) */
  get stage (): string | null {
    return this.#service === null ? this.#stage : null
  }

  /** start-up moves on to `stage`; throws when a stop was asked for meanwhile */
  enter (stage: string): void {
    this.#signal?.throwIfAborted()
    this.#stage = stage
  }

  /** start-up is done: calls go to `service` from now on */
  serve (service: MetricsService): void {
    this.#service = service
  }

  /** a problem that makes the service not ready (`null`: it is over); `about` names what it concerns */
  problem (about: string, text: string | null, since?: number): void {
    if (text === null) this.#problems.delete(about)
    else this.#problems.set(about, since === undefined ? text : `${text} since ${iso(since)}`)
  }

  /** `log` as the server reads it: HG_ERR_NOT_READY until start-up is done, like every data route */
  reconciliations (log: ReconciliationSource): ReconciliationSource {
    return {
      latest: (limit) => { this.#ready(); return log.latest(limit) },
      get recorded () { return log.recorded }
    }
  }

  /** the anomaly log as the server reads it: its list HG_ERR_NOT_READY until start-up is done (counts and pushes pass) */
  anomalies (log: AnomalySource): AnomalySource {
    return {
      list: (filter) => { this.#ready(); return log.list(filter) },
      counts: () => log.counts(),
      subscribe: (listener) => log.subscribe(listener)
    }
  }

  #ready (): MetricsService {
    if (this.#service === null) throw new errors.HG_ERR_NOT_READY(`starting: ${this.#stage}`)
    return this.#service
  }

  query (q: MetricsQuery): Promise<MetricsResult> {
    return this.#ready().query(q)
  }

  live (q: LiveQuery): Promise<MetricsResult> {
    return this.#ready().live(q)
  }

  entities (q: EntitiesQuery): Promise<EntitiesResult> {
    return this.#ready().entities(q)
  }

  dimensions (): Promise<Dimensions> {
    return this.#ready().dimensions()
  }

  quality (): QualityReport {
    return this.#ready().quality()
  }

  deadLetters (limit: number): DeadLetter[] {
    return this.#ready().deadLetters(limit)
  }

  async readiness (): Promise<Readiness> {
    const problems = [...this.#problems.values()]
    if (this.#service === null) return { ready: false, reasons: [`starting: ${this.#stage}`, ...problems], batch_version: null, speed_watermark: null }
    const r = await this.#service.readiness()
    return { ...r, ready: r.ready && problems.length === 0, reasons: [...r.reasons, ...problems] }
  }

  async status (): ReturnType<MetricsService['status']> {
    if (this.#service === null) return { batchVersion: null, batchAgeSeconds: null, watermarkLagSeconds: null }
    return await this.#service.status()
  }
}

/** Where a Kafka consumer group's outage goes: a readiness problem while it lasts, and the outage gauge. */
export function reportKafkaOutages (starting: StartingService, observability: Observability): (group: string, since: number | null) => void {
  return (group, since) => {
    starting.problem(`kafka ${group}`, since === null ? null : `Kafka: consumer group ${group} reaches no broker`, since ?? undefined)
    observability.kafkaOutage(group, since)
  }
}
