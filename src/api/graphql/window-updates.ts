// The stream behind `subscription windowUpdated`: one per subscriber. It notes the minute windows
// the pipeline changes (WindowChanges), and when the subscriber is ready for the next update and
// at least `intervalMs` have passed since the last one, reads those windows once (filtered and
// grouped, through the metrics service's live answer) and sends the rows whose values changed
// since it last sent them. Changes that arrive meanwhile are coalesced into the next update, so a
// subscriber gets at most 1000 / intervalMs updates per second however fast events arrive, and a
// slow subscriber delays only itself.
import type { Dimension, Filters, MetricName, ResultMeta, ResultRow } from '../../model/index.js'
import { bucketStart, iso, METRIC_NAMES, MINUTE_MS } from '../../model/index.js'
import type { MetricsService, WindowChanges } from '../../merger/types.js'

/** at most four updates per second per subscriber */
export const DEFAULT_UPDATE_INTERVAL_MS = 250
/** after a failed read, the next attempt waits this long */
const RETRY_MS = 1000

export interface WindowUpdate {
  windows: string[]
  rows: ResultRow[]
  meta: ResultMeta
}

export interface WindowShape {
  groupBy: Dimension[]
  filters: Filters
  metrics?: MetricName[]
}

/**
 * Reads changed minute windows for one subscriber and keeps what it last sent of each row, so an
 * update carries only rows whose values changed (a window changed by events of other filters is
 * not sent again).
 */
export class WindowReader {
  readonly #service: MetricsService
  readonly #shape: Required<WindowShape>
  readonly #now: () => number
  /** row key → [window start, the row as last sent] */
  readonly #sent = new Map<string, [number, string]>()

  constructor (service: MetricsService, shape: WindowShape, now: () => number) {
    this.#service = service
    this.#shape = { metrics: [...METRIC_NAMES], ...shape }
    this.#now = now
  }

  /** The update for these window starts (ascending), or null when none of their rows changed. */
  async read (windowStarts: readonly number[]): Promise<WindowUpdate | null> {
    const oldest = windowStarts[0]
    if (oldest === undefined) return null
    const retention = this.#service.limits.retentionMs
    const end = bucketStart(this.#now(), 'minute') + MINUTE_MS
    const last = Math.min(end - oldest, Math.floor(retention / MINUTE_MS) * MINUTE_MS)
    if (last <= 0) return null // only windows ahead of the clock: live reaches them once it gets there
    const result = await this.#service.live({ last, groupBy: this.#shape.groupBy, filters: this.#shape.filters, metrics: this.#shape.metrics })
    const wanted = new Set(windowStarts.map(iso))
    const rows: ResultRow[] = []
    const windows = new Set<string>()
    for (const row of result.rows) {
      if (!wanted.has(row.window_start)) continue
      const key = `${row.window_start}\u0000${row.event_type ?? ''}\u0000${row.region ?? ''}`
      const text = JSON.stringify(row)
      if (this.#sent.get(key)?.[1] === text) continue
      this.#sent.set(key, [Date.parse(row.window_start), text])
      rows.push(row)
      windows.add(row.window_start)
    }
    this.#forget(end - retention - MINUTE_MS)
    if (rows.length === 0) return null
    return { windows: [...windows].sort(), rows, meta: result.meta }
  }

  /** rows of windows the speed layer no longer keeps */
  #forget (before: number): void {
    for (const [key, [start]] of this.#sent) if (start < before) this.#sent.delete(key)
  }
}

export interface WindowUpdateStreamOptions<T> {
  changes: WindowChanges
  /** the payload for these window starts (ascending), or null for nothing to send */
  read: (windowStarts: number[]) => Promise<T | null>
  intervalMs?: number
  /** a failed read (the windows are kept and read again later) */
  onError?: (err: unknown) => void
  now?: () => number
}

/**
 * An async iterator of coalesced payloads, as a subscription resolver returns it. `return()` (the
 * client stopped, or the socket closed) ends a pending `next()` and unsubscribes at once.
 */
export class WindowUpdateStream<T> implements AsyncIterableIterator<T> {
  readonly #pending = new Set<number>()
  readonly #read: (windowStarts: number[]) => Promise<T | null>
  readonly #intervalMs: number
  readonly #onError: (err: unknown) => void
  readonly #now: () => number
  readonly #unsubscribe: () => void
  #notBefore = -Infinity
  #closed = false
  #wake: (() => void) | null = null
  #timer: ReturnType<typeof setTimeout> | null = null

  constructor (opts: WindowUpdateStreamOptions<T>) {
    this.#read = opts.read
    this.#intervalMs = opts.intervalMs ?? DEFAULT_UPDATE_INTERVAL_MS
    this.#onError = opts.onError ?? (() => {})
    this.#now = opts.now ?? Date.now
    this.#unsubscribe = opts.changes.subscribe((starts) => {
      if (this.#closed) return
      for (const s of starts) this.#pending.add(s)
      this.#signal()
    })
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  async next (): Promise<IteratorResult<T>> {
    while (!this.#closed) {
      if (this.#pending.size === 0) {
        await this.#sleep(null)
        continue
      }
      const wait = this.#notBefore - this.#now()
      if (wait > 0) {
        await this.#sleep(wait)
        continue
      }
      const windows = [...this.#pending].sort((a, b) => a - b)
      this.#pending.clear()
      let value: T | null
      try {
        value = await this.#read(windows)
      } catch (err) {
        this.#onError(err)
        for (const w of windows) this.#pending.add(w)
        this.#notBefore = this.#now() + Math.max(RETRY_MS, this.#intervalMs)
        continue
      }
      if (this.#closed) break
      if (value === null) continue
      this.#notBefore = this.#now() + this.#intervalMs
      return { value, done: false }
    }
    return { value: undefined, done: true }
  }

  async return (): Promise<IteratorResult<T>> {
    this.close()
    return { value: undefined, done: true }
  }

  async throw (err?: unknown): Promise<IteratorResult<T>> {
    this.close()
    throw err
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe()
    this.#pending.clear()
    this.#signal()
  }

  get closed (): boolean {
    return this.#closed
  }

  /** until a change arrives, the stream closes, or `ms` pass (null: no timeout) */
  #sleep (ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
      if (ms !== null) this.#timer = setTimeout(() => { this.#timer = null; this.#signal() }, ms)
    })
  }

  #signal (): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }
}
