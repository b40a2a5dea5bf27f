// Tumbling one-minute windows with a watermark. An event whose window ends at or before its own
// partition's newest event time − allowed lateness is late: it is counted, not added (the batch
// layer counts it). On-time events accumulate as PartialRow deltas per
// (window_start, event_type, region) until drain() hands them out, once per consumed batch.
import { addEvent, emptyPartials, type HourglassEvent, MINUTE_MS, type PartialRow } from '../model/index.js'

export interface WindowsOptions {
  allowedLatenessMs: number
}

export class MinuteWindows {
  readonly allowedLatenessMs: number
  /** newest event time of all partitions: the watermark follows it */
  #maxEventTime = -Infinity
  /**
   * newest event time per partition, as of the last begin() or commit(). Lateness is judged by it: after a rewind one
   * partition may be read up to now before another is read from an hour ago, which would otherwise be late as a whole.
   */
  readonly #maxByPartition = new Map<string, number>()
  /** the partition of the batch in hand ('' outside begin/commit) and its newest event time */
  #partition = ''
  #partitionMax = -Infinity
  /** window_start → event_type → region → row (nested: no key strings to build per event) */
  #pending = new Map<number, Map<string, Map<string, PartialRow>>>()
  #savedMax: number | null = null

  constructor (options: WindowsOptions) {
    this.allowedLatenessMs = options.allowedLatenessMs
  }

  /** Add one event to its window. Returns false, adding nothing, when the event is late. */
  add (e: HourglassEvent): boolean {
    if (e.ts > this.#partitionMax) {
      this.#partitionMax = e.ts
      if (e.ts > this.#maxEventTime) this.#maxEventTime = e.ts
    }
    const start = Math.floor(e.ts / MINUTE_MS) * MINUTE_MS
    if (start + MINUTE_MS <= this.#partitionMax - this.allowedLatenessMs) return false
    let byType = this.#pending.get(start)
    if (byType === undefined) { byType = new Map(); this.#pending.set(start, byType) }
    let byRegion = byType.get(e.event_type)
    if (byRegion === undefined) { byRegion = new Map(); byType.set(e.event_type, byRegion) }
    let row = byRegion.get(e.region)
    if (row === undefined) {
      row = { window_start: start, event_type: e.event_type, region: e.region, partials: emptyPartials() }
      byRegion.set(e.region, row)
    }
    addEvent(row.partials, e)
    return true
  }

  /** true when an event at `ts` of the current partition would be late now */
  isLate (ts: number): boolean {
    return Math.floor(ts / MINUTE_MS) * MINUTE_MS + MINUTE_MS <= this.#partitionMax - this.allowedLatenessMs
  }

  /** The deltas accumulated since the last drain (the caller owns them), and start afresh. */
  drain (): PartialRow[] {
    const rows: PartialRow[] = []
    for (const byType of this.#pending.values()) {
      for (const byRegion of byType.values()) for (const row of byRegion.values()) rows.push(row)
    }
    this.#pending = new Map()
    return rows
  }

  /** newest event time seen − allowed lateness, or null before the first event */
  get watermark (): number | null {
    return this.#maxEventTime === -Infinity ? null : this.#maxEventTime - this.allowedLatenessMs
  }

  get maxEventTime (): number | null {
    return this.#maxEventTime === -Infinity ? null : this.#maxEventTime
  }

  /** Start a batch of one source partition (any string naming it); rollback() undoes it. */
  begin (partition = ''): void {
    if (this.#partitionMax > -Infinity) this.#maxByPartition.set(this.#partition, this.#partitionMax)
    this.#savedMax = this.#maxEventTime
    this.#partition = partition
    this.#partitionMax = this.#maxByPartition.get(partition) ?? -Infinity
  }

  commit (): void {
    if (this.#partitionMax > -Infinity) this.#maxByPartition.set(this.#partition, this.#partitionMax)
    this.#savedMax = null
  }

  /** newest event time of a partition, as of its last commit or in the batch in hand (-Infinity: none) */
  newestOf (partition: string): number {
    return partition === this.#partition ? this.#partitionMax : this.#maxByPartition.get(partition) ?? -Infinity
  }

  /**
   * Undo committed batches of one partition, also after batches of other partitions: its newest event time goes back
   * to `newest` (newestOf before them), and the watermark follows the newest of all partitions. Not within a batch.
   */
  restore (partition: string, newest: number): void {
    if (newest === -Infinity) this.#maxByPartition.delete(partition)
    else this.#maxByPartition.set(partition, newest)
    if (partition === this.#partition) this.#partitionMax = newest
    let max = -Infinity
    for (const t of this.#maxByPartition.values()) if (t > max) max = t
    this.#maxEventTime = max
  }

  /** undo the batch since begin(): restore the watermarks and drop the pending deltas */
  rollback (): void {
    if (this.#savedMax !== null) this.#maxEventTime = this.#savedMax
    this.#savedMax = null
    this.#partitionMax = this.#maxByPartition.get(this.#partition) ?? -Infinity
    this.#pending = new Map()
  }
}
