// The batch part of an answer never changes for a given manifest version, so it is cached keyed
// by (version, range, granularity, grouping, filters), least recently used out first.
// The service keeps its other immutable parts in the same kind of cache (settled speed parts and
// finalised answers, keyed by the speed store's change token).
import { LRUCache } from 'lru-cache'
import type { Rollup } from './merge.js'

/** An LRU of at most `max` entries (0: keeps nothing) that counts its hits and misses. */
export class BatchCache<V extends object = Rollup> {
  readonly #entries: LRUCache<string, V> | null
  hits = 0
  misses = 0

  constructor (max = 512) {
    this.#entries = max > 0 ? new LRUCache<string, V>({ max }) : null
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
