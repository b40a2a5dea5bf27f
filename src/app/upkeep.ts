// The batch layer's upkeep inside `serve`: the batch job, bronze compaction and vacuum take turns
// (one queue: none of them runs while another does), each on a timer of its own. The batch job runs
// every batchIntervalMs and also batchHourDelayMs after each hour becomes complete (hour end +
// allowed lateness), so B lags the clock as little as the contract allows; compaction (bronze, then
// our gold Delta tables) and vacuum run every compactIntervalMs and vacuumIntervalMs (0 turns one off). Each run says what it did in
// one progress line; a failed run is logged and the next one comes as planned. Across processes the
// locks of src/batch/lock.ts keep `hourglass batch|compact|vacuum` from colliding with these (a run
// that finds another holding the lock says so and does nothing). With gold from a Delta table
// (`--gold delta:PATH`) no batch job runs: another engine writes gold.
import {
  type BatchSummary, type BronzeSink, compactBronze, compactGold, type CompactSummary, describeCompaction, describeGoldCompaction, describeVacuum,
  type GoldReader, runBatch, vacuum, type VacuumSummary
} from '../batch/index.js'
import { HOUR_MS } from '../model/index.js'
import type { AppContext } from './context.js'
import { ownGold } from './history.js'
import type { Part } from './lifecycle.js'

/** never two scheduled batch runs closer than this */
const MIN_BATCH_GAP_MS = 1000

export interface UpkeepDeps {
  sink: BronzeSink
  gold: GoldReader
  /** after a batch run that published (and the gold reader has loaded it) */
  afterPublish: () => Promise<void>
}

export class Upkeep implements Part {
  readonly name = 'upkeep'
  readonly #ctx: AppContext
  readonly #deps: UpkeepDeps
  #tail: Promise<unknown> = Promise.resolve()
  #batchRunning: Promise<BatchSummary> | null = null
  readonly #timers = new Set<NodeJS.Timeout>()
  #stopped = false

  constructor (ctx: AppContext, deps: UpkeepDeps) {
    this.#ctx = ctx
    this.#deps = deps
  }

  /** Run `fn` once every job queued before it has settled; later jobs wait for it. */
  inTurn<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn)
    this.#tail = next.catch(() => undefined)
    return next
  }

  /** Flush bronze, build gold for complete hours and load it (a call while one runs gets that run's summary). */
  async batchNow (): Promise<BatchSummary> {
    if (this.#batchRunning !== null) return await this.#batchRunning
    const { config, dataDir, db, now, progress } = this.#ctx
    this.#batchRunning = this.inTurn(async () => {
      await this.#deps.sink.flush()
      if (!ownGold(config)) return await this.#readDeltaGold()
      const summary = await runBatch({ dataDir, db, now: now(), allowedLatenessMs: config.allowedLatenessMs,
        onProgress: progress, checkpointInterval: config.deltaCheckpointInterval })
      if (summary.published) {
        await this.#deps.gold.reload()
        await this.#deps.afterPublish()
      }
      return summary
    })
    try {
      return await this.#batchRunning
    } finally {
      this.#batchRunning = null
    }
  }

  /** Delta gold: no batch job; the gold reader looks for a new version of the table. */
  async #readDeltaGold (): Promise<BatchSummary> {
    const started = Date.now()
    const published = await this.#deps.gold.reload()
    if (published) await this.#deps.afterPublish()
    const s = this.#deps.gold.snapshot()
    return {
      published, version: s?.version ?? null, completeUntil: s?.completeUntil ?? null, hoursBuilt: 0, events: 0, rows: 0, files: [],
      elapsedMs: Date.now() - started, hoursRebuilt: 0, datesRebuilt: [], dailyFiles: [], superseded: []
    }
  }

  /**
   * Merge the small bronze files of each finished hour, then (own gold) the files of each final date of the gold
   * Delta tables (in turn with the batch job); one progress line each.
   */
  compactNow (): Promise<CompactSummary> {
    return this.inTurn(async () => {
      const { config, dataDir, db, now, progress } = this.#ctx
      const s = await compactBronze({ dataDir, db })
      progress(describeCompaction(s))
      if (ownGold(config)) {
        const g = await compactGold({ dataDir, db, checkpointInterval: config.deltaCheckpointInterval, now, onProgress: progress })
        if (g.busy !== undefined || g.tables.length > 0) progress(describeGoldCompaction(g))
      }
      return s
    })
  }

  /** Remove bronze past its retention and gold files no version within the retention holds (in turn with the batch job). */
  vacuumNow (): Promise<VacuumSummary> {
    return this.inTurn(async () => {
      const { dataDir, config, now, progress } = this.#ctx
      const s = await vacuum({ dataDir, retainMs: config.bronzeRetentionMs, goldRetentionMs: config.goldRetentionMs, now: now(), onProgress: progress })
      progress(describeVacuum(s))
      return s
    })
  }

  /** The three timers (no batch timer with Delta gold); each interval is counted from the end of the last run. */
  start (): void {
    const { config, now } = this.#ctx
    if (ownGold(config)) {
      this.#every(() => {
        const t = now()
        const nextHourDone = Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS + config.allowedLatenessMs + config.batchHourDelayMs
        return Math.max(MIN_BATCH_GAP_MS, Math.min(config.batchIntervalMs, nextHourDone - t))
      }, 'batch run', () => this.batchNow())
    }
    this.#every(() => config.compactIntervalMs, 'compaction', () => this.compactNow())
    this.#every(() => config.vacuumIntervalMs, 'vacuum', () => this.vacuumNow())
  }

  #every (delayMs: () => number, what: string, run: () => Promise<unknown>): void {
    const ms = delayMs()
    if (ms <= 0 || this.#stopped) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (this.#stopped) return
      run().catch((err: unknown) => this.#ctx.log.error({ err }, `${what} failed`)).finally(() => this.#every(delayMs, what, run))
    }, ms).unref()
    this.#timers.add(timer)
  }

  /** No more scheduled runs; resolves once the job in progress (if any) has settled. */
  async close (): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await this.#tail
  }
}
