// Which share of the stream this process's speed store holds. A Redis or Cosmos DB store is shared
// by every process of the consumer group, so each answers for all partitions. A memory store holds
// only the windows of the partitions assigned to this process: with more than one member in the
// group its answers would be silently partial, so they report the speed range as a `speed_partial`
// gap instead. When the process holds every partition again, the partitions it gets back are read
// again from the store's positions or the retention, and until that range leaves the retention it
// is reported as not covered (coveredFrom moves to that moment): a false alarm at worst, never a
// silently wrong number.
import type { SpeedStore } from '../model/index.js'
import type { AppContext } from './context.js'

export class SpeedShare {
  readonly #ctx: AppContext
  readonly #store: SpeedStore
  #partial = false

  constructor (ctx: AppContext, store: SpeedStore) {
    this.#ctx = ctx
    this.#store = store
  }

  /** whether the store holds only some partitions' windows */
  get partial (): boolean {
    return this.#partial
  }

  /** The consumer (re)joined its group holding `assigned` of the topics' `total` partitions. */
  assigned (assigned: number, total: number): void {
    if (this.#store.kind !== 'memory') return
    const partial = assigned < total
    const { config, log, now, progress } = this.#ctx
    if (partial && !this.#partial) {
      log.warn({ assigned, total, group: config.kafkaGroup }, `speed: the memory store holds ${assigned} of ${total} partitions ` +
        'since another process joined the consumer group; answers report the speed range as speed_partial (use --store redis or cosmos for several processes)')
    }
    if (!partial && this.#partial) {
      const from = now()
      this.#store.setCoveredFrom(from).catch((err: unknown) => log.error({ err }, 'speed: could not move the covered range'))
      progress(`speed: the memory store holds every partition again; the speed range before ${new Date(from).toISOString()} is reported as not covered`)
    }
    this.#partial = partial
  }
}
