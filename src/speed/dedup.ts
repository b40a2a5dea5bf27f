// Drops duplicates by (event_id, timestamp) within a window of event time (dedupWindowMs).
// Keys are kept per event-time minute, and a whole minute is dropped once it lies before
// maxEventTimeSeen − window. A key is a 64-bit hash in an open-addressing table on an Int32Array,
// not a string in a Map (at high rates those cost more in GC than the rest of the pipeline); two
// keys collide with probability ~n/2^64. A minute two behind the newest is compacted (10 bytes a key instead of 16–32:
// at 50,000 events/s and a five-minute window, 194 MB instead of 412). Changes can be undone for one batch (begin /
// commit / rollback).
import { MINUTE_MS } from '../model/index.js'

export interface DedupOptions {
  windowMs: number
}

/** 64-bit hash of (id, ts) as two non-zero-h1 32-bit halves */
let H1 = 0
let H2 = 0
function hashKey (id: string, ts: number): void {
  lanes(id)
  let a = H1
  let b = H2
  const lo = ts >>> 0
  const hi = Math.floor(ts / 4294967296) | 0
  a = fmix(a ^ Math.imul(lo, 0xcc9e2d51) ^ hi)
  b = fmix(b ^ Math.imul(hi, 0x1b873593) ^ lo ^ Math.imul(id.length, 0x85ebca6b))
  H1 = a === 0 ? 1 : a
  H2 = b
}

/** A 64-bit hash of a string, as 8 bytes at `at` of `out` (how the Redis store keeps dedup keys: compact, fixed size). */
export function writeHash64 (s: string, out: Buffer, at: number): void {
  lanes(s)
  out.writeInt32LE(fmix(H1 ^ Math.imul(s.length, 0xcc9e2d51)), at)
  out.writeInt32LE(fmix(H2 ^ Math.imul(s.length, 0x85ebca6b)), at + 4)
}

/** the two 32-bit lanes over the characters of s, unmixed, into H1 and H2 */
function lanes (s: string): void {
  let a = 0x811c9dc5
  let b = 0x2545f491
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  H1 = a
  H2 = b
}

function fmix (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** the slot of (h1, h2) in `slots` (pairs of int32) probing linearly from `i`, or -1 */
function find (slots: Int32Array, capacity: number, i: number, h1: number, h2: number): number {
  for (; ; i = i + 1 === capacity ? 0 : i + 1) {
    const a = slots[2 * i] as number
    if (a === 0 && slots[2 * i + 1] === 0) return -1
    if (a === h1 && slots[2 * i + 1] === h2) return i
  }
}

/** put a hash known to be absent into the first free slot from `i` */
function put (slots: Int32Array, capacity: number, i: number, h1: number, h2: number): void {
  while (slots[2 * i] !== 0) i = i + 1 === capacity ? 0 : i + 1
  slots[2 * i] = h1
  slots[2 * i + 1] = h2
}

/**
 * One event-time minute: an open-addressing set of 64-bit hashes, linear probing. h1 = 0 marks a free slot (h2 = 1:
 * deleted). While the minute is current its capacity is a power of two and 25–50 % used (fast probes, 16–32 bytes a
 * key). compact() moves it into a table 80 % full (10 bytes a key; probes are longer, but past minutes are looked up
 * rarely) step by step: until step() has copied every slot, lookups try the new table, then the old one.
 */
class MinuteSet {
  slots = new Int32Array(2 * 64)
  capacity = 64
  used = 0 // live + deleted, of `slots`
  size = 0
  compacted = false
  /** the table being moved out of by step() (a power-of-two capacity), and the next of its slots to move */
  #old: Int32Array | null = null
  #oldCapacity = 0
  #cursor = 0

  #home (h1: number): number {
    return this.compacted ? (h1 >>> 0) % this.capacity : h1 & (this.capacity - 1)
  }

  has (h1: number, h2: number): boolean {
    if (find(this.slots, this.capacity, this.#home(h1), h1, h2) >= 0) return true
    const old = this.#old
    return old !== null && find(old, this.#oldCapacity, h1 & (this.#oldCapacity - 1), h1, h2) >= 0
  }

  /** add a hash known to be absent */
  add (h1: number, h2: number): void {
    this.step(Infinity)
    if (this.used + 1 > (this.compacted ? Math.floor(this.capacity * MAX_COMPACT_LOAD) : this.capacity >> 1)) this.#grow()
    put(this.slots, this.capacity, this.#home(h1), h1, h2)
    this.used++
    this.size++
  }

  delete (h1: number, h2: number): boolean {
    const i = find(this.slots, this.capacity, this.#home(h1), h1, h2)
    if (i >= 0) { this.slots[2 * i] = 0; this.slots[2 * i + 1] = 1 }
    const old = this.#old
    const j = old === null ? -1 : find(old, this.#oldCapacity, h1 & (this.#oldCapacity - 1), h1, h2)
    if (j >= 0) { (old as Int32Array)[2 * j] = 0; (old as Int32Array)[2 * j + 1] = 1 }
    if (i < 0 && j < 0) return false
    this.size--
    return true
  }

  /** start moving into a table COMPACT_LOAD full (step() does the work); later adds keep it so */
  compact (): void {
    if (this.compacted) return
    this.#old = this.slots
    this.#oldCapacity = this.capacity
    this.#cursor = 0
    this.compacted = true
    this.capacity = Math.max(8, Math.ceil((this.size + 1) / COMPACT_LOAD))
    this.slots = new Int32Array(2 * this.capacity)
    this.used = 0
  }

  /** move up to `slots` slots of the old table; true when none is left */
  step (slots: number): boolean {
    const old = this.#old
    if (old === null) return true
    const end = Math.min(this.#oldCapacity, this.#cursor + slots)
    for (let i = this.#cursor; i < end; i++) {
      const a = old[2 * i] as number
      if (a !== 0) {
        put(this.slots, this.capacity, (a >>> 0) % this.capacity, a, old[2 * i + 1] as number)
        this.used++
      }
    }
    this.#cursor = end
    if (end === this.#oldCapacity) this.#old = null
    return this.#old === null
  }

  get bytes (): number {
    return this.slots.byteLength + (this.#old?.byteLength ?? 0)
  }

  /** current: double when live keys fill a quarter of the slots, else rebuild in place to drop deleted ones; compacted: rebuild 80 % full */
  #grow (): void {
    const old = this.slots
    const oldCapacity = this.capacity
    this.capacity = this.compacted
      ? Math.max(8, Math.ceil((this.size + 1) / COMPACT_LOAD))
      : 4 * this.size + 4 > oldCapacity ? 2 * oldCapacity : oldCapacity
    this.slots = new Int32Array(2 * this.capacity)
    for (let i = 0; i < oldCapacity; i++) {
      const a = old[2 * i] as number
      if (a !== 0) put(this.slots, this.capacity, this.#home(a), a, old[2 * i + 1] as number)
    }
    this.used = this.size
  }
}

/** how full compact() leaves a past minute, and how full later adds may make it before it is rebuilt */
const COMPACT_LOAD = 0.8
const MAX_COMPACT_LOAD = 0.9
/** a minute this far behind the newest one is compacted (events for it are late by then, or duplicates) */
const COMPACT_AFTER_MS = 2 * MINUTE_MS
/** old slots moved per admit while a minute is being compacted (a few seconds of traffic moves a minute's table) */
const COMPACT_STEP = 64

/** The changes of one batch, taken out of the deduplicator by detach(): the keys it added (h1, h2, minute triples). */
export interface DedupJournal {
  keys: number[]
  maxSeen: number
  begun: number
}

export class Deduplicator {
  readonly windowMs: number
  /** event-time minute → the keys in it; a duplicate has the same timestamp, so it is looked up in one minute */
  readonly #buckets = new Map<number, MinuteSet>()
  /** the minutes of #buckets, ascending */
  readonly #minutes: number[] = []
  #maxSeen = -Infinity
  /** keys added since begin() (h1, h2, minute triples), or null outside a batch */
  #journal: number[] | null = null
  #journalMax = -Infinity
  /** batches begun */
  #begun = 0
  /** past minutes to compact, oldest first; the first is being moved, a step per admit */
  #compacting: MinuteSet[] = []

  constructor (options: DedupOptions) {
    this.windowMs = options.windowMs
  }

  /** true when (eventId, ts) is new within the window; false for a duplicate */
  admit (eventId: string, ts: number): boolean {
    const moving = this.#compacting[0]
    if (moving !== undefined) {
      moving.compact()
      if (moving.step(COMPACT_STEP)) this.#compacting.shift()
    }
    const minute = Math.floor(ts / MINUTE_MS) * MINUTE_MS
    hashKey(eventId, ts)
    const h1 = H1
    const h2 = H2
    let bucket = this.#buckets.get(minute)
    if (bucket !== undefined && bucket.has(h1, h2)) return false
    if (ts > this.#maxSeen) {
      this.#maxSeen = ts
      this.#evict()
    }
    // older than the window: cannot be checked any more, admitted and not remembered (it is late anyway; the batch dedups it)
    if (ts < this.#maxSeen - this.windowMs) return true
    if (bucket === undefined) bucket = this.#addBucket(minute)
    bucket.add(h1, h2)
    this.#journal?.push(h1, h2, minute)
    return true
  }

  /** keys held */
  get size (): number {
    let n = 0
    for (const b of this.#buckets.values()) n += b.size
    return n
  }

  /** bytes the keys' tables hold */
  get bytes (): number {
    let n = 0
    for (const b of this.#buckets.values()) n += b.bytes
    return n
  }

  /** newest event time seen, or null */
  get maxEventTime (): number | null {
    return this.#maxSeen === -Infinity ? null : this.#maxSeen
  }

  /** start recording changes so that rollback() (or undo() of what detach() returns) can undo them */
  begin (): void {
    this.#journal = []
    this.#journalMax = this.#maxSeen
    this.#begun++
  }

  commit (): void {
    this.#journal = null
  }

  /** forget every key admitted since begin() (keys evicted meanwhile stay evicted: they were past the horizon) */
  rollback (): void {
    const j = this.detach()
    if (j !== null) this.undo(j)
  }

  /** end the batch begun, keeping its changes and handing back what undo() needs to take them back later */
  detach (): DedupJournal | null {
    const j = this.#journal
    this.#journal = null
    return j === null ? null : { keys: j, maxSeen: this.#journalMax, begun: this.#begun }
  }

  /**
   * Forget the keys of a detached batch, also after other batches began (what they admitted stays). The newest time goes
   * back only when none did: it only steers eviction, which is then merely later.
   */
  undo (j: DedupJournal | null): void {
    if (j === null) return
    const k = j.keys
    for (let i = 0; i < k.length; i += 3) this.#buckets.get(k[i + 2] as number)?.delete(k[i] as number, k[i + 1] as number)
    if (j.begun === this.#begun) this.#maxSeen = j.maxSeen
  }

  #addBucket (minute: number): MinuteSet {
    const bucket = new MinuteSet()
    this.#buckets.set(minute, bucket)
    const m = this.#minutes
    // new minutes nearly always arrive in order: append, else insert in place
    let i = m.length
    while (i > 0 && (m[i - 1] as number) > minute) i--
    m.splice(i, 0, minute)
    // a new newest minute: the ones well behind it become compact
    if (i === m.length - 1) {
      for (let j = 0; j < i && (m[j] as number) <= minute - COMPACT_AFTER_MS; j++) {
        const past = this.#buckets.get(m[j] as number) as MinuteSet
        if (!past.compacted && !this.#compacting.includes(past)) this.#compacting.push(past)
      }
    }
    return bucket
  }

  /** drop the minutes that lie wholly before maxSeen − window: whole tables at once */
  #evict (): void {
    const horizon = this.#maxSeen - this.windowMs
    const m = this.#minutes
    let drop = 0
    while (drop < m.length && (m[drop] as number) + MINUTE_MS <= horizon) {
      this.#buckets.delete(m[drop] as number)
      drop++
    }
    if (drop > 0) {
      m.splice(0, drop)
      this.#compacting = this.#compacting.filter((b) => [...this.#buckets.values()].includes(b))
    }
  }
}
