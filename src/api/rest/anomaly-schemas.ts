// The REST contract of GET /v1/anomalies (see schemas.ts for the conventions).
import { Type } from '@sinclair/typebox'
import { ANOMALY_KINDS, ANOMALY_METRICS, type Anomaly, iso } from '../../model/index.js'
import { Instant, Nullable, StringEnum } from './schemas.js'

export const AnomaliesQueryString = Type.Object({
  from: Type.String({ description: 'Start of the range (inclusive; minute windows starting at or after it): ISO-8601 with a zone, or epoch milliseconds' }),
  to: Type.Optional(Type.String({ description: 'End of the range (exclusive), same formats; default now' })),
  event_type: Type.Optional(Type.String({
    description: 'Only groups of these event types (comma-separated, each 1..64 characters); the overall group then does not match',
    examples: ['purchase']
  })),
  region: Type.Optional(Type.String({
    description: 'Only groups of these regions (comma-separated, each 1..64 characters); the overall group then does not match',
    examples: ['eu-west']
  }))
}, { additionalProperties: false })

export const AnomalyRow = Type.Object({
  window_start: Instant('the closed minute window (UTC)'),
  event_type: Nullable(Type.String(), { description: 'null: the overall group (every event)' }),
  region: Nullable(Type.String(), { description: 'null: the overall group (every event)' }),
  metric: StringEnum(ANOMALY_METRICS),
  kind: StringEnum(ANOMALY_KINDS, { description: 'drop or spike (events, revenue), shift (p95 response)' }),
  observed: Type.Number({ description: 'the minute\'s value (or, where only the 5-minute window stood out, its trimmed mean per minute)' }),
  expected: Type.Number({ description: 'seasonal baseline (same minute of previous days, from gold) plus the recent level' }),
  score: Type.Number({ description: 'robust z-score: (observed − expected) / robust standard deviation' })
}, { additionalProperties: false })

export const Anomalies = Type.Object({
  from: Instant('start of the range asked'),
  to: Instant('end of the range asked'),
  anomalies: Type.Array(AnomalyRow, { description: 'by minute, then group (overall first), then metric' })
}, { additionalProperties: false })

export function presentAnomaly (a: Anomaly) {
  return { ...a, window_start: iso(a.window_start) }
}
