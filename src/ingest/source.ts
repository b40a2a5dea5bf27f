// What every record source implements (the synthetic stream, a JSON Lines file, Kafka).
// A source hands out batches of raw records; the next batch of a partition waits for the handler of the one before
// (Kafka fetches it meanwhile), so a slow consumer slows the source down instead of piling records up (backpressure).

export interface RawRecord {
  /** the record's bytes as UTF-8 text, exactly as produced (it may be invalid) */
  value: string
  /** decimal int64 string, increasing within a (topic, partition) */
  offset: string
  /**
   * the original bytes, when the source has them (Kafka): `value` is their UTF-8 decoding, which
   * is lossy for bytes that are not valid UTF-8, so the dead-letter topic sends these instead
   */
  bytes?: Buffer
  /** the record's key (Kafka; null: none) */
  key?: Buffer | null
}

export interface RawBatch {
  topic: string
  partition: number
  records: RawRecord[]
}

/**
 * Handles one batch; resolves `false` when it left the batch unhandled (read before a rewind it had to wait for): a
 * source that can, hands the records out again (Kafka: not acknowledged, fetched again from where it continues).
 */
export type BatchHandler = (batch: RawBatch) => Promise<void | false>

export interface RecordSource {
  /** Start emitting batches to `handler`; resolves once the source runs (rejects when it cannot start). */
  start (handler: BatchHandler): Promise<void>
  /** Stop after the batch in flight; resolves when the handler is no longer called. */
  stop (): Promise<void>
  /** resolves when the source has ended (stopped, or a finite source read everything); rejects when the handler failed */
  readonly done: Promise<void>
}
