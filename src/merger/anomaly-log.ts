// The detected anomalies (src/model/anomaly.ts), kept in memory for GET /v1/anomalies, GraphQL, OData and /metrics, and
// pushed to listeners (GraphQL `anomalyDetected`). One entry per (minute, group, metric): a minute judged again
// replaces its entry and notifies no one a second time. Past `capacity` entries, the oldest minutes go.
import { type Anomaly, type AnomalyKind, anomalyKey, type AnomalyMetric, compareAnomalies } from '../model/index.js'

export interface AnomalyFilter {
  /** window_start in [from, to) */
  from: number
  to: number
  /** absent or empty: any; a value matches only groups of that value (not the overall group) */
  event_type?: readonly string[]
  region?: readonly string[]
}

/** What the APIs read (src/api/): the anomalies and their counts. */
export interface AnomalySource {
  /** the kept anomalies of the filter, by minute, then group, then metric */
  list (filter: AnomalyFilter): Anomaly[]
  /** anomalies recorded since the process started, per metric and kind */
  counts (): ReadonlyArray<{ metric: AnomalyMetric, kind: AnomalyKind, n: number }>
  /** calls `listener` with each new anomaly; returns the function that stops the calls */
  subscribe (listener: (a: Anomaly) => void): () => void
}

export class AnomalyLog implements AnomalySource {
  readonly capacity: number
  readonly #entries = new Map<string, Anomaly>()
  readonly #counts = new Map<string, { metric: AnomalyMetric, kind: AnomalyKind, n: number }>()
  readonly #listeners = new Set<(a: Anomaly) => void>()
  readonly #onError: (err: unknown) => void

  constructor (capacity = 10_000, onError: (err: unknown) => void = () => {}) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer')
    this.capacity = capacity
    this.#onError = onError
  }

  /** Record anomalies; returns the new ones (not seen before), which listeners are told of. */
  add (anomalies: readonly Anomaly[]): Anomaly[] {
    const fresh: Anomaly[] = []
    for (const a of anomalies) {
      const key = anomalyKey(a)
      const known = this.#entries.has(key)
      this.#entries.set(key, Object.freeze({ ...a }))
      if (known) continue
      fresh.push(a)
      const countKey = `${a.metric}|${a.kind}`
      const c = this.#counts.get(countKey) ?? { metric: a.metric, kind: a.kind, n: 0 }
      c.n++
      this.#counts.set(countKey, c)
    }
    if (this.#entries.size > this.capacity) {
      const oldest = [...this.#entries.entries()].sort((x, y) => compareAnomalies(x[1], y[1])).slice(0, this.#entries.size - this.capacity)
      for (const [key] of oldest) this.#entries.delete(key)
    }
    for (const a of fresh) {
      for (const listener of this.#listeners) {
        try { listener(a) } catch (err) { this.#onError(err) }
      }
    }
    return fresh
  }

  list (filter: AnomalyFilter): Anomaly[] {
    const types = filter.event_type !== undefined && filter.event_type.length > 0 ? new Set(filter.event_type) : null
    const regions = filter.region !== undefined && filter.region.length > 0 ? new Set(filter.region) : null
    const out: Anomaly[] = []
    for (const a of this.#entries.values()) {
      if (a.window_start < filter.from || a.window_start >= filter.to) continue
      if (types !== null && (a.event_type === null || !types.has(a.event_type))) continue
      if (regions !== null && (a.region === null || !regions.has(a.region))) continue
      out.push(a)
    }
    return out.sort(compareAnomalies)
  }

  counts (): Array<{ metric: AnomalyMetric, kind: AnomalyKind, n: number }> {
    return [...this.#counts.values()].map((c) => ({ ...c }))
  }

  subscribe (listener: (a: Anomaly) => void): () => void {
    const entry = (a: Anomaly): void => { listener(a) }
    this.#listeners.add(entry)
    return () => { this.#listeners.delete(entry) }
  }

  get size (): number {
    return this.#entries.size
  }

  /** listeners subscribed now */
  get listeners (): number {
    return this.#listeners.size
  }
}
