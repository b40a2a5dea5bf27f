// Synthetic traffic that looks like the real thing: skewed (Zipf-like) event types and regions,
// log-normal response and processing times, revenue on purchases only, a diurnal rate curve,
// and configurable shares of duplicates (an earlier record's exact bytes again), late events
// (event time minutes in the past) and invalid records of many kinds. Deterministic for a seed.
//
// Two ways in: generateHistory() for seeding the batch layer fast, and SyntheticSource, a
// RecordSource that emits live at a rate.
import { HOUR_MS, MINUTE_MS } from '../model/index.js'
import type { BatchHandler, RawBatch, RawRecord, RecordSource } from './source.js'

/** duplicateShare, lateShare and invalidShare */
export interface Shares {
  duplicate: number
  late: number
  invalid: number
}

/** The shares as the settings name them. */
export function sharesOf (s: { duplicateShare: number, lateShare: number, invalidShare: number }): Shares {
  return { duplicate: s.duplicateShare, late: s.lateShare, invalid: s.invalidShare }
}

/** Event types by popularity, with their median response time (ms). */
export const EVENT_TYPES: readonly { name: string, responseMs: number }[] = [
  { name: 'page_view', responseMs: 80 },
  { name: 'click', responseMs: 40 },
  { name: 'search', responseMs: 180 },
  { name: 'login', responseMs: 150 },
  { name: 'add_to_cart', responseMs: 120 },
  { name: 'logout', responseMs: 30 },
  { name: 'error', responseMs: 900 },
  { name: 'purchase', responseMs: 350 },
  { name: 'signup', responseMs: 250 }
]

/** Regions by popularity. */
export const REGIONS: readonly string[] = ['us-east', 'eu-west', 'us-west', 'ap-south', 'eu-central', 'ap-northeast', 'sa-east']

/** How far before its emission a late event's time lies: beyond the one-minute allowed lateness. */
export const LATE_MIN_MS = 3 * MINUTE_MS
export const LATE_MAX_MS = 10 * MINUTE_MS

/** Diurnal rate factor, mean 1 over a UTC day, peak (15:00 UTC) twice the trough (03:00 UTC). */
export function diurnalFactor (t: number): number {
  const hour = (t % 86_400_000) / HOUR_MS
  return 1 + Math.sin((2 * Math.PI * (hour - 9)) / 24) / 3
}

/** mulberry32: a small, fast, seedable PRNG; returns floats in [0, 1). */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** cumulative Zipf weights 1/k^s for n items */
function zipfCdf (n: number, s: number): Float64Array {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) { sum += 1 / Math.pow(k + 1, s); cdf[k] = sum }
  for (let k = 0; k < n; k++) cdf[k] = (cdf[k] as number) / sum
  return cdf
}

function pick (cdf: Float64Array, u: number): number {
  for (let k = 0; k < cdf.length - 1; k++) if (u < (cdf[k] as number)) return k
  return cdf.length - 1
}

const TYPE_CDF = zipfCdf(EVENT_TYPES.length, 1.1)
const REGION_CDF = zipfCdf(REGIONS.length, 0.9)
const PURCHASE = EVENT_TYPES.findIndex((t) => t.name === 'purchase')
const LN_RESPONSE = EVENT_TYPES.map((t) => Math.log(t.responseMs))
const LN_PROCESSING = EVENT_TYPES.map((t) => Math.log(t.responseMs / 8))
const LN_REVENUE_CENTS = Math.log(3500) // median purchase $35
const RECENT = 16

/** Review texts of the synthetic stream (enriched with sentiment and entities), a few of each tone. */
const REVIEWS = [
  'Great service, the parcel arrived a day early in Berlin!', 'Love the new checkout, so fast.', 'Excellent support from Anna, thank you!',
  'Terrible wait, nobody answered for two hours.', 'The refund never came. Awful.', 'Broken on arrival, very disappointed with Contoso.',
  'Delivered to Paris on Monday.', 'The app works as described.', 'Ordered the blue one from the Seattle store.'
]
/** 2% of the events carry a review: a band of the user draw, so no other value of the stream changes */
function review (u: number): string {
  if (u < REVIEW_BAND[0] || u >= REVIEW_BAND[1]) return ''
  return ',"text":' + JSON.stringify(REVIEWS[Math.floor((u - REVIEW_BAND[0]) * 1e6) % REVIEWS.length])
}
const REVIEW_BAND = [0.15, 0.17] as const
/** `","event_type":"…","region":"…"` for every pair: fewer pieces to join per record */
const TYPE_REGION = EVENT_TYPES.map((t) => REGIONS.map((r) => '","event_type":"' + t.name + '","region":"' + r + '"'))

export interface TrafficOptions {
  seed: number
  shares: Shares
}

/** The record maker shared by history and live: one raw JSON line per call. */
export class TrafficGenerator {
  readonly shares: Shares
  readonly #rand: () => number
  readonly #idPrefix: string
  #count = 0
  readonly #recent: string[] = []
  #recentNext = 0
  #spare: number | null = null
  #isoSecond = NaN
  #isoPrefix = ''

  constructor (options: TrafficOptions) {
    this.shares = { ...options.shares }
    this.#rand = prng(options.seed)
    this.#idPrefix = (options.seed >>> 0).toString(16).padStart(8, '0')
  }

  /** One record emitted at `at` (epoch ms, integer): mostly an event with event time `at`. */
  record (at: number): string {
    const r = this.#rand()
    const s = this.shares
    if (r < s.duplicate && this.#recent.length > 0) {
      return this.#recent[Math.floor(this.#rand() * this.#recent.length)] as string
    }
    if (r < s.duplicate + s.late) {
      return this.#event(at - LATE_MIN_MS - Math.floor(this.#rand() * (LATE_MAX_MS - LATE_MIN_MS)))
    }
    if (r < s.duplicate + s.late + s.invalid) return this.#invalid(at)
    const value = this.#event(at)
    if (this.#recent.length < RECENT) this.#recent.push(value)
    else this.#recent[this.#recentNext] = value
    this.#recentNext = (this.#recentNext + 1) % RECENT
    return value
  }

  #normal (): number {
    if (this.#spare !== null) {
      const z = this.#spare
      this.#spare = null
      return z
    }
    const u = 1 - this.#rand() // (0, 1]
    const v = this.#rand()
    const m = Math.sqrt(-2 * Math.log(u))
    this.#spare = m * Math.sin(2 * Math.PI * v)
    return m * Math.cos(2 * Math.PI * v)
  }

  #iso (ts: number): string {
    const second = Math.floor(ts / 1000)
    if (second !== this.#isoSecond) {
      this.#isoSecond = second
      this.#isoPrefix = new Date(second * 1000).toISOString().slice(0, 19)
    }
    const ms = ts - second * 1000
    return this.#isoPrefix + (ms < 10 ? '.00' : ms < 100 ? '.0' : '.') + ms + 'Z'
  }

  #fields (ts: number): { type: number, json: string } {
    const rand = this.#rand
    const type = pick(TYPE_CDF, rand())
    const typeRegion = (TYPE_REGION[type] as string[])[pick(REGION_CDF, rand())] as string
    const id = this.#idPrefix + '-' + (this.#count++).toString(36)
    const response = Math.round(Math.exp((LN_RESPONSE[type] as number) + 0.6 * this.#normal()) * 10) / 10
    const processing = Math.max(0.01, Math.round(Math.exp((LN_PROCESSING[type] as number) + 0.5 * this.#normal()) * 100) / 100)
    const u = rand()
    const user = (u < 0.15 ? '' : ',"user_id":"u' + Math.floor(100_000 * u * u) + '"') + review(u)
    const json = '{"event_id":"' + id + '","timestamp":"' + this.#iso(ts) + typeRegion + user +
      ',"processing_time":' + processing + ',"response_time":' + response
    return { type, json }
  }

  #event (ts: number): string {
    const { type, json } = this.#fields(ts)
    if (type !== PURCHASE) return json + '}'
    const cents = Math.min(10_000_000, Math.max(1, Math.round(Math.exp(LN_REVENUE_CENTS + 0.9 * this.#normal()))))
    return json + ',"revenue":' + cents / 100 + '}'
  }

  /** an invalid record of one of many kinds, each failing the event contract for its own reason */
  #invalid (at: number): string {
    const rand = this.#rand
    const base = JSON.parse(this.#event(at)) as Record<string, unknown>
    switch (Math.floor(rand() * 12)) {
      case 0: return JSON.stringify(base).slice(0, 20 + Math.floor(rand() * 40)) // truncated: not JSON
      case 1: return 'GET /checkout?id=' + Math.floor(rand() * 1e6) + ' HTTP/1.1' // not JSON at all
      case 2: return JSON.stringify([base]) // not an object
      case 3: delete base.event_id; break
      case 4: delete base.event_type; break
      case 5: delete base.region; break
      case 6: base.revenue = -Math.round(rand() * 10_000) / 100 - 0.01; break // negative revenue
      case 7: base.revenue = (Math.floor(rand() * 100_000) * 10 + 1 + Math.floor(rand() * 9)) / 1000; break // 3 decimals
      case 8: base.timestamp = new Date(at + 10 * MINUTE_MS + Math.floor(rand() * 110 * MINUTE_MS)).toISOString(); break // future
      case 9: base.timestamp = rand() < 0.5 ? 'yesterday' : '2024-13-45T25:61:00Z'; break
      case 10: base.response_time = -Math.round(rand() * 1000) / 10 - 0.1; break
      default: delete base.timestamp
    }
    return JSON.stringify(base)
  }
}

export interface HistoryRecord extends RawRecord {
  /** when a live producer would have sent it (epoch ms): validate with this as "now" */
  at: number
}

export interface HistoryBatch extends RawBatch {
  records: HistoryRecord[]
}

export interface HistoryOptions {
  /** emission times cover [from, to) (epoch ms) */
  from: number
  to: number
  /** mean records per second (all kinds), modulated by the diurnal curve */
  rate: number
  seed: number
  shares: Shares
  /** records per yielded batch */
  chunkSize?: number // one thousand
  topic?: string // 'synthetic-history'
  /** offset of the first record */
  startOffset?: number // 0
}

/**
 * Synthetic history: batches of raw records emitted over [from, to), in emission order, about
 * rate × diurnalFactor records per second. Offsets count up from startOffset.
 */
export function * generateHistory (options: HistoryOptions): Generator<HistoryBatch> {
  const gen = new TrafficGenerator({ seed: options.seed, shares: options.shares })
  const rand = prng((options.seed ^ 0x5bd1e995) >>> 0)
  const chunkSize = options.chunkSize ?? 1000
  const topic = options.topic ?? 'synthetic-history'
  let offset = options.startOffset ?? 0
  let records: HistoryRecord[] = []
  for (let second = Math.floor(options.from / 1000) * 1000; second < options.to; second += 1000) {
    const expected = options.rate * diurnalFactor(second + 500)
    let n = Math.floor(expected)
    if (rand() < expected - n) n++
    for (let i = 0; i < n; i++) {
      const at = second + Math.floor(((i + rand()) * 1000) / n) // stratified: in order within the second
      if (at < options.from || at >= options.to) continue
      records.push({ value: gen.record(at), offset: String(offset++), at })
      if (records.length >= chunkSize) {
        yield { topic, partition: 0, records }
        records = []
      }
    }
  }
  if (records.length > 0) yield { topic, partition: 0, records }
}

export interface LiveTrafficOptions {
  rate: number
  seed: number
  shares: Shares
  /** offset of the first record */
  startOffset?: string | number | bigint // 0
  /** a pause longer than this (e.g. a suspended laptop) is skipped, not caught up */
  maxCatchUpMs?: number // ten seconds
}

/**
 * Live traffic by the clock: take(now) returns the records due since the previous call
 * (rate × diurnal curve, fractions carried over so the count is exact over time), with event
 * times spread over that interval. Pure: the caller supplies the time.
 */
export class LiveTraffic {
  readonly rate: number
  readonly #gen: TrafficGenerator
  readonly #maxCatchUp: number
  #offset: bigint
  #last: number | null = null
  #carry = 0

  constructor (options: LiveTrafficOptions) {
    this.rate = options.rate
    this.#gen = new TrafficGenerator({ seed: options.seed, shares: options.shares })
    this.#offset = BigInt(options.startOffset ?? 0)
    this.#maxCatchUp = options.maxCatchUpMs ?? 10_000
  }

  /** the offset the next record will get */
  get nextOffset (): string {
    return this.#offset.toString()
  }

  take (now: number): RawRecord[] {
    const last = this.#last
    this.#last = now
    if (last === null || now <= last) return []
    const from = Math.max(last, now - this.#maxCatchUp)
    const span = now - from
    const expected = (this.rate * diurnalFactor(from + span / 2) * span) / 1000 + this.#carry
    const n = Math.floor(expected)
    this.#carry = expected - n
    const out: RawRecord[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const at = Math.floor(from + ((i + 1) * span) / n)
      out[i] = { value: this.#gen.record(at), offset: (this.#offset++).toString() }
    }
    return out
  }
}

export interface SyntheticSourceOptions extends LiveTrafficOptions {
  topic?: string // 'synthetic'
  /** how often a batch is emitted */
  tickMs?: number // 200 ms
  /** at most this many records per batch (a tick with more hands out several) */
  maxBatch?: number // five thousand
  now?: () => number
}

/** A RecordSource emitting synthetic traffic live, at `rate` records per second, partition 0. */
export class SyntheticSource implements RecordSource {
  readonly done: Promise<void>
  readonly topic: string
  readonly #traffic: LiveTraffic
  readonly #tickMs: number
  readonly #maxBatch: number
  readonly #now: () => number
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #stopped = false
  #started = false
  #resolve!: () => void
  #reject!: (err: unknown) => void

  constructor (options: SyntheticSourceOptions) {
    this.topic = options.topic ?? 'synthetic'
    this.#traffic = new LiveTraffic(options)
    this.#tickMs = options.tickMs ?? 200
    this.#maxBatch = options.maxBatch ?? 5000
    this.#now = options.now ?? Date.now
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.done.catch(() => undefined) // a failure is reported to whoever awaits done, never as unhandled
  }

  /** the offset the next record will get */
  get nextOffset (): string {
    return this.#traffic.nextOffset
  }

  async start (handler: BatchHandler): Promise<void> {
    if (this.#started) throw new Error('synthetic source: already started')
    this.#started = true
    this.#traffic.take(this.#now()) // the clock starts now
    const tick = (): void => {
      this.#timer = null
      if (this.#stopped) return
      this.#running = this.#emit(handler).then(
        () => { this.#running = null; if (!this.#stopped) schedule() },
        (err: unknown) => { this.#running = null; this.#stopped = true; this.#reject(err) }
      )
    }
    const schedule = (): void => {
      this.#timer = setTimeout(tick, this.#tickMs)
      this.#timer.unref()
    }
    schedule()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#running !== null) await this.#running
    this.#resolve()
  }

  async #emit (handler: BatchHandler): Promise<void> {
    const records = this.#traffic.take(this.#now())
    for (let i = 0; i < records.length && !this.#stopped; i += this.#maxBatch) {
      await handler({ topic: this.topic, partition: 0, records: records.slice(i, i + this.#maxBatch) })
    }
  }
}
