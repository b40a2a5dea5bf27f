// Anomaly detection inside `serve`: every anomalyIntervalMs (and at start) the minutes the speed store closed since the
// last run are judged against gold's seasonal baseline (src/merger/anomaly-detection.ts) and recorded in the log the
// APIs read. Runs never overlap. Every process detects from the store and gold it reads, so with a shared store
// (Redis, Cosmos DB) each process's log agrees; while a memory store holds only some partitions' windows (speed-share.ts)
// no run is made: every group would look like a drop.
import { type AnomalyLog, AnomalyDetection } from '../merger/index.js'
import { type GoldSource, iso, type SpeedStore } from '../model/index.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'

export interface Anomalies extends Part {
  /** one run, after the one in progress; never rejects (a failure is logged) */
  run (): Promise<void>
  /** run every anomalyIntervalMs */
  start (): void
}

export interface AnomaliesDeps {
  gold: GoldSource
  store: SpeedStore
  log: AnomalyLog
  /** whether the store holds only some partitions' windows */
  partial: () => boolean
}

export function openAnomalies (ctx: AppContext, { gold, store, log: anomalies, partial }: AnomaliesDeps): Anomalies {
  const { config, log } = ctx
  const detection = new AnomalyDetection({
    store,
    gold,
    log: anomalies,
    settings: {
      sensitivity: config.anomalySensitivity,
      minVolume: config.anomalyMinVolume,
      historyMinutes: config.anomalyHistoryMinutes,
      baselineDays: config.anomalyBaselineDays
    }
  })
  const enabled = config.anomalyDetection === 'on'
  let running: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  const run = (): Promise<void> => {
    if (!enabled) return running
    running = running.then(async () => {
      if (partial()) return
      for (const a of await detection.run()) {
        log.warn({
          minute: iso(a.window_start), eventType: a.event_type, region: a.region, metric: a.metric, kind: a.kind,
          observed: a.observed, expected: a.expected, score: a.score
        }, 'anomaly detected')
      }
    }).catch((err: unknown) => { log.error({ err }, 'anomaly detection failed') })
    return running
  }
  return {
    name: 'anomaly detection',
    run,
    start: () => { if (enabled) timer = setInterval(() => { void run() }, config.anomalyIntervalMs).unref() },
    close: async () => {
      clearInterval(timer)
      await running
    }
  }
}
