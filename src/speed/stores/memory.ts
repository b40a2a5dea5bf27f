// The in-memory speed store (embedded mode). One row per (minute window, event_type, region),
// kept for the retention; apply is idempotent, fenced by the source position of each
// (topic, partition), with offsets compared as int64 (BigInt), never as strings or doubles.
import {
  type ApplyBatch, clonePartials, type Coverage, type Filters, mergePartials, MINUTE_MS,
  type PartialRow, type SpeedStore
} from '../../model/index.js'
import { partitionKey } from '../../model/source-position.js'
import { parseOffset } from '../offsets.js'

export interface MemorySpeedStoreOptions {
  /** the clock that drives retention (tests move it) */
  now?: () => number
  retentionMs: number
  /** how often expired windows are dropped in the background (they are also dropped on access) */
  sweepIntervalMs?: number
  /** how long dedup keys are remembered, by the clock */
  dedupWindowMs: number
  /**
   * ask the pipeline for dedup keys (SpeedStore.keepsDedupKeys); default false: in one process the
   * pipeline's own dedup has seen them all. Tests that stand two pipelines on one store set it.
   */
  keepsDedupKeys?: boolean
}

/** how often expired windows are dropped in the background when the caller does not say */
const SWEEP_INTERVAL_MS = 10_000

const rowKey = (eventType: string, region: string): string => eventType + '\u0000' + region

export class MemorySpeedStore implements SpeedStore {
  readonly kind = 'memory'
  readonly keepsDedupKeys: boolean
  readonly retentionMs: number
  readonly #now: () => number
  /** window_start → (event_type, region) → row */
  readonly #windows = new Map<number, Map<string, PartialRow>>()
  /** window_start → the change count when the window was last created or changed */
  readonly #stamps = new Map<number, number>()
  /** window starts in ascending order (null: to be sorted again) */
  #sortedStarts: number[] | null = []
  /** applies that changed rows */
  #changes = 0
  /** windows evicted so far */
  #evictions = 0
  readonly #positions = new Map<string, { offset: string, value: bigint }>()
  #watermark: number | null = null
  #maxEventTime: number | null = null
  #coveredFrom: number | null = null
  #timer: NodeJS.Timeout | null
  readonly #dedupWindowMs: number
  /** dedup key → when it expires (by the clock) */
  readonly #dedupKeys = new Map<string, number>()
  #nextKeySweep = 0

  constructor (options: MemorySpeedStoreOptions) {
    this.#now = options.now ?? Date.now
    this.retentionMs = options.retentionMs
    this.#dedupWindowMs = options.dedupWindowMs
    this.keepsDedupKeys = options.keepsDedupKeys ?? false
    this.#timer = setInterval(() => this.#evict(), options.sweepIntervalMs ?? SWEEP_INTERVAL_MS)
    this.#timer.unref()
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    const { topic, partition, offset } = batch.position
    const value = parseOffset(offset)
    const key = partitionKey(topic, partition)
    const last = this.#positions.get(key)
    if (last !== undefined && value <= last.value) return false
    if (batch.previous !== undefined && batch.previous !== (last?.offset ?? null)) return false
    const expired = this.#evict()
    const stamp = ++this.#changes
    for (const delta of batch.deltas) {
      // a window already past the retention is not brought back
      if (delta.window_start + MINUTE_MS <= expired) continue
      let window = this.#windows.get(delta.window_start)
      if (window === undefined) {
        window = new Map()
        this.#windows.set(delta.window_start, window)
        this.#sortedStarts = null
      }
      this.#stamps.set(delta.window_start, stamp)
      const k = rowKey(delta.event_type, delta.region)
      const row = window.get(k)
      if (row === undefined) {
        window.set(k, { window_start: delta.window_start, event_type: delta.event_type, region: delta.region, partials: clonePartials(delta.partials) })
      }
      else mergePartials(row.partials, delta.partials)
    }
    if (batch.dedupKeys !== undefined && batch.dedupKeys.length > 0) {
      const until = this.#now() + this.#dedupWindowMs
      for (const k of batch.dedupKeys) this.#dedupKeys.set(k, until)
    }
    this.#positions.set(key, { offset, value })
    if (batch.watermark !== undefined && (this.#watermark === null || batch.watermark > this.#watermark)) this.#watermark = batch.watermark
    if (batch.maxEventTime !== undefined && (this.#maxEventTime === null || batch.maxEventTime > this.#maxEventTime)) this.#maxEventTime = batch.maxEventTime
    return true
  }

  async query (from: number, to: number, filters: Filters): Promise<PartialRow[]> {
    this.#evict()
    const types = filters.event_type !== undefined && filters.event_type.length > 0 ? new Set(filters.event_type) : null
    const regions = filters.region !== undefined && filters.region.length > 0 ? new Set(filters.region) : null
    const out: PartialRow[] = []
    for (const start of this.#starts()) {
      if (start < from) continue
      if (start >= to) break
      for (const row of (this.#windows.get(start) as Map<string, PartialRow>).values()) {
        if (types !== null && !types.has(row.event_type)) continue
        if (regions !== null && !regions.has(row.region)) continue
        out.push({ window_start: row.window_start, event_type: row.event_type, region: row.region, partials: clonePartials(row.partials) })
      }
    }
    return out
  }

  async seen (keys: readonly string[]): Promise<boolean[]> {
    if (this.#dedupKeys.size === 0) return keys.map(() => false)
    const now = this.#now()
    return keys.map((k) => { const until = this.#dedupKeys.get(k); return until !== undefined && until > now })
  }

  /**
   * Changes whenever the rows of [from, to) may have changed: an apply touched one of those
   * windows, a window was created there, or any window was evicted.
   */
  async changeToken (from: number, to: number): Promise<string> {
    this.#evict()
    let newest = 0
    for (const start of this.#starts()) {
      if (start < from) continue
      if (start >= to) break
      const stamp = this.#stamps.get(start) as number
      if (stamp > newest) newest = stamp
    }
    // a change stamps its windows with a count higher than any before, so `newest` only grows until
    // an eviction, which counts up `evictions`: (evictions, newest) never repeats
    return `${this.#evictions}:${newest}`
  }

  async coverage (): Promise<Coverage> {
    const expired = this.#evict()
    let oldest: number | null = null
    let newest: number | null = null
    for (const start of this.#windows.keys()) {
      if (oldest === null || start < oldest) oldest = start
      if (newest === null || start > newest) newest = start
    }
    const retained = Math.floor(expired / MINUTE_MS) * MINUTE_MS // the window holding the horizon is kept whole
    return {
      oldest,
      newest,
      watermark: this.#watermark,
      maxEventTime: this.#maxEventTime,
      coveredFrom: this.#coveredFrom === null ? null : Math.max(this.#coveredFrom, retained)
    }
  }

  async position (topic: string, partition: number): Promise<string | null> {
    return this.#positions.get(partitionKey(topic, partition))?.offset ?? null
  }

  /** rows held right now (no eviction on this read) */
  get rowCount (): number {
    let n = 0
    for (const w of this.#windows.values()) n += w.size
    return n
  }

  async setCoveredFrom (t: number): Promise<void> {
    this.#coveredFrom = t
  }

  async close (): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** window starts held, ascending */
  #starts (): number[] {
    this.#sortedStarts ??= [...this.#windows.keys()].sort((a, b) => a - b)
    return this.#sortedStarts
  }

  /** Drop the windows past the retention and expired dedup keys; returns the retention horizon (now − retention). */
  #evict (): number {
    const now = this.#now()
    if (this.#dedupKeys.size > 0 && now >= this.#nextKeySweep) {
      for (const [k, until] of this.#dedupKeys) if (until <= now) this.#dedupKeys.delete(k)
      this.#nextKeySweep = now + 10_000
    }
    const horizon = now - this.retentionMs
    for (const start of this.#windows.keys()) {
      if (start + MINUTE_MS <= horizon) {
        this.#windows.delete(start)
        this.#stamps.delete(start)
        this.#sortedStarts = null
        this.#evictions++
      }
    }
    return horizon
  }
}
