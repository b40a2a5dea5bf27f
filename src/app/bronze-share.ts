// The speed path's validations, handed to the bronze feed (`--source kafka`): both consumer groups read the same
// records, so where this process's speed consumer has just parsed and validated a record, the bronze consumer takes
// that result instead of parsing the record a second time on the same cores (docs/design.md, "Bronze").
//
// The two groups keep their own offsets and cut their batches differently, so the validations are kept per
// partition by offset, briefly: a bronze batch takes what the speed path offered for its offsets, and parses the
// rest itself. When the speed consumer is just behind a bronze batch (it has offered that partition up to within one
// batch length of it), bronze waits for it, at most waitMs; when it is further behind, or does not read that
// partition (another process holds it), bronze parses at once. Nothing here decides what is valid: a
// record's validation is the speed path's or bronze's own, both parseEvent's rules. Kept only while a feed is
// attached (the data folder's leader), about maxHeld records and at most keepMs.
import { compareOffsets } from '../batch/index.js'
import type { RawRecord } from '../ingest/index.js'
import { type HourglassEvent, partitionKey } from '../model/index.js'

/** per record of a bronze batch: the speed path's event, null where the speed path found it invalid, undefined where it has none */
export type SharedValidations = Array<HourglassEvent | null | undefined>

/** What the speed pipeline reports of a batch it processed: of its records, the last `received` ones are new to it. */
export interface ProcessedBatch {
  received: number
  /** the valid events among the received records, with their offsets, in order */
  valid: ReadonlyArray<{ event: HourglassEvent, offset: string }>
}

export interface BronzeShareOptions {
  /** how long a bronze batch waits for the speed path's validations (0: bronze parses every record itself) */
  waitMs: number
  /** about this many records held over every partition: an offer past it drops its partition's oldest */
  maxHeld?: number // 100,000
  /** validations older than this are dropped */
  keepMs?: number // 10 s
  now?: () => number
}

interface Chunk {
  first: bigint
  last: bigint
  offsets: readonly string[]
  /** per offset, the event or null (invalid) */
  events: Array<HourglassEvent | null>
  at: number
}

interface Lane {
  chunks: Chunk[]
  /** the last offset offered (-1: none) */
  last: bigint
  waiters: Set<() => void>
}

export class BronzeShare {
  readonly #waitMs: number
  readonly #maxHeld: number
  readonly #keepMs: number
  readonly #now: () => number
  readonly #lanes = new Map<string, Lane>()
  #held = 0
  #attached = 0

  constructor (options: BronzeShareOptions) {
    this.#waitMs = options.waitMs
    this.#maxHeld = options.maxHeld ?? 100_000
    this.#keepMs = options.keepMs ?? 10_000
    this.#now = options.now ?? Date.now
  }

  /** whether offers are kept: a bronze feed is attached and sharing is on */
  get active (): boolean {
    return this.#attached > 0 && this.#waitMs > 0
  }

  get held (): number {
    return this.#held
  }

  /** A bronze feed starts taking; returns the function that detaches it (the last detach drops what is held). */
  attach (): () => void {
    this.#attached++
    let attached = true
    return () => {
      if (!attached) return
      attached = false
      if (--this.#attached === 0) this.#clear()
    }
  }

  /** The speed path processed `records` of a partition (ascending offsets): keep their validations for bronze. */
  offer (topic: string, partition: number, records: readonly Pick<RawRecord, 'offset'>[], processed: ProcessedBatch): void {
    if (!this.active || processed.received === 0) return
    const at = this.#now()
    const from = records.length - processed.received
    const offsets = records.slice(from).map((r) => r.offset)
    const events = new Array<HourglassEvent | null>(offsets.length).fill(null)
    let j = 0
    const { valid } = processed
    for (let i = 0; i < offsets.length && j < valid.length; i++) {
      const v = valid[j] as { event: HourglassEvent, offset: string }
      if (v.offset === offsets[i]) { events[i] = v.event; j++ }
    }
    const key = partitionKey(topic, partition)
    let lane = this.#lanes.get(key)
    if (lane === undefined) this.#lanes.set(key, lane = { chunks: [], last: -1n, waiters: new Set() })
    const chunk: Chunk = { first: BigInt(offsets[0] as string), last: BigInt(offsets[offsets.length - 1] as string), offsets, events, at }
    lane.chunks.push(chunk)
    this.#held += offsets.length
    if (chunk.last > lane.last) lane.last = chunk.last
    this.#evict(lane, at)
    for (const wake of lane.waiters) wake()
  }

  /**
   * The validations the speed path offered for a bronze batch's records (ascending offsets), after waiting for
   * them while the speed consumer is just behind; what bronze takes is dropped from here.
   */
  async take (topic: string, partition: number, records: readonly Pick<RawRecord, 'offset'>[]): Promise<SharedValidations> {
    const out: SharedValidations = new Array<HourglassEvent | null | undefined>(records.length).fill(undefined)
    const lane = this.#lanes.get(partitionKey(topic, partition))
    if (records.length === 0 || lane === undefined || !this.active) return out
    const first = BigInt((records[0] as Pick<RawRecord, 'offset'>).offset)
    const last = BigInt((records[records.length - 1] as Pick<RawRecord, 'offset'>).offset)
    if (this.#worthWaiting(lane, first, last)) await this.#waitFor(lane, last)
    while (lane.chunks.length > 0 && (lane.chunks[0] as Chunk).last < first) this.#dropHead(lane)
    // both ascend: one walk (chunks may overlap, e.g. a batch the speed path handled again after a rewind)
    let c = 0
    let k = 0
    records: for (let i = 0; i < records.length; i++) {
      const offset = (records[i] as Pick<RawRecord, 'offset'>).offset
      for (;;) {
        const chunk = lane.chunks[c]
        if (chunk === undefined) break records
        const here = chunk.offsets[k]
        if (here === undefined) { c++; k = 0; continue }
        const d = compareOffsets(here, offset)
        if (d > 0) break // not offered (the speed path had counted it before): parsed by bronze
        k++
        if (d === 0) { out[i] = chunk.events[k - 1] as HourglassEvent | null; break }
      }
    }
    while (lane.chunks.length > 0 && (lane.chunks[0] as Chunk).last <= last) this.#dropHead(lane)
    return out
  }

  /**
   * the speed consumer is within one batch length behind the batch's first offset: it will offer them soon, or it stalled
   * (its store does not answer, its partition went to another process) and bronze waits once, as then its next batch is
   * further ahead
   */
  #worthWaiting (lane: Lane, first: bigint, last: bigint): boolean {
    return lane.last < last && first - 1n - lane.last < last - first + 1n
  }

  async #waitFor (lane: Lane, last: bigint): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        lane.waiters.delete(check)
        resolve()
      }
      const check = (): void => { if (lane.last >= last || !this.active) done() }
      const timer = setTimeout(done, this.#waitMs)
      lane.waiters.add(check)
    })
  }

  #dropHead (lane: Lane): void {
    const chunk = lane.chunks.shift()
    if (chunk !== undefined) this.#held -= chunk.offsets.length
  }

  /** drop what is older than keepMs everywhere, then the oldest of this lane while over maxHeld */
  #evict (lane: Lane, at: number): void {
    for (const l of this.#lanes.values()) {
      while (l.chunks.length > 0 && at - (l.chunks[0] as Chunk).at > this.#keepMs) this.#dropHead(l)
    }
    while (this.#held > this.#maxHeld && lane.chunks.length > 1) this.#dropHead(lane)
  }

  #clear (): void {
    for (const lane of this.#lanes.values()) {
      lane.chunks.length = 0
      for (const wake of lane.waiters) wake()
    }
    this.#lanes.clear()
    this.#held = 0
  }
}
