// The batch part of an answer never changes for a given gold version, so it is cached keyed
// by (version, range, granularity, grouping, filters), least recently used out first.
// The service keeps its other immutable parts in the same kind of cache (settled speed parts and
// finalised answers, keyed by the speed store's change token).
import { LRUCache } from 'lru-cache'
import type { FinalisedRollup, Rollup } from './merge.js'

/** Bytes a cached group costs besides its sketch bins (key, group, partials, map entries), and a bin. */
const GROUP_BYTES = 320
const BIN_BYTES = 48

/**
 * What a finalised rollup holds, estimated: its groups and their sketch bins, twice (the finalised
 * metrics and served rows it keeps once asked for are about as large again).
 */
export function rollupBytes (f: FinalisedRollup): number {
  let bytes = 0
  for (const g of f.rollup.values()) bytes += GROUP_BYTES + BIN_BYTES * g.partials.response.size
  return 2 * bytes
}

export interface CacheBudget<V> {
  /** the most the entries may hold together (0: keeps nothing) */
  maxBytes: number
  /** an entry's size, bytes */
  sizeOf: (value: V) => number
}

/** An LRU of at most `max` entries (0: keeps nothing), and within a byte budget if given, that counts its hits and misses. */
export class BatchCache<V extends object = Rollup> {
  readonly #entries: LRUCache<string, V> | null
  hits = 0
  misses = 0

  constructor (max = 512, budget?: CacheBudget<V>) {
    const on = max > 0 && (budget === undefined || budget.maxBytes > 0)
    const sized = budget === undefined ? {} : { maxSize: budget.maxBytes, sizeCalculation: (v: V) => Math.max(1, budget.sizeOf(v)) }
    // an entry larger than the whole budget is not kept (lru-cache refuses it)
    this.#entries = on ? new LRUCache<string, V>({ max, ...sized }) : null
  }

  get (key: string): V | undefined {
    const hit = this.#entries?.get(key)
    if (hit === undefined) this.misses++
    else this.hits++
    return hit
  }

  set (key: string, value: V): void {
    this.#entries?.set(key, value)
  }

  get size (): number {
    return this.#entries?.size ?? 0
  }
}
