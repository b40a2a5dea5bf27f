// The batch layer's upkeep inside `serve`: the batch job, bronze compaction and vacuum take turns
// (one queue: none of them runs while another does), and compaction and vacuum run on timers of
// their own (HOURGLASS_COMPACT_INTERVAL, HOURGLASS_VACUUM_INTERVAL; 0 turns one off). Each run
// says what it did in one progress line; a failed run is logged and the next one comes as planned.
// Across processes the locks of src/batch/lock.ts keep `hourglass batch|compact|vacuum` from
// colliding with these (a run that finds another holding the lock says so and does nothing).
import { compactBronze, type CompactSummary, type Db, describeCompaction, describeVacuum, vacuum, type VacuumSummary } from '../batch/index.js'
import type { Config } from '../config.js'

export interface UpkeepOptions {
  dataDir: string
  db: Db
  config: Pick<Config, 'compactIntervalMs' | 'vacuumIntervalMs' | 'bronzeRetentionMs' | 'goldKeepVersions'>
  now: () => number
  progress: (line: string) => void
  onError: (what: 'compaction' | 'vacuum', err: unknown) => void
}

export class Upkeep {
  readonly #o: UpkeepOptions
  #tail: Promise<unknown> = Promise.resolve()
  readonly #timers = new Set<NodeJS.Timeout>()
  #stopped = false

  constructor (options: UpkeepOptions) {
    this.#o = options
  }

  /** Run `fn` once every job queued before it has settled; later jobs wait for it. */
  inTurn<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn)
    this.#tail = next.catch(() => undefined)
    return next
  }

  /** Merge the small bronze files of each finished hour (in turn with the batch job). */
  compactNow (): Promise<CompactSummary> {
    return this.inTurn(async () => {
      const s = await compactBronze({ dataDir: this.#o.dataDir, db: this.#o.db })
      this.#o.progress(describeCompaction(s))
      return s
    })
  }

  /** Remove bronze past its retention and gold files no recent manifest lists (in turn with the batch job). */
  vacuumNow (): Promise<VacuumSummary> {
    return this.inTurn(async () => {
      const { dataDir, config, now, progress } = this.#o
      const s = await vacuum({ dataDir, retainMs: config.bronzeRetentionMs, keepVersions: config.goldKeepVersions, now: now(), onProgress: progress })
      progress(describeVacuum(s))
      return s
    })
  }

  /** Compaction and vacuum on their timers, each interval counted from the end of the last run. */
  schedule (): void {
    this.#every(this.#o.config.compactIntervalMs, 'compaction', () => this.compactNow())
    this.#every(this.#o.config.vacuumIntervalMs, 'vacuum', () => this.vacuumNow())
  }

  #every (intervalMs: number, what: 'compaction' | 'vacuum', run: () => Promise<unknown>): void {
    if (intervalMs <= 0 || this.#stopped) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (this.#stopped) return
      run().catch((err: unknown) => this.#o.onError(what, err)).finally(() => this.#every(intervalMs, what, run))
    }, intervalMs).unref()
    this.#timers.add(timer)
  }

  /** No more scheduled runs; resolves once the job in progress (if any) has settled. */
  async stop (): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await this.#tail
  }
}
