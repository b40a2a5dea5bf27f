// The speed side of reconciliation: event counts and revenue of the speed store's closed minute windows, kept past the
// store's retention until gold has built their hour (with the defaults the store never holds a whole closed hour).
// Each minute is read once closed (its end ≤ the store's watermark) while the store still covers it, and kept for up
// to `keepMs`. A minute evicted or never covered before it was read breaks the run: the ledger starts again where the
// store's coverage starts.
import { HOUR_MS, MINUTE_MS, type SpeedStore } from '../model/index.js'
import type { CountRow, SpeedCoverage } from './reconcile.js'

export interface SpeedLedgerOptions {
  store: Pick<SpeedStore, 'coverage' | 'query'>
  /** how long closed minutes are kept when no gold claims them (default KEEP_MS) */
  keepMs?: number
}

const KEEP_MS = 3 * HOUR_MS

const floorMinute = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS
const ceilMinute = (t: number): number => Math.ceil(t / MINUTE_MS) * MINUTE_MS

export class SpeedLedger {
  readonly #store: Pick<SpeedStore, 'coverage' | 'query'>
  readonly #keepMs: number
  /** minute start → its rows (events and revenue only) */
  readonly #minutes = new Map<number, CountRow[]>()
  /**
   * every closed minute of [from, next) is held; null: nothing yet. (Lateness is judged per source partition, so a
   * partition running behind may still add to a minute read here: a small speed < batch difference.)
   */
  #from: number | null = null
  #next: number | null = null
  #last: Promise<void> = Promise.resolve()

  constructor (opts: SpeedLedgerOptions) {
    this.#store = opts.store
    this.#keepMs = opts.keepMs ?? KEEP_MS
  }

  /** Read the minutes the store closed since the last capture. Captures run one at a time. */
  capture (): Promise<void> {
    const run = this.#last.catch(() => undefined).then(() => this.#captureNow())
    this.#last = run
    return run
  }

  async #captureNow (): Promise<void> {
    const before = await this.#store.coverage()
    if (before.coveredFrom === null) { this.#reset(null); return }
    const heldFrom = ceilMinute(before.coveredFrom)
    // a start, or minutes lost between the last capture and what the store covers now
    if (this.#next === null || heldFrom > this.#next) this.#reset(heldFrom)
    const from = this.#next as number
    const closedUntil = before.watermark === null ? null : floorMinute(before.watermark)
    if (closedUntil === null || closedUntil <= from) return
    const rows = await this.#store.query(from, closedUntil, {})
    for (const r of rows) {
      let minute = this.#minutes.get(r.window_start)
      if (minute === undefined) { minute = []; this.#minutes.set(r.window_start, minute) }
      minute.push({
        window_start: r.window_start, event_type: r.event_type, region: r.region,
        partials: { events: r.partials.events, revenue_cents: r.partials.revenue_cents }
      })
    }
    this.#next = closedUntil
    // the store may have evicted a minute between the coverage and the query: then it is not held
    const after = await this.#store.coverage()
    const stillFrom = after.coveredFrom === null ? null : ceilMinute(after.coveredFrom)
    if (stillFrom === null || stillFrom > from) this.release(stillFrom ?? closedUntil)
    this.release(closedUntil - this.#keepMs)
  }

  #reset (from: number | null): void {
    this.#minutes.clear()
    this.#from = from
    this.#next = from
  }

  /** What the ledger holds, in the terms of the store's coverage. */
  coverage (): SpeedCoverage {
    return { coveredFrom: this.#from, closedUntil: this.#next }
  }

  /** The rows of the held minutes in [from, to). */
  rows (from: number, to: number): CountRow[] {
    const out: CountRow[] = []
    for (const [start, rows] of this.#minutes) if (start >= from && start < to) out.push(...rows)
    return out
  }

  /** Forget the minutes before `until` (gold has claimed them, or they are too old). */
  release (until: number): void {
    if (this.#from === null || until <= this.#from) return
    for (const start of this.#minutes.keys()) if (start < until) this.#minutes.delete(start)
    this.#from = Math.min(ceilMinute(until), this.#next as number)
  }

  /** minutes held (for tests and debugging) */
  get size (): number {
    return this.#minutes.size
  }
}
