// WindowChanges (types.ts) from the speed store's applies: a small hub that fans the window starts
// of each applied batch out to its listeners, and a SpeedStore decorator that tells the hub after
// every apply the store accepted. The composition root wraps the store it hands to the pipeline:
//   const changes = new WindowChangeHub()
//   const pipeline = new SpeedPipeline({ store: withWindowChanges(store, changes), … })
//   buildServer({ service, windowChanges: changes, … })
import type { ApplyBatch, SpeedStore } from '../model/index.js'
import type { WindowChanges } from './types.js'

type Listener = (windowStarts: readonly number[]) => void

export class WindowChangeHub implements WindowChanges {
  readonly #listeners = new Set<Listener>()
  /** called with a listener's error (a listener must not break the apply that notified it) */
  readonly #onError: (err: unknown) => void

  constructor (onError: (err: unknown) => void = () => {}) {
    this.#onError = onError
  }

  subscribe (listener: Listener): () => void {
    // a wrapper per subscription, so the same function subscribed twice is two subscriptions
    const entry: Listener = (w) => { listener(w) }
    this.#listeners.add(entry)
    return () => { this.#listeners.delete(entry) }
  }

  /** listeners subscribed now */
  get size (): number {
    return this.#listeners.size
  }

  publish (windowStarts: readonly number[]): void {
    if (windowStarts.length === 0) return
    for (const listener of this.#listeners) {
      try {
        listener(windowStarts)
      } catch (err) {
        this.#onError(err)
      }
    }
  }
}

/** The distinct window starts of a batch's deltas, ascending. */
export function changedWindows (batch: ApplyBatch): number[] {
  return [...new Set(batch.deltas.map((d) => d.window_start))].sort((a, b) => a - b)
}

/** The same store, publishing the windows of every batch it applied to `hub`. */
export function withWindowChanges (store: SpeedStore, hub: Pick<WindowChangeHub, 'publish'>): SpeedStore {
  const applyUnseen = store.applyUnseen?.bind(store)
  return {
    get kind () { return store.kind },
    async apply (batch) {
      const applied = await store.apply(batch)
      if (applied) hub.publish(changedWindows(batch))
      return applied
    },
    ...(applyUnseen === undefined
      ? {}
      : {
          async applyUnseen (batch: ApplyBatch) {
            const r = await applyUnseen(batch)
            if (r.applied) hub.publish(changedWindows(batch))
            return r
          }
        }),
    keepsDedupKeys: store.keepsDedupKeys,
    query: (from, to, filters) => store.query(from, to, filters),
    coverage: () => store.coverage(),
    position: (topic, partition) => store.position(topic, partition),
    setCoveredFrom: (t) => store.setCoveredFrom(t),
    seen: (keys) => store.seen(keys),
    changeToken: (from, to) => store.changeToken(from, to),
    close: () => store.close()
  }
}
