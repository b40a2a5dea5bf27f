// The documents of the Cosmos DB store (one container, partition key path /pk, defaultTtl = the retention):
//   window    id w:<window_start>:<hash(event_type, region)>, pk w:<UTC hour of window_start>
//   position  id p:<hash(topic, partition)>, pk pos (never expires): last committed offset and the pending batch
//   dedup     id d:<hash(dedup key)>, pk d:<UTC hour of the apply>
//   stamp     id stamp, pk w:<hour>: a change counter per hour;  meta  id meta, pk meta: coveredFrom
import { createHash } from 'node:crypto'
import { type PartialRow, type Partials, partitionKey } from '../../../model/index.js'

export const H = 3_600_000
export const POS_PK = 'pos'
export const META = 'meta'
/** id of the change counter document in each hour's partition */
export const STAMP = 'stamp'
/** the server removes a document this long after the store stops returning it */
export const TTL_SLACK_S = 60

/** the store's clock and horizons: retention and dedup expiry are judged by `now` */
export interface StoreTime {
  retentionMs: number
  /** how long dedup keys are remembered, by the clock */
  dedupWindowMs: number
  now: () => number
}

export type Bins = [number, number][]
/** the sentiment partials: [sum, count, positive, neutral, negative]; left out of documents while count is 0 */
export type Sentiment = [number, number, number, number, number]
/** a delta as carried in a pending batch: [window_start, event_type, region, events, latency_sum, latency_count, revenue_cents, bins, sentiment?] */
export type CompactDelta = [number, string, string, number, number, number, number, Bins, Sentiment?]

export interface WindowDoc {
  id: string
  pk: string
  kind: 'w'
  window_start: number
  event_type: string
  region: string
  events: number
  latency_sum: number
  latency_count: number
  revenue_cents: number
  /** the response sketch, [bin, n] sorted by bin */
  bins: Bins
  /** absent: no enriched event (and in documents written before sentiment was kept) */
  sentiment?: Sentiment
  /** "<topic>:<partition>" → the last offset of that source applied to this window */
  src: Record<string, string>
  ttl: number
}

/** the batch being applied, carried by its position document from the claim to the commit */
export interface Pending {
  offset: string
  /** store clock at the claim: dedup keys expire a dedup window after it */
  at: number
  deltas: CompactDelta[]
  /** dedup document ids (hashed keys: short, whatever the event ids) */
  keys: string[]
  watermark: number | null
  maxEventTime: number | null
}

export interface PositionDoc {
  id: string
  pk: typeof POS_PK
  kind: 'p'
  topic: string
  partition: number
  /** last committed offset, decimal int64 string */
  offset: string | null
  watermark: number | null
  maxEventTime: number | null
  pending: Pending | null
  ttl: -1
}

export interface Versioned<T> { doc: T, etag: string }

export const hash = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 22)
export const hourKey = (t: number): string => new Date(Math.floor(t / H) * H).toISOString().slice(0, 13)
/**
 * A window's partition key, the UTC hour of its start: a batch's writes land in one partition (two across an hour) and
 * a query over the retention names two or three. The price: the current hour takes every write (one physical
 * partition, 10,000 RU/s); past that, salt the key with hash(event_type, region) mod N and query N values per hour.
 */
export const windowPk = (windowStart: number): string => 'w:' + hourKey(windowStart)
export const windowId = (windowStart: number, eventType: string, region: string): string => `w:${windowStart}:${hash(eventType + '\u0000' + region)}`
export const positionId = (topic: string, partition: number): string => 'p:' + hash(partitionKey(topic, partition))
export const dedupId = (key: string): string => 'd:' + hash(key)
export const sourceKey = (topic: string, partition: number): string => topic + ':' + partition
export const maxOf = (a: number | null, b: number | null | undefined): number | null => b == null ? a : a === null || b > a ? b : a

export function toBins (sketch: Map<number, number>): Bins {
  return [...sketch].sort((a, b) => a[0] - b[0])
}

export function sentimentOf (p: Partials): Sentiment | undefined {
  return p.sentiment_count === 0 ? undefined : [p.sentiment_sum, p.sentiment_count, p.sentiment_positive, p.sentiment_neutral, p.sentiment_negative]
}

export function compact (row: PartialRow): CompactDelta {
  const p = row.partials
  const d: CompactDelta = [row.window_start, row.event_type, row.region, p.events, p.latency_sum, p.latency_count, p.revenue_cents, toBins(p.response)]
  const s = sentimentOf(p)
  if (s !== undefined) d.push(s)
  return d
}

type StoredPartials = Pick<WindowDoc, 'events' | 'latency_sum' | 'latency_count' | 'revenue_cents' | 'bins' | 'sentiment'>

export function partialsOf (d: StoredPartials): Partials {
  const [sum, count, positive, neutral, negative] = d.sentiment ?? [0, 0, 0, 0, 0]
  return {
    events: d.events, latency_sum: d.latency_sum, latency_count: d.latency_count, revenue_cents: d.revenue_cents, response: new Map(d.bins),
    sentiment_sum: sum, sentiment_count: count, sentiment_positive: positive, sentiment_neutral: neutral, sentiment_negative: negative
  }
}

/** a document as the server returned it, without the system properties (_rid, _etag, _ts, …) */
export function strip<T> (resource: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(resource as Record<string, unknown>)) if (!k.startsWith('_')) out[k] = v
  return out as T
}
