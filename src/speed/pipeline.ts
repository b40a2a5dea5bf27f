// The speed pipeline: validate → dedup → windows, then one store.apply per consumed batch with
// the batch's source position, so the store is exactly-once whatever the source replays. Each
// record of a (topic, partition) is counted once per process: records at or below the offset
// processed last are skipped before counting, and a batch's counts and dead letters are committed
// only once the store applied it (a failed apply rolls dedup and windows back for a retry).
import {
  type ApplyBatch, type DeadLetter, dedupKey, type HourglassEvent, type InvalidReason, type PartialRow, parseEvent, type QualityCounts,
  type QualitySource, type SpeedStore, type Validation
} from '../model/index.js'
import { partitionKey } from '../model/source-position.js'
import { Deduplicator } from './dedup.js'
import { parseOffset } from './offsets.js'
import { MinuteWindows } from './windows.js'

export interface InputRecord {
  value: string | Uint8Array
  /** the original bytes, when the source has them (Kafka): decoded instead of value (Avro is binary) */
  bytes?: Uint8Array
  /** decimal int64 string */
  offset: string
}

export interface InputBatch {
  topic: string
  partition: number
  records: InputRecord[]
}

export interface SpeedPipelineOptions {
  store: SpeedStore
  dedupWindowMs: number
  allowedLatenessMs: number
  /** dead letters kept in memory for /v1/quality */
  deadLetterKeep: number
  /**
   * called for every invalid record, before the batch is applied (the dead-letter topic plugs in
   * here); the calls of one batch run side by side and the apply waits for all of them
   */
  onInvalid?: (deadLetter: DeadLetter) => void | Promise<void>
  /** called after every store.apply with its duration (ms) and the number of deltas */
  onApplied?: (ms: number, deltaCount: number) => void
  /**
   * the deduplicator, when shared with another pipeline of this process that fed the same store
   * before (the bronze replay at start): a duplicate across the two is then dropped too, which a
   * store that keeps no dedup keys (memory) could not tell
   */
  dedup?: Deduplicator
  /** return the valid events in ProcessResult.valid (for a bronze sink fed from this pipeline) */
  collectValid?: boolean // true
  /**
   * parse and validate a batch's values, one validation per value in order (decode-pool.ts); started as the batch
   * arrives, before the batches ahead of it are applied. Without it, parseEvent here.
   */
  decode?: (values: readonly (string | Uint8Array)[], now: number, topic: string) => Promise<Validation[]>
}

/** A valid event and the offset of the record it came from. */
export interface ValidRecord {
  event: HourglassEvent
  offset: string
}

export interface ProcessResult {
  /** every valid event of the records not counted before, duplicates and late ones included (for bronze; empty unless collectValid) */
  valid: ValidRecord[]
  /** whether the store applied the batch */
  applied: boolean
  /** records skipped because this partition had already been processed up to them */
  skipped: number
  /** records processed (not skipped), counted or not */
  handled: number
  /** of those, the records counted: not handled by this process before (see reset()) */
  received: number
  /** of those, the valid records (duplicates and late ones included) */
  validCount: number
  invalid: number
  duplicates: number
  late: number
  deltas: number
  watermark: number | null
  maxEventTime: number | null
  /** the store has lost its state: it holds no position for a partition this pipeline applied to */
  storeLost: boolean
  /** not processed at all: `stale()` said the batch was read before a reset it waited for */
  stale: boolean
}

/** One try at a batch, and (when the store did not apply it) how to count it as applied after all. */
interface Attempt {
  result: ProcessResult
  commit: () => void
}

/** Dead letters kept in memory are for display: raw text longer than this is cut. */
const DEAD_LETTER_RAW_MAX = 8192

const decoder = new TextDecoder()

export class SpeedPipeline implements QualitySource {
  readonly #store: SpeedStore
  #dedup: Deduplicator
  #windows: MinuteWindows
  readonly #dedupWindowMs: number
  readonly #allowedLatenessMs: number
  /** whether the store remembers dedup keys for other processes (ApplyBatch.dedupKeys, seen) */
  readonly #storeDedup: boolean
  readonly #keep: number
  readonly #onInvalid: SpeedPipelineOptions['onInvalid']
  readonly #onApplied: SpeedPipelineOptions['onApplied']
  readonly #collectValid: boolean
  readonly #decode: SpeedPipelineOptions['decode']
  /** last processed offset per topic + partition */
  readonly #processed = new Map<string, bigint>()
  /** last counted offset per topic + partition (not reset: a record handled again is not counted again) */
  readonly #counted = new Map<string, bigint>()
  /** last offset per topic + partition whose dead letters onInvalid has taken (none is sent twice by this process) */
  readonly #sent = new Map<string, bigint>()
  readonly #counts: QualityCounts = { received: 0, valid: 0, invalid: 0, invalid_by_reason: {}, duplicates: 0, late: 0 }
  /** ring buffer of the newest dead letters */
  readonly #dead: DeadLetter[] = []
  #deadNext = 0
  /** per partition, a batch whose apply was sent and not answered (it may still run): its last offset and what it counted */
  readonly #unanswered = new Map<string, { last: string, duplicates: number, late: number }>()
  /** per partition, the end of its last process() call */
  readonly #inFlight = new Map<string, Promise<void>>()
  /** a reset() under way: process() calls wait for it */
  #resetting: Promise<void> | undefined
  /** decodings started by decodeAhead(), taken by the batch's next process() */
  readonly #ahead = new WeakMap<InputBatch, Promise<Validation[]>>()

  constructor (options: SpeedPipelineOptions) {
    this.#store = options.store
    this.#storeDedup = options.store.keepsDedupKeys
    this.#dedupWindowMs = options.dedupWindowMs
    this.#allowedLatenessMs = options.allowedLatenessMs
    this.#dedup = options.dedup ?? new Deduplicator({ windowMs: this.#dedupWindowMs })
    this.#windows = new MinuteWindows({ allowedLatenessMs: this.#allowedLatenessMs })
    this.#keep = options.deadLetterKeep
    this.#onInvalid = options.onInvalid
    this.#onApplied = options.onApplied
    this.#collectValid = options.collectValid ?? true
    this.#decode = options.decode
  }

  /**
   * Process one consumed batch at wall-clock time `now`. Calls for one partition run one after another; calls for
   * different partitions may overlap: one's apply (a store round trip) runs while another validates and counts.
   */
  process (batch: InputBatch, now: number, stale?: () => boolean): Promise<ProcessResult> {
    const key = partitionKey(batch.topic, batch.partition)
    // decoding starts at once (in decode threads, while earlier batches are applied); the run below awaits it
    const decoded = this.#ahead.get(batch) ?? this.#decode?.(batch.records.map((r) => r.bytes ?? r.value), now, batch.topic)
    this.#ahead.delete(batch)
    decoded?.catch(() => undefined)
    const resetting = this.#resetting
    // a batch read before a reset it had to wait for is left alone: processed after it, it would set positions ahead of
    // the records its source rewinds to, and those would be skipped
    const run = Promise.all([this.#inFlight.get(key), resetting]).then(() => stale?.() === true ? this.#empty(true) : this.#process(batch, now, decoded))
    const settled = run.then(() => undefined, () => undefined)
    this.#inFlight.set(key, settled)
    void settled.then(() => { if (this.#inFlight.get(key) === settled) this.#inFlight.delete(key) })
    return run
  }

  /** Start decoding a batch that process() will be given later (it may not be: a dropped batch's decoding is lost). */
  decodeAhead (batch: InputBatch, now: number): void {
    const decoded = this.#decode?.(batch.records.map((r) => r.bytes ?? r.value), now, batch.topic)
    if (decoded === undefined) return
    decoded.catch(() => undefined)
    this.#ahead.set(batch, decoded)
  }

  /**
   * Forget what was processed: positions, dedup and windows (the watermark too), after the store
   * lost its state and before the source replays the retention. The counters stay: records handled
   * again are windowed again, but neither counted nor sent as dead letters again. Runs once the
   * process() calls in flight have ended; calls made meanwhile wait for it.
   */
  reset (): Promise<void> {
    const running = [...this.#inFlight.values(), this.#resetting]
    const run = Promise.all(running).then(() => {
      this.#processed.clear()
      this.#dedup = new Deduplicator({ windowMs: this.#dedupWindowMs })
      this.#windows = new MinuteWindows({ allowedLatenessMs: this.#allowedLatenessMs })
    })
    // calls made meanwhile start after it
    const done = run.then(() => { if (this.#resetting === done) this.#resetting = undefined })
    this.#resetting = done
    return run
  }

  /** the deduplicator in use (a replay that must share it, after reset() too) */
  get deduplicator (): Deduplicator {
    return this.#dedup
  }

  get watermark (): number | null {
    return this.#windows.watermark
  }

  get maxEventTime (): number | null {
    return this.#windows.maxEventTime
  }

  counts (): QualityCounts {
    return { ...this.#counts, invalid_by_reason: { ...this.#counts.invalid_by_reason } }
  }

  deadLetters (limit: number): DeadLetter[] {
    const out: DeadLetter[] = []
    const n = this.#dead.length
    for (let i = 1; i <= Math.min(limit, n); i++) out.push(this.#dead[(this.#deadNext - i + n) % n] as DeadLetter)
    return out
  }

  /** a result of nothing processed yet */
  #empty (stale: boolean): ProcessResult {
    return {
      valid: [], applied: false, skipped: 0, handled: 0, received: 0, validCount: 0, invalid: 0, duplicates: 0, late: 0, deltas: 0,
      watermark: this.#windows.watermark, maxEventTime: this.#windows.maxEventTime, storeLost: false, stale
    }
  }

  async #process (batch: InputBatch, now: number, decoded?: Promise<Validation[]>): Promise<ProcessResult> {
    const key = partitionKey(batch.topic, batch.partition)
    /** the last offset of this partition's unanswered apply before this attempt */
    const unanswered = this.#unanswered.get(key)
    const { result, commit } = await this.#attempt(batch, now, decoded)
    if (result.applied || result.handled === 0) return result
    // The store's position moved under us (another consumer owned this partition for a while):
    // read it again, skip what is already counted, and try once more. No position at all where
    // this pipeline had applied batches: the store lost its state (the caller rebuilds it).
    const known = this.#processed.get(key)
    this.#processed.delete(key)
    const position = await this.#store.position(batch.topic, batch.partition)
    if (known !== undefined && known >= 0n && position === null) return { ...result, storeLost: true }
    // This batch's own earlier apply, unanswered (the store did not answer in time), ran after all: the position is
    // exactly its last offset. It is counted now (else /v1/quality would miss it), not applied again.
    const last = (batch.records[batch.records.length - 1] as InputRecord).offset
    if (position !== null && unanswered?.last === last && parseOffset(position) === parseOffset(last)) {
      // its duplicates and late events as that apply judged them (this attempt took the keys it stored for duplicates)
      result.duplicates = unanswered.duplicates
      result.late = unanswered.late
      commit()
      return { ...result, applied: true }
    }
    return (await this.#attempt(batch, now, decoded)).result
  }

  async #attempt (batch: InputBatch, now: number, decoded?: Promise<Validation[]>): Promise<Attempt> {
    const { topic, partition, records } = batch
    const result = this.#empty(false)
    const last = records[records.length - 1]
    if (last === undefined) return { result, commit: () => undefined }
    const key = partitionKey(topic, partition)
    let done = this.#processed.get(key)
    if (done === undefined) {
      const stored = await this.#store.position(topic, partition)
      done = stored === null ? -1n : parseOffset(stored)
      this.#processed.set(key, done)
    }
    const validations = await decoded
    const lastOffset = parseOffset(last.offset)
    const counted = this.#counted.get(key) ?? -1n
    const sentUpTo = this.#sent.get(key) ?? -1n

    const byReason: Partial<Record<InvalidReason, number>> = {}
    const dead: DeadLetter[] = []
    /** onInvalid calls still running: started one per record, so a dead-letter sink may send them together */
    const sending: (void | Promise<void>)[] = []
    // Validation and dedup, then windows from begin to commit, each run without a pause (no await), so a batch of another
    // partition never runs in between; a batch not applied undoes its own changes (undo, restore), not the others'.
    const dedup = this.#dedup
    const windows = this.#windows
    const newest = windows.newestOf(key)
    const admitted: HourglassEvent[] = []
    /** how many of `admitted` were counted before (they come first) */
    let admittedAgain = 0
    dedup.begin()
    try {
      // offsets within a batch ascend: compare only while the batch may overlap what was processed,
      // and (after a reset) while it may overlap what was counted
      let overlap = parseOffset((records[0] as InputRecord).offset) <= done
      let again = parseOffset((records[0] as InputRecord).offset) <= counted
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as InputRecord
        if (overlap) {
          if (parseOffset(record.offset) <= done) { result.skipped++; continue }
          overlap = false
        }
        result.handled++
        if (again && parseOffset(record.offset) > counted) again = false
        if (!again) result.received++
        const v = validations?.[i] ?? parseEvent(record.value, now)
        if (!v.ok) {
          if (again) continue // counted, kept and sent to the dead-letter sink before the reset
          result.invalid++
          byReason[v.reason] = (byReason[v.reason] ?? 0) + 1
          const raw = typeof record.value === 'string' ? record.value : decoder.decode(record.value)
          const letter: DeadLetter = { reason: v.reason, detail: v.detail, raw, source: { topic, partition, offset: record.offset }, at: now }
          dead.push(letter)
          if (this.#onInvalid !== undefined && parseOffset(record.offset) > sentUpTo) sending.push(this.#onInvalid(letter))
          continue
        }
        const e = v.event
        if (!again) {
          result.validCount++
          if (this.#collectValid) result.valid.push({ event: e, offset: record.offset })
        }
        if (dedup.admit(e.event_id, e.ts)) {
          admitted.push(e)
          if (again) admittedAgain++
        } else if (!again) result.duplicates++
      }
    } catch (err) {
      dedup.rollback()
      Promise.allSettled(sending).catch(() => undefined)
      throw err
    }
    const journal = dedup.detach()
    const undo = (): void => {
      dedup.undo(journal)
      windows.restore(key, newest)
    }
    try {
      // every dead letter of the batch is handed over (e.g. acknowledged by the dead-letter topic) before the apply:
      // a crash in between may send one twice, never zero times; a retried batch does not send them again
      if (sending.length > 0) await Promise.all(sending)
      if (lastOffset > sentUpTo) this.#sent.set(key, lastOffset)
      // Duplicates of events that earlier batches applied, which this process may not have seen
      // (it restarted, or the partition moved here): a store that outlives the process remembers
      // their keys. One that does not (memory) could only hold keys this pipeline's dedup has seen.
      // A store that can check them within the apply (applyUnseen) is asked in the same round trip:
      // when some turn out recorded, the windows are made again without those events.
      const keys = this.#storeDedup ? admitted.map((e) => dedupKey(e.event_id, e.ts)) : []
      const applyUnseen = keys.length === 0 ? undefined : this.#store.applyUnseen?.bind(this.#store)
      const seen = applyUnseen !== undefined || keys.length === 0 ? new Array<boolean>(keys.length).fill(false) : await this.#store.seen(keys)
      const position = { topic, partition, offset: last.offset }
      const previous = done < 0n ? null : done.toString()
      let deltas: PartialRow[]
      let started: number
      for (;;) {
        const fresh: string[] = []
        /** the index in `admitted` of each fresh key */
        const freshAt: number[] = []
        let duplicates = 0
        let late = 0
        windows.begin(key)
        for (let i = 0; i < admitted.length; i++) {
          const e = admitted[i] as HourglassEvent
          if (seen[i] === true) { if (i >= admittedAgain) duplicates++; continue }
          if (this.#storeDedup) { fresh.push(keys[i] as string); freshAt.push(i) }
          if (!windows.add(e) && i >= admittedAgain) late++
        }
        deltas = windows.drain()
        const watermark = windows.watermark
        const maxEventTime = windows.maxEventTime
        windows.commit()
        const apply: ApplyBatch = {
          deltas,
          position,
          previous,
          ...(fresh.length === 0 ? {} : { dedupKeys: fresh }),
          ...(watermark === null ? {} : { watermark }),
          ...(maxEventTime === null ? {} : { maxEventTime })
        }
        started = performance.now()
        // until the store answers
        this.#unanswered.set(key, { last: last.offset, duplicates: result.duplicates + duplicates, late: result.late + late })
        if (applyUnseen !== undefined && fresh.length > 0) {
          const r = await applyUnseen(apply)
          if (r.seen.length > 0) {
            for (const j of r.seen) seen[freshAt[j] as number] = true
            windows.restore(key, newest)
            continue
          }
          result.applied = r.applied
        } else {
          result.applied = await this.#store.apply(apply)
        }
        this.#unanswered.delete(key)
        result.duplicates += duplicates
        result.late += late
        result.watermark = watermark
        result.maxEventTime = maxEventTime
        break
      }
      this.#onApplied?.(performance.now() - started, deltas.length)
      result.deltas = deltas.length
    } catch (err) {
      Promise.allSettled(sending).catch(() => undefined) // none of them is left unhandled
      undo()
      throw err
    }
    /** what an applied batch leaves: its partition processed and counted up to its last offset, its counts */
    const commit = (): void => {
      if (lastOffset > done) this.#processed.set(key, lastOffset)
      if (lastOffset > counted) this.#counted.set(key, lastOffset)
      this.#commitCounts(result, byReason, dead)
    }
    if (!result.applied && result.handled > 0) {
      // not applied although it held new records: the caller retries after re-reading the position
      undo()
      return { result, commit }
    }
    if (result.applied) commit()
    else if (lastOffset > done) this.#processed.set(key, lastOffset)
    return { result, commit: () => undefined }
  }

  #commitCounts (r: ProcessResult, byReason: Partial<Record<InvalidReason, number>>, dead: DeadLetter[]): void {
    const c = this.#counts
    c.received += r.received
    c.valid += r.validCount
    c.invalid += r.invalid
    c.duplicates += r.duplicates
    c.late += r.late
    for (const [reason, n] of Object.entries(byReason) as [InvalidReason, number][]) c.invalid_by_reason[reason] = (c.invalid_by_reason[reason] ?? 0) + n
    if (this.#keep === 0) return
    for (const letter of dead) {
      const kept = letter.raw.length > DEAD_LETTER_RAW_MAX ? { ...letter, raw: letter.raw.slice(0, DEAD_LETTER_RAW_MAX) + '…' } : letter
      if (this.#dead.length < this.#keep) this.#dead.push(kept)
      else this.#dead[this.#deadNext] = kept
      this.#deadNext = (this.#deadNext + 1) % this.#keep
    }
  }
}
