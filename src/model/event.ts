// The event contract (docs/design.md, "Event") and its validation. Reasons are stable codes: they name
// the dead-letter header, the quality counters and the /v1/quality breakdown. `too_large` (a record over the
// size limit, not parsed) and `decode_failed` (its decoding crashed the thread decoding it) come from the decode step, and so
// do the Avro ones (event-avro.ts): `not_avro` (no Confluent framing on an avro topic, e.g. JSON), `truncated_avro` (the
// bytes end early or are not Avro of the writer schema), `unknown_schema_id` (the registry has no such id) and
// `schema_not_resolvable` (the writer schema cannot be read as the contract's by Avro's resolution rules).
import { MINUTE_MS, parseInstant } from './time.js'

/** A valid event, normalised: event time in epoch ms, revenue in integer cents. */
export interface HourglassEvent {
  event_id: string
  ts: number
  event_type: string
  region: string
  processing_time?: number
  response_time?: number
  revenue_cents?: number
  user_id?: string
  /** free text (a review, a message), enriched with sentiment and entities (src/enrich/) */
  text?: string
  /** the enrichment of `text`, when an enricher gave one in time */
  enrichment?: Enrichment
}

export const SENTIMENT_LABELS = ['positive', 'neutral', 'negative'] as const
export type SentimentLabel = typeof SENTIMENT_LABELS[number]

/** What an enricher makes of a text: a sentiment score in [−1, 1], its label, and the named entities. */
export interface Enrichment {
  score: number
  label: SentimentLabel
  entities: string[]
}

/**
 * Why an event with text was left unenriched: the batch's time budget was spent (`budget`), the enricher failed
 * (`error`: timed out, refused, answered wrongly), or its circuit breaker is open (`unavailable`).
 */
export const ENRICH_SKIP_REASONS = ['budget', 'error', 'unavailable'] as const
export type EnrichSkipReason = typeof ENRICH_SKIP_REASONS[number]

/** The longest `text` the contract takes (UTF-16 code units, as every string limit here). */
export const MAX_TEXT_LENGTH = 4096

export const INVALID_REASONS = [
  'not_json',
  'not_object',
  'bad_event_id',
  'bad_timestamp',
  'future_timestamp',
  'bad_event_type',
  'bad_region',
  'bad_processing_time',
  'bad_response_time',
  'bad_revenue',
  'bad_user_id',
  'bad_text',
  'too_large',
  'decode_failed',
  'not_avro',
  'truncated_avro',
  'unknown_schema_id',
  'schema_not_resolvable'
] as const
export type InvalidReason = typeof INVALID_REASONS[number]

export type Validation =
  | { ok: true, event: HourglassEvent }
  | { ok: false, reason: InvalidReason, detail: string }

/** How far in the future an event time may lie. */
export const MAX_FUTURE_MS = 5 * MINUTE_MS

const bad = (reason: InvalidReason, detail: string): Validation => ({ ok: false, reason, detail })

function boundedString (v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= max
}

function optionalMs (v: unknown): number | undefined | null {
  if (v === undefined || v === null) return undefined
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null
}

/** Validate a decoded JSON value against the event contract, at wall-clock time `now`. */
export function validateEvent (value: unknown, now: number): Validation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not_object', 'the record is not a JSON object')
  const r = value as Record<string, unknown>
  if (!boundedString(r.event_id, 128)) return bad('bad_event_id', 'event_id must be a string of 1..128 characters')
  const ts = parseInstant(r.timestamp)
  if (ts === null) return bad('bad_timestamp', 'timestamp must be an ISO-8601 string or epoch milliseconds')
  if (ts > now + MAX_FUTURE_MS) return bad('future_timestamp', 'timestamp is more than 5 minutes in the future')
  if (!boundedString(r.event_type, 64)) return bad('bad_event_type', 'event_type must be a string of 1..64 characters')
  if (!boundedString(r.region, 64)) return bad('bad_region', 'region must be a string of 1..64 characters')
  const processing = optionalMs(r.processing_time)
  if (processing === null) return bad('bad_processing_time', 'processing_time must be a number ≥ 0 (ms)')
  const response = optionalMs(r.response_time)
  if (response === null) return bad('bad_response_time', 'response_time must be a number ≥ 0 (ms)')
  let revenueCents: number | undefined
  if (r.revenue !== undefined && r.revenue !== null) {
    const rev = r.revenue
    if (typeof rev !== 'number' || !Number.isFinite(rev) || rev < 0) return bad('bad_revenue', 'revenue must be a number ≥ 0')
    const cents = Math.round(rev * 100)
    if (Math.abs(rev * 100 - cents) > 1e-6 * Math.max(1, cents) || !Number.isSafeInteger(cents)) {
      return bad('bad_revenue', 'revenue must have at most 2 decimals')
    }
    revenueCents = cents
  }
  if (r.user_id !== undefined && r.user_id !== null && typeof r.user_id !== 'string') return bad('bad_user_id', 'user_id must be a string')
  const text = r.text
  if (text !== undefined && text !== null && (typeof text !== 'string' || text.length > MAX_TEXT_LENGTH)) {
    return bad('bad_text', `text must be a string of at most ${MAX_TEXT_LENGTH} characters`)
  }
  const event: HourglassEvent = { event_id: r.event_id, ts, event_type: r.event_type, region: r.region }
  if (processing !== undefined) event.processing_time = processing
  if (response !== undefined) event.response_time = response
  if (revenueCents !== undefined) event.revenue_cents = revenueCents
  if (typeof r.user_id === 'string') event.user_id = r.user_id
  if (typeof text === 'string' && text.length > 0) event.text = text
  return { ok: true, event }
}

/** Decode raw record bytes (UTF-8 JSON) and validate them. */
export function parseEvent (raw: string | Uint8Array, now: number): Validation {
  let value: unknown
  try {
    // a view, not a copy, of the bytes
    const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')
    value = JSON.parse(text)
  } catch {
    return bad('not_json', 'the record is not valid UTF-8 JSON')
  }
  return validateEvent(value, now)
}

/** The wire form of an event (what a producer sends), e.g. for the file source and replays. */
export function toWire (e: HourglassEvent): Record<string, unknown> {
  const w: Record<string, unknown> = { event_id: e.event_id, timestamp: new Date(e.ts).toISOString(), event_type: e.event_type, region: e.region }
  if (e.processing_time !== undefined) w.processing_time = e.processing_time
  if (e.response_time !== undefined) w.response_time = e.response_time
  if (e.revenue_cents !== undefined) w.revenue = e.revenue_cents / 100
  if (e.user_id !== undefined) w.user_id = e.user_id
  if (e.text !== undefined) w.text = e.text
  return w
}

/** A raw record that failed validation, kept with its original bytes (the dead-letter contract). */
export interface DeadLetter {
  reason: InvalidReason
  detail: string
  raw: string
  source: { topic: string, partition: number, offset: string }
  at: number
}
