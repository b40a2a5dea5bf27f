// The batch part of an answer never changes for a given manifest version, so it is cached keyed
// by (version, range, granularity, grouping, filters). A small LRU: Map keeps insertion order.
// The service keeps its other immutable parts in the same kind of cache (settled speed parts and
// finalised answers, keyed by the speed store's change token).
import type { Rollup } from './merge.js'

export class BatchCache<V = Rollup> {
  readonly #max: number
  readonly #entries = new Map<string, V>()
  hits = 0
  misses = 0

  constructor (max = 512) {
    this.#max = max
  }

  get (key: string): V | undefined {
    const hit = this.#entries.get(key)
    if (hit === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    this.#entries.delete(key)
    this.#entries.set(key, hit)
    return hit
  }

  set (key: string, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }

  get size (): number {
    return this.#entries.size
  }
}
