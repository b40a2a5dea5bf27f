// Mergeable partial aggregates (docs/design.md): both layers store these, never a final average or
// percentile. Merging is addition; finalising turns them into the served metrics.
import type { HourglassEvent } from './event.js'
import { type Sketch, sketchAdd, sketchMerge, sketchQuantile } from './sketch.js'

export interface Partials {
  events: number
  latency_sum: number
  latency_count: number
  revenue_cents: number
  response: Sketch
  /** enriched events: the sum of their sentiment scores, their count, and their count by label */
  sentiment_sum: number
  sentiment_count: number
  sentiment_positive: number
  sentiment_neutral: number
  sentiment_negative: number
}

export const METRIC_NAMES = [
  'total_events', 'avg_latency', 'p95_response', 'total_revenue', 'avg_sentiment', 'sentiment_positive', 'sentiment_neutral', 'sentiment_negative'
] as const
export type MetricName = typeof METRIC_NAMES[number]

/** What each served metric means and its unit: the one text REST, GraphQL and OData describe them with. */
export const METRIC_DESCRIPTIONS: Readonly<Record<MetricName, string>> = {
  total_events: 'Events in the bucket (duplicates removed).',
  avg_latency: 'Mean processing_time in milliseconds, rounded to 0.1 ms; null when no event carried one.',
  p95_response: '95th percentile of response_time in milliseconds (within 1% relative error), rounded to 0.1 ms; null when no event carried one.',
  total_revenue: 'Sum of revenue in the events\' currency, exact to the cent.',
  avg_sentiment: 'Mean sentiment score (-1..1) of the events whose text was enriched, rounded to 3 decimals; null when none was.',
  sentiment_positive: 'Enriched events labelled positive.',
  sentiment_neutral: 'Enriched events labelled neutral.',
  sentiment_negative: 'Enriched events labelled negative.'
}

/** Decimals served for latencies (ms): inputs are whole or fractional ms and the sketch is 1% accurate, so finer digits mean nothing. */
export const LATENCY_DECIMALS = 1

/** A latency (≥ 0) rounded as served: half up, as DuckDB's round(x, 1) on gold files' columns, so both agree. */
export function roundLatency (ms: number): number {
  return Math.round(ms * 10 ** LATENCY_DECIMALS) / 10 ** LATENCY_DECIMALS
}

/** Decimals served for avg_sentiment (a score in -1..1). */
export const SENTIMENT_DECIMALS = 3

/** A mean sentiment rounded as served: half away from zero, as DuckDB's round(x, 3) on gold files' columns. */
export function roundSentiment (score: number): number {
  return Math.sign(score) * Math.round(Math.abs(score) * 10 ** SENTIMENT_DECIMALS) / 10 ** SENTIMENT_DECIMALS + 0 // + 0: never -0
}

export interface Metrics {
  total_events: number
  avg_latency: number | null
  p95_response: number | null
  total_revenue: number
  /** mean sentiment score of the enriched events, 3 decimals (null: none) */
  avg_sentiment: number | null
  sentiment_positive: number
  sentiment_neutral: number
  sentiment_negative: number
}

export function emptyPartials (): Partials {
  return {
    events: 0, latency_sum: 0, latency_count: 0, revenue_cents: 0, response: new Map(),
    sentiment_sum: 0, sentiment_count: 0, sentiment_positive: 0, sentiment_neutral: 0, sentiment_negative: 0
  }
}

export function addEvent (p: Partials, e: HourglassEvent): void {
  p.events += 1
  if (e.processing_time !== undefined) {
    p.latency_sum += e.processing_time
    p.latency_count += 1
  }
  if (e.revenue_cents !== undefined) p.revenue_cents += e.revenue_cents
  if (e.response_time !== undefined) sketchAdd(p.response, e.response_time)
  const s = e.enrichment
  if (s !== undefined) {
    p.sentiment_sum += s.score
    p.sentiment_count += 1
    if (s.label === 'positive') p.sentiment_positive += 1
    else if (s.label === 'negative') p.sentiment_negative += 1
    else p.sentiment_neutral += 1
  }
}

export function mergePartials (into: Partials, from: Partials): void {
  into.events += from.events
  into.latency_sum += from.latency_sum
  into.latency_count += from.latency_count
  into.revenue_cents += from.revenue_cents
  sketchMerge(into.response, from.response)
  into.sentiment_sum += from.sentiment_sum
  into.sentiment_count += from.sentiment_count
  into.sentiment_positive += from.sentiment_positive
  into.sentiment_neutral += from.sentiment_neutral
  into.sentiment_negative += from.sentiment_negative
}

export function clonePartials (p: Partials): Partials {
  return { ...p, response: new Map(p.response) }
}

function roundNullable (ms: number | null): number | null {
  return ms === null ? null : roundLatency(ms)
}

export function finalise (p: Partials): Metrics {
  return {
    total_events: p.events,
    avg_latency: p.latency_count === 0 ? null : roundLatency(p.latency_sum / p.latency_count),
    p95_response: roundNullable(sketchQuantile(p.response, 0.95)),
    total_revenue: p.revenue_cents / 100,
    avg_sentiment: p.sentiment_count === 0 ? null : roundSentiment(p.sentiment_sum / p.sentiment_count),
    sentiment_positive: p.sentiment_positive,
    sentiment_neutral: p.sentiment_neutral,
    sentiment_negative: p.sentiment_negative
  }
}

/** One stored aggregate: a window (minute in speed, hour in gold) of one event_type × region. */
export interface PartialRow {
  window_start: number
  event_type: string
  region: string
  partials: Partials
}
