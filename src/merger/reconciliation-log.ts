// The newest reconciliations (src/merger/reconcile.ts), kept in memory for GET /v1/reconciliation
// and the Prometheus gauges. One entry per hour: an hour reconciled again (against a newer gold
// version) replaces its older entry; past `capacity` hours, the oldest go.
import type { Reconciliation } from './reconcile.js'
import type { ReconciliationSource } from './types.js'

/** hours kept by default, and the largest `limit` of GET /v1/reconciliation */
export const RECONCILIATION_KEEP = 48

export class ReconciliationLog implements ReconciliationSource {
  readonly capacity: number
  /** ascending by hour */
  readonly #entries: Reconciliation[] = []
  #recorded = 0

  constructor (capacity = RECONCILIATION_KEEP) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer')
    this.capacity = capacity
  }

  add (reconciliations: readonly Reconciliation[]): void {
    for (const r of reconciliations) {
      this.#recorded++
      const i = this.#entries.findIndex((e) => e.hour >= r.hour)
      if (i === -1) this.#entries.push(r)
      else if (this.#entries[i]?.hour === r.hour) this.#entries[i] = r
      else this.#entries.splice(i, 0, r)
    }
    if (this.#entries.length > this.capacity) this.#entries.splice(0, this.#entries.length - this.capacity)
  }

  latest (limit: number): Reconciliation[] {
    return limit < 1 ? [] : this.#entries.slice(-limit).reverse()
  }

  get recorded (): number {
    return this.#recorded
  }
}
