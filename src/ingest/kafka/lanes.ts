// The speed consumer's batches per partition: at most one in flight (handed to the handler, not yet settled), and
// whether the partition moved since its last batch was taken or dropped. A partition moves when the source seeks it
// (a join, a rebuild, a store found ahead) or when a batch of it was not applied; a batch fetched before such a move
// may start anywhere, so it is dropped, never handed out: kafkajs fetches again from where the partition continues.

class Lane {
  /** settles (never rejects) when the batch in flight has */
  inFlight: Promise<void> | null = null
  /** bumped on every move */
  epoch = 0
  /** the epoch when the last batch was taken or dropped */
  seen = 0
  /** the error of a batch whose handler threw, for the next batch of the partition to rethrow (kafkajs backs off) */
  failure: { err: unknown } | null = null
}

export class Lanes {
  readonly #lanes = new Map<string, Lane>()

  #lane (key: string): Lane {
    let lane = this.#lanes.get(key)
    if (lane === undefined) this.#lanes.set(key, lane = new Lane())
    return lane
  }

  /** whether the partition has a batch in flight */
  busy (key: string): boolean {
    return this.#lanes.get(key)?.inFlight != null
  }

  /** Resolves once the partition has no batch in flight. */
  async settled (key: string): Promise<void> {
    for (let p = this.#lanes.get(key)?.inFlight; p != null; p = this.#lanes.get(key)?.inFlight) await p
  }

  /** Resolves once no partition has a batch in flight (batches taken meanwhile included). */
  async idle (): Promise<void> {
    for (;;) {
      const running = [...this.#lanes.values()].flatMap((l) => l.inFlight ?? [])
      if (running.length === 0) return
      await Promise.all(running)
    }
  }

  /**
   * The next batch of the partition comes (its batch in flight has settled): whether it may be taken, and the error of
   * a batch of it whose handler threw since (the caller rethrows it). Either way it counts as seen.
   */
  next (key: string): { take: boolean, failure: { err: unknown } | null } {
    const lane = this.#lane(key)
    const failure = lane.failure
    const take = lane.seen === lane.epoch && failure === null
    lane.failure = null
    lane.seen = lane.epoch
    return { take, failure }
  }

  /** A batch was taken: `run` applies it (it must not reject). */
  run (key: string, run: Promise<void>): void {
    const lane = this.#lane(key)
    const settled = run.finally(() => { if (lane.inFlight === settled) lane.inFlight = null })
    lane.inFlight = settled
  }

  /** The partition moved (a seek, or a batch not applied: `failure` when its handler threw). */
  moved (key: string, failure?: unknown): void {
    const lane = this.#lane(key)
    lane.epoch++
    if (failure !== undefined) lane.failure = { err: failure }
  }

  /** Forget the failures of partitions not assigned here any more (they have no next batch to rethrow them). */
  keepFailures (assigned: (key: string) => boolean): void {
    for (const [key, lane] of this.#lanes) if (!assigned(key)) lane.failure = null
  }
}
