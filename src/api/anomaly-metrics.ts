// Prometheus: hourglass_anomalies_total{metric,kind}, the anomalies this process's log recorded since it started
// (read from the log at each scrape; every combination a detector can report starts at 0).
import { Counter, type Registry } from 'prom-client'
import type { AnomalySource } from '../merger/anomaly-log.js'
import type { AnomalyKind, AnomalyMetric } from '../model/index.js'

const NAME = 'hourglass_anomalies_total'
const SERIES: ReadonlyArray<{ metric: AnomalyMetric, kind: AnomalyKind }> = [
  { metric: 'total_events', kind: 'drop' }, { metric: 'total_events', kind: 'spike' },
  { metric: 'p95_response', kind: 'shift' },
  { metric: 'total_revenue', kind: 'drop' }, { metric: 'total_revenue', kind: 'spike' }
]

/** Register the counter on `registry` (once: a second call keeps the first source). */
export function registerAnomalyMetrics (registry: Registry, source: AnomalySource | undefined): void {
  if (registry.getSingleMetric(NAME) !== undefined) return
  new Counter({
    name: NAME,
    help: 'Anomalies detected on closed minute windows since the process started, by metric and kind',
    labelNames: ['metric', 'kind'] as const,
    registers: [registry],
    collect () {
      this.reset()
      for (const s of SERIES) this.inc(s, 0)
      for (const c of source?.counts() ?? []) this.inc({ metric: c.metric, kind: c.kind }, c.n)
    }
  })
}
