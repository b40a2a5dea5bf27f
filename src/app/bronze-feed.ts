// The bronze feed (`--source kafka`): the bronze consumer group's records, validated, into the
// bronze sink, with Kafka offsets committed only once the files holding them are renamed into place.
//
// Separate from the speed layer: its own consumer group (`hourglass-bronze`) reads the same topics,
// so a slow Parquet write waits only here (backpressure: the handler awaits the flush once the
// sink holds its size bound, and the consumer fetches nothing meanwhile), and bronze never depends
// on what a speed store remembers. Invalid records are left out (the speed consumer sends them to
// the dead-letter topic); valid ones, late and duplicate ones included, go to the sink with their
// (topic, partition, offset).
//
// Exactly once in bronze across crashes. Reading resumes after the last offset the bronze state
// records per partition. Before that, what a killed flush left is removed (removeUnrecordedBronze:
// files renamed but not recorded, temp files), so re-read records land in one file only. A batch
// handed out again (kafkajs retries a batch whose handler threw, e.g. on a failed flush) is
// skipped up to what the sink already holds.
//
// The bronze watermark. A partition that has records to read but nothing in bronze yet (a new
// topic, or a first start) is recorded as pending in the state before any record is read: bronze
// is complete up to no event time for it, so the batch job builds nothing until its first events
// are flushed, or until it was read to its end without a valid record.
import {
  type BronzeSink, type FlushedPartition, type PartitionRef, readBronzeState, removeUnrecordedBronze, setPending, settlePending
} from '../batch/index.js'
import type { RawBatch, RawRecord } from '../ingest/index.js'
import { BronzeKafkaSource, type BronzeSourceOptions, type StartPosition } from '../ingest/kafka/index.js'
import { partitionKey } from '../model/index.js'
import { type Decoder, InThreadDecoder } from '../speed/index.js'
import type { BronzeShare } from './bronze-share.js'

export interface BronzeFeedOptions {
  sink: BronzeSink
  dataDir: string
  /** the bronze consumer (positions and onStart are the feed's) */
  source: Omit<BronzeSourceOptions, 'positions' | 'onStart'>
  now?: () => number
  progress?: (line: string) => void
  /** a larger record is invalid (too_large), as in the speed layer */
  maxRecordBytes?: number // no limit
  /** how records are decoded (their topic's format; Avro's writer schemas): by default JSON, in this thread */
  decoder?: Decoder
  /** the speed path's validations of the same records, taken instead of parsing them again where it has them */
  share?: BronzeShare
}

interface Settling extends PartitionRef {
  /** the partition's end offset when reading started */
  end: bigint
  valid: boolean
}

export class BronzeFeed {
  readonly source: BronzeKafkaSource
  /** resolves when the feed has stopped; rejects when it could not start or its consumer died for good */
  readonly done: Promise<void>
  readonly #sink: BronzeSink
  readonly #dataDir: string
  readonly #now: () => number
  readonly #progress: (line: string) => void
  readonly #decoder: Decoder
  readonly #share: BronzeShare | undefined
  /** per partition, the highest offset handled here (added to the sink, or invalid) */
  readonly #handled = new Map<string, bigint>()
  /** pending partitions (see the opening comment) not yet settled */
  readonly #settling = new Map<string, Settling>()
  #stored = new Map<string, string>()
  #unlisten: (() => void) | null = null
  #fail!: (err: unknown) => void
  /** records handled (re-handed ones not counted again), valid ones, invalid ones, and those judged by the speed path */
  received = 0
  valid = 0
  invalid = 0
  shared = 0

  constructor (options: BronzeFeedOptions) {
    this.#sink = options.sink
    this.#dataDir = options.dataDir
    this.#now = options.now ?? Date.now
    this.#progress = options.progress ?? (() => undefined)
    this.#decoder = options.decoder ?? new InThreadDecoder(options.maxRecordBytes ?? Infinity)
    this.#share = options.share
    this.source = new BronzeKafkaSource({
      ...options.source,
      positions: async (topic, partition) => this.#stored.get(partitionKey(topic, partition)) ?? null,
      onStart: (starts) => this.#starting(starts)
    })
    this.done = new Promise((resolve, reject) => {
      this.#fail = reject
      this.source.done.then(resolve, reject)
    })
    this.done.catch(() => undefined) // reported to whoever awaits done, never as unhandled
  }

  /**
   * Clean up after a killed flush, read the positions from the bronze state, and start consuming;
   * resolves once the consumer runs (it may wait for the group to rebalance). A failure also
   * rejects `done`.
   */
  async start (): Promise<void> {
    try {
      await this.#start()
    } catch (err) {
      this.#fail(err)
      throw err
    }
  }

  async #start (): Promise<void> {
    const topics = this.source.topics
    const removed = await removeUnrecordedBronze(this.#dataDir, topics)
    if (removed.unrecorded.length > 0 || removed.temps.length > 0) {
      const files = `${removed.unrecorded.length} file(s) of a flush that did not finish and ${removed.temps.length} temp file(s)`
      this.#progress(`bronze: removed ${files}; their records are read again`)
    }
    const state = await readBronzeState(this.#dataDir)
    this.#stored = new Map(state.partitions.filter((p) => topics.includes(p.topic)).map((p) => [partitionKey(p.topic, p.partition), p.last_offset]))
    this.#unlisten = this.#sink.onFlushed((flushed) => this.#flushed(flushed))
    const detach = this.#share?.attach()
    if (detach !== undefined) this.done.then(detach, detach) // once the consumer stopped, nothing is taken
    await this.source.start((batch) => this.#handle(batch))
  }

  /** Flush and commit what is buffered, stop consuming; what a last batch in hand adds is flushed by the sink's close. */
  async stop (): Promise<void> {
    try {
      await this.#sink.flush()
    } finally {
      await this.source.stop()
      this.#unlisten?.()
    }
  }

  async #starting (starts: StartPosition[]): Promise<void> {
    const pending: Settling[] = starts.filter((s) => !s.stored && BigInt(s.from) < BigInt(s.end))
      .map((s) => ({ topic: s.topic, partition: s.partition, end: BigInt(s.end), valid: false }))
    for (const p of pending) this.#settling.set(partitionKey(p.topic, p.partition), p)
    await this.#sink.updateState((state) => setPending(state, this.source.topics, pending))
    const behind = starts.reduce((n, s) => n + Number(BigInt(s.end) - BigInt(s.from)), 0)
    const reads = `${starts.length} partition(s) of ${this.source.topics.join(', ')}`
    this.#progress(`bronze: consumer group ${this.source.groupId} reads ${reads}, ${behind.toLocaleString('en-US')} records behind` +
      (pending.length > 0 ? `; ${pending.length} new to bronze (the bronze watermark waits for them)` : ''))
  }

  async #handle (batch: RawBatch): Promise<void> {
    const { topic, partition, records } = batch
    const shared = await this.#share?.take(topic, partition, records)
    const key = partitionKey(topic, partition)
    const done = this.#handled.get(key) ?? -1n
    const t = this.#now()
    const settling = this.#settling.get(key)
    let last = done
    // the records the speed path has not judged, decoded here by the same rules (Avro: writer schemas fetched first)
    const own = records.flatMap((r, i) => shared?.[i] === undefined && BigInt(r.offset) > done ? [i] : [])
    const values = own.map((i) => (records[i] as RawRecord).bytes ?? (records[i] as RawRecord).value)
    const decoded = own.length === 0 ? [] : await this.#decoder.decode(values, t, topic)
    const ownEvent = new Map(own.map((i, k) => [i, decoded[k]]))
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as (typeof records)[number]
      const offset = BigInt(r.offset)
      if (offset <= last) continue // handed out again: the sink holds it already
      // the speed path's event (null: invalid), else the text the speed layer validates too, validated here
      const judged = shared?.[i]
      if (judged !== undefined) this.shared++
      const v = ownEvent.get(i)
      const event = judged !== undefined ? judged : v?.ok === true ? v.event : null
      if (event !== null) {
        this.#sink.add(event, { topic, partition, offset: r.offset }, t)
        this.valid++
        if (settling !== undefined) settling.valid = true
      } else {
        this.invalid++
      }
      this.received++
      last = offset
    }
    this.#handled.set(key, last)
    if (settling !== undefined && (settling.valid || last + 1n >= settling.end)) {
      this.#settling.delete(key)
      // with a valid event, its flush settles the partition; without one, nothing of it will be in bronze
      if (!settling.valid) await this.#sink.updateState((state) => settlePending(state, { topic, partition }))
    }
    // over the size bound (or the oldest buffered event waited flushMs): wait for the flush
    await this.#sink.flushIfDue(t)
  }

  /** Files renamed into place and recorded: commit their offsets to Kafka (a hint for lag tools). */
  #flushed (flushed: FlushedPartition[]): void {
    const mine = flushed.filter((f) => this.source.topics.includes(f.topic))
    if (mine.length === 0) return
    void this.source.commit(mine.map((f) => ({ topic: f.topic, partition: f.partition, offset: (BigInt(f.lastOffset) + 1n).toString() })))
  }
}
