// The Kafka batches the speed handler holds, so that an invalid record goes to the dead-letter topic
// with its original bytes and key (the pipeline's DeadLetter has the text only).
import type { RawBatch, RawRecord } from '../ingest/index.js'
import { type DeadLetter, partitionKey as key } from '../model/index.js'

export class BatchesInHand {
  /** per partition, the batch in hand; indexed by offset once a dead letter asks */
  readonly #held = new Map<string, Map<string, RawRecord> | RawBatch>()

  /** Hold `batch` until the returned release is called. */
  hold (batch: RawBatch): () => void {
    const k = key(batch.topic, batch.partition)
    this.#held.set(k, batch)
    return () => { this.#held.delete(k) }
  }

  /** The record a dead letter came from, while its batch is in hand. */
  original (letter: DeadLetter): RawRecord | undefined {
    const k = key(letter.source.topic, letter.source.partition)
    let held = this.#held.get(k)
    if (held === undefined) return undefined
    if (!(held instanceof Map)) {
      held = new Map(held.records.map((r) => [r.offset, r]))
      this.#held.set(k, held)
    }
    return held.get(letter.source.offset)
  }
}
