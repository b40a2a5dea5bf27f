// A speed store that holds its applies at a gate: after `free` applies, apply() waits until open().
// Makes "while the consumer is still rebuilding" observable in a test. Everything else passes through.
import type { ApplyBatch, Coverage, Filters, PartialRow, SpeedStore } from '../../src/model/index.js'

export class GatedStore implements SpeedStore {
  readonly kind: string
  readonly keepsDedupKeys: boolean
  readonly #inner: SpeedStore
  #free: number
  #open!: () => void
  #gate: Promise<void>
  /** an apply is waiting at the gate */
  waiting = false

  constructor (inner: SpeedStore, free: number) {
    this.#inner = inner
    this.kind = inner.kind
    this.keepsDedupKeys = inner.keepsDedupKeys
    this.#free = free
    this.#gate = new Promise((resolve) => { this.#open = resolve })
  }

  /** close the gate again: `free` more applies pass, then they wait for open() */
  hold (free: number): void {
    this.#free = free
    this.#gate = new Promise((resolve) => { this.#open = resolve })
  }

  open (): void {
    this.#free = Infinity
    this.#open()
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    if (this.#free <= 0) {
      this.waiting = true
      await this.#gate
      this.waiting = false
    }
    this.#free--
    return await this.#inner.apply(batch)
  }

  query (from: number, to: number, filters: Filters): Promise<PartialRow[]> { return this.#inner.query(from, to, filters) }
  coverage (): Promise<Coverage> { return this.#inner.coverage() }
  position (topic: string, partition: number): Promise<string | null> { return this.#inner.position(topic, partition) }
  setCoveredFrom (t: number): Promise<void> { return this.#inner.setCoveredFrom(t) }
  seen (keys: readonly string[]): Promise<boolean[]> { return this.#inner.seen(keys) }
  changeToken (from: number, to: number): Promise<string> { return this.#inner.changeToken(from, to) }
  async close (): Promise<void> {
    this.open()
    await this.#inner.close()
  }
}
