// The GraphQL contract (SDL). It mirrors REST: the same arguments (as typed lists and enums
// instead of comma-separated strings), the same row and meta fields under the same names, so a
// GraphQL answer and the REST answer to the same query are the same JSON. The enums are built from
// the model's lists, so a new metric or dimension reaches GraphQL with nothing else to edit.
// openapi/schema.graphql is the checked-in copy (scripts/write-graphql-schema.ts writes it;
// test/graphql-schema.test.ts fails when it drifts).
import { DIMENSIONS, GRANULARITIES, INVALID_REASONS, METRIC_DESCRIPTIONS, METRIC_NAMES } from '../../model/index.js'

const values = (list: readonly string[]): string => list.map((v) => `  ${v}`).join('\n')

/** the Long scalar's description (its resolver, a GraphQLScalarType, must repeat it) */
export const LONG_DESCRIPTION = 'An integer that may exceed 32 bits (counts of events): a JSON number, exact up to 2^53.'

export const SDL = `
"${LONG_DESCRIPTION}"
scalar Long

"Bucket size, UTC."
enum Granularity {
${values(GRANULARITIES)}
}

"A dimension to group by or filter on."
enum Dimension {
${values(DIMENSIONS)}
}

"A served metric."
enum Metric {
${values(METRIC_NAMES)}
}

"Which layer answered a part of the range."
enum Layer {
  batch
  speed
}

"""
Why part of a range has no answer: speed_not_covered (neither layer holds it: batch late or speed
restarted), speed_behind (the stream has not caught up yet), speed_partial (this process holds only
some partitions' windows: a memory store in a consumer group of several processes), before_history
(older than any data), speed_no_entities (top entities only: after the boundary, where the speed layer
keeps no entities).
"""
enum GapReason {
  speed_not_covered
  speed_behind
  speed_partial
  before_history
  speed_no_entities
}

"Why a record was sent to the dead-letter topic."
enum InvalidReason {
${values(INVALID_REASONS)}
}

"Only these values (each 1..64 characters); an absent filter matches everything."
input Filter {
  event_type: [String!]
  region: [String!]
}

"One bucket (and group). A metric that was not asked for (the metrics argument) is null."
type Row {
  "Start of the bucket, ISO-8601 UTC."
  window_start: String!
  "Present when grouped by event_type."
  event_type: String
  "Present when grouped by region."
  region: String
  "${METRIC_DESCRIPTIONS.total_events}"
  total_events: Long
  "${METRIC_DESCRIPTIONS.avg_latency}"
  avg_latency: Float
  "${METRIC_DESCRIPTIONS.p95_response}"
  p95_response: Float
  "${METRIC_DESCRIPTIONS.total_revenue}"
  total_revenue: Float
  "${METRIC_DESCRIPTIONS.avg_sentiment}"
  avg_sentiment: Float
  "${METRIC_DESCRIPTIONS.sentiment_positive}"
  sentiment_positive: Long
  "${METRIC_DESCRIPTIONS.sentiment_neutral}"
  sentiment_neutral: Long
  "${METRIC_DESCRIPTIONS.sentiment_negative}"
  sentiment_negative: Long
}

"The part of the range one layer answered, [from, to)."
type SourceRange {
  layer: Layer!
  from: String!
  to: String!
}

"A part of the range no layer could answer, [from, to): reported, never papered over."
type Gap {
  from: String!
  to: String!
  reason: GapReason!
}

type Freshness {
  "The speed layer's watermark: minute windows before it are closed."
  watermark: String
  "Now minus the newest event time the speed layer applied, ms."
  lag_ms: Float
}

"Where the numbers came from."
type Meta {
  "Effective start of the range, aligned to the granularity."
  from: String!
  "Effective end of the range (exclusive, aligned)."
  to: String!
  granularity: Granularity!
  "B: the batch layer is complete up to here (null: no gold yet)."
  boundary: String
  "Which layer answered which part of the range."
  sources: [SourceRange!]!
  "True when no part of the range is a gap."
  complete: Boolean!
  gaps: [Gap!]!
  freshness: Freshness!
  "Version of the gold read: the Delta table version (null: no gold yet)."
  batch_version: Int
}

type MetricsResult {
  "One row per bucket (and group), ordered by window_start."
  rows: [Row!]!
  meta: Meta!
}

type Dimensions {
  "Event types seen by either layer, sorted."
  event_types: [String!]!
  "Regions seen by either layer, sorted."
  regions: [String!]!
}

type InvalidCount {
  reason: InvalidReason!
  count: Long!
}

"Data-quality counters of the speed pipeline since the process started."
type Quality {
  received: Long!
  valid: Long!
  invalid: Long!
  "Invalid records by reason (reasons seen so far)."
  invalid_by_reason: [InvalidCount!]!
  "Valid records dropped as duplicates."
  duplicates: Long!
  "Valid records past the allowed lateness, left to the batch layer."
  late: Long!
  "valid / received (1 when nothing was received)."
  quality_ratio: Float!
}

"Minute windows the speed layer has just changed."
type WindowUpdate {
  "Starts of the minute windows in rows, ascending."
  windows: [String!]!
  "The rows (filtered, grouped) of the changed windows whose values changed since the last update, with their current values; open windows still grow."
  rows: [Row!]!
  "The meta block of the speed layer's minute windows (freshness, watermark)."
  meta: Meta!
}

type Query {
  """
  Buckets of granularity over [from, to), merged from the batch and speed layers at the boundary
  B; the same query and answer as GET /v1/metrics. from and to: ISO-8601 with a zone, or epoch ms;
  to defaults to now; granularity to hour; metrics to all.
  """
  metrics(from: String!, to: String, granularity: Granularity, groupBy: [Dimension!], filter: Filter, metrics: [Metric!]): MetricsResult!
  """
  Minute windows of the last few minutes (default 15m, at most the speed layer's retention), open
  windows included, from the speed layer only; the same as GET /v1/metrics/live.
  """
  live(last: String, groupBy: [Dimension!], filter: Filter, metrics: [Metric!]): MetricsResult!
  "Known event types and regions (GET /v1/dimensions)."
  dimensions: Dimensions!
  "Data-quality counters (GET /v1/quality)."
  quality: Quality!
}

type Subscription {
  """
  Pushes the minute windows the pipeline has just changed, filtered and grouped, coalesced: at
  most a few updates per second. Over WebSocket at /graphql (graphql-transport-ws or graphql-ws).
  """
  windowUpdated(filter: Filter, groupBy: [Dimension!]): WindowUpdate!
}
`
