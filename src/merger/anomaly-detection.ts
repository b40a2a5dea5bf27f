// The detection stage's reads: the speed store's closed minute windows (every group, with the history before them) and
// gold's hourly rows of the previous days for the seasonal baseline, judged by the pure detector
// (src/model/anomaly.ts) and recorded in the log. Each run judges the minutes closed since the last one. What a minute
// is judged to be depends only on the store's rows and gold, so every process reading one shared store finds the same.
import {
  type Anomaly, compareAnomalies, DAY_MS, detectGroup, type DetectorSettings, type GoldSource, groupSeries, type HourlyBaseline, hourlyBaseline,
  MIN_HISTORY, MINUTE_MS, type SpeedStore
} from '../model/index.js'
import type { AnomalyLog } from './anomaly-log.js'

export interface AnomalyDetectionOptions {
  store: Pick<SpeedStore, 'coverage' | 'query'>
  gold: GoldSource
  log: AnomalyLog
  settings: DetectorSettings & {
    /** whole previous days of gold the baseline is taken from */
    baselineDays: number
  }
}

/** longest the detection holds the event loop at a time, ms */
const SLICE_MS = 10

const floorMinute = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS
const ceilMinute = (t: number): number => Math.ceil(t / MINUTE_MS) * MINUTE_MS

export class AnomalyDetection {
  readonly #opts: AnomalyDetectionOptions
  /** minutes before it are judged; null: none yet */
  #next: number | null = null
  #baseline: { key: string, value: HourlyBaseline } | null = null

  constructor (opts: AnomalyDetectionOptions) {
    this.#opts = opts
  }

  /**
   * Judge the minutes closed (end ≤ the store's watermark) since the last run, each with at least MIN_HISTORY minutes
   * the store covers before it; returns the anomalies new to the log.
   */
  async run (): Promise<Anomaly[]> {
    const { store, settings, log } = this.#opts
    const coverage = await store.coverage()
    if (coverage.coveredFrom === null || coverage.watermark === null) return []
    const covered = ceilMinute(coverage.coveredFrom)
    const closedUntil = floorMinute(coverage.watermark)
    const first = Math.max(this.#next ?? -Infinity, covered + MIN_HISTORY * MINUTE_MS)
    if (first >= closedUntil) return []
    const historyFrom = Math.max(covered, first - settings.historyMinutes * MINUTE_MS)
    const rows = await store.query(historyFrom, closedUntil, {})
    const found: Anomaly[] = []
    let turn = performance.now()
    for (let day = Math.floor(first / DAY_MS) * DAY_MS; day < closedUntil; day += DAY_MS) {
      for (const group of groupSeries(rows, await this.#baselineOf(day))) {
        found.push(...detectGroup(group, Math.max(first, day), Math.min(closedUntil, day + DAY_MS), historyFrom, settings))
        // many groups and minutes (a first run judges the store's whole hour): the event loop gets a turn every 10 ms
        if (performance.now() - turn > SLICE_MS) {
          await new Promise((resolve) => setImmediate(resolve))
          turn = performance.now()
        }
      }
    }
    found.sort(compareAnomalies)
    this.#next = closedUntil
    return log.add(found)
  }

  /** the baseline of the minutes of the UTC day from `day`: gold's whole days before it, kept per gold version */
  async #baselineOf (day: number): Promise<HourlyBaseline> {
    const { gold, settings } = this.#opts
    const snapshot = gold.snapshot()
    if (snapshot === null || snapshot.completeUntil === null) return new Map()
    const key = `${snapshot.version}|${day}`
    if (this.#baseline?.key === key) return this.#baseline.value
    const from = Math.max(day - settings.baselineDays * DAY_MS, Math.ceil((snapshot.completeFrom ?? -Infinity) / DAY_MS) * DAY_MS)
    const to = Math.min(day, Math.floor(snapshot.completeUntil / DAY_MS) * DAY_MS)
    const value = to - from < DAY_MS ? new Map() : hourlyBaseline(await gold.query(snapshot, from, to, {}, 'hour'), from, to)
    this.#baseline = { key, value }
    return value
  }
}
