// The REST contract: TypeBox schemas for every querystring and response body. They drive request
// validation (ajv), serialisation (fast-json-stringify) and openapi/openapi.json. Querystring values
// are declared as strings: the schema checks which parameters exist; src/api/rest/parse-query.ts
// checks what they mean and answers with catalogue codes.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { INVALID_REASONS, METRIC_DESCRIPTIONS, METRIC_NAMES } from '../../model/index.js'

/** A JSON Schema `type: [T, 'null']` (OpenAPI 3.1), which fast-json-stringify serialises directly. */
export function Nullable<T extends TSchema> (schema: T, options: { description?: string } = {}) {
  const { type } = schema as unknown as { type: string }
  return Type.Unsafe<T['static'] | null>({ ...schema, ...options, type: [type, 'null'] })
}

export const Instant = (description: string) => Type.String({ format: 'date-time', description })

/** A string from a fixed list, as one `enum` (rather than a union of literals). */
export function StringEnum<const T extends readonly string[]> (values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

/** The same schema with the description a response (or parameter) shows in the OpenAPI document. */
export function described<T extends TSchema> (schema: T, description: string): T {
  return { ...schema, description }
}

// ── errors ─────────────────────────────────────────────────────────────────────────────────────

export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid; `code` says why and `message` what to fix',
  401: 'No credentials, or credentials not accepted (when authentication is configured); `WWW-Authenticate` says how',
  403: 'The credentials lack the scope this route needs',
  404: 'No such route',
  414: 'The request URL is too long',
  429: 'Too many requests for this key (or address); `Retry-After` says when to ask again',
  500: 'Internal error; the details are in the server log',
  503: 'The service is not ready (starting, or its source is down); `Retry-After` says when to ask again'
}

/** The body of every error response, whatever the route and whatever went wrong. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer({ description: 'the HTTP status', examples: [400] }),
  code: Type.String({ description: 'a stable HG_ERR_* code from the error catalogue (README.md)', examples: ['HG_ERR_EMPTY_RANGE'] }),
  error: Type.String({ description: 'the HTTP reason phrase', examples: ['Bad Request'] }),
  message: Type.String({ description: 'what went wrong and what to fix' })
}, { $id: 'ErrorBody', additionalProperties: false })

/**
 * A response that refers to a shared schema (one of SHARED_SCHEMAS) by its $id, so the OpenAPI
 * document holds it once, under components.schemas.
 */
export function ref<T extends TSchema> (schema: T, description: string) {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, { description }))
}

/**
 * Error responses of a route: every route can also answer 400 (a request the HTTP parser refuses),
 * 414 (URL too long), 500 and 503 (starting, overloaded); routes behind authentication get 401, 403
 * and 429 added with their security in the document (plugins/swagger.ts).
 */
export function errorResponses (...statuses: number[]) {
  const out: Record<number, ReturnType<typeof ref<typeof ErrorBody>>> = {}
  for (const s of [...new Set([...statuses, 400, 414, 500, 503])].sort()) out[s] = ref(ErrorBody, ERROR_DESCRIPTIONS[s] ?? 'Error')
  return out
}

// ── querystrings ───────────────────────────────────────────────────────────────────────────────

const groupBy = Type.String({
  description: 'Comma-separated dimensions to group by: `event_type`, `region` or both; empty or absent: no grouping',
  examples: ['event_type', 'event_type,region']
})
export const eventTypeFilter = Type.String({ description: 'Only these event types (comma-separated, each 1..64 characters)', examples: ['purchase,page_view'] })
export const regionFilter = Type.String({ description: 'Only these regions (comma-separated, each 1..64 characters)', examples: ['eu-west'] })
const metrics = Type.String({
  description: `Comma-separated metrics to return; default all: ${METRIC_NAMES.join(', ')}`,
  examples: ['total_events,p95_response']
})

export const MetricsQueryString = Type.Object({
  // no fixed example: a date would soon lie before any data held (Swagger UI is given one relative to now)
  from: Type.String({
    description: 'Start of the range (inclusive): ISO-8601 with a zone (`YYYY-MM-DDThh:mm:ssZ`, `…+02:00`), or epoch milliseconds. Floored to the granularity'
  }),
  to: Type.Optional(Type.String({
    description: 'End of the range (exclusive), same formats; default now. Ceiled to the granularity'
  })),
  granularity: Type.Optional(Type.String({
    description: 'Bucket size: `minute`, `hour` or `day` (UTC); minute exists only where the speed layer holds minute windows',
    default: 'hour',
    examples: ['hour']
  })),
  group_by: Type.Optional(groupBy),
  event_type: Type.Optional(eventTypeFilter),
  region: Type.Optional(regionFilter),
  metrics: Type.Optional(metrics)
}, { additionalProperties: false })

export const LiveQueryString = Type.Object({
  last: Type.Optional(Type.String({
    description: 'How far back from now: a number and a unit (`ms`, `s`, `m`, `h`, `d`), at most the speed layer\'s retention',
    default: '15m',
    examples: ['15m', '1h']
  })),
  group_by: Type.Optional(groupBy),
  event_type: Type.Optional(eventTypeFilter),
  region: Type.Optional(regionFilter),
  metrics: Type.Optional(metrics)
}, { additionalProperties: false })

export const DeadLettersQueryString = Type.Object({
  limit: Type.Optional(Type.String({
    description: 'How many dead letters to return, newest first: an integer from 1 to 1000', default: '50', examples: ['50']
  }))
}, { additionalProperties: false })

/**
 * What a valid value of each query parameter looks like, for the OpenAPI document only (generated
 * clients, fuzzers): validation takes every parameter as a string and parse-query.ts answers a bad
 * one with its catalogue code, which a schema check here would replace with HG_ERR_VALIDATION.
 */
const instantFormats = {
  anyOf: [{ type: 'string', format: 'date-time' }, { type: 'string', pattern: '^[0-9]{1,15}$', description: 'epoch milliseconds' }]
}
const list = (item: string): string => `^${item}(,${item})*$`
export const PARAMETER_FORMATS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  from: instantFormats,
  to: instantFormats,
  granularity: { enum: ['minute', 'hour', 'day'] },
  group_by: { pattern: '^((event_type|region)(,(event_type|region))?)?$' },
  event_type: { pattern: list('[^,]{1,64}') },
  region: { pattern: list('[^,]{1,64}') },
  metrics: { pattern: list(`(${METRIC_NAMES.join('|')})`) },
  last: { pattern: '^[0-9]{1,6}(ms|s|m|h|d)$' },
  limit: { pattern: '^[0-9]{1,4}$' }
}

/** For routes that take no parameters: any parameter is unknown. */
export const NoQueryString = Type.Object({}, { additionalProperties: false })

// ── results ────────────────────────────────────────────────────────────────────────────────────

export const ResultRow = Type.Object({
  window_start: Instant('Start of the bucket (UTC)'),
  event_type: Type.Optional(Type.String({ description: 'present when grouped by event_type' })),
  region: Type.Optional(Type.String({ description: 'present when grouped by region' })),
  total_events: Type.Optional(Type.Integer({ minimum: 0, description: METRIC_DESCRIPTIONS.total_events })),
  avg_latency: Type.Optional(Nullable(Type.Number(), { description: METRIC_DESCRIPTIONS.avg_latency })),
  p95_response: Type.Optional(Nullable(Type.Number(), { description: METRIC_DESCRIPTIONS.p95_response })),
  total_revenue: Type.Optional(Type.Number({ minimum: 0, description: METRIC_DESCRIPTIONS.total_revenue })),
  avg_sentiment: Type.Optional(Nullable(Type.Number({ minimum: -1, maximum: 1 }), { description: METRIC_DESCRIPTIONS.avg_sentiment })),
  sentiment_positive: Type.Optional(Type.Integer({ minimum: 0, description: METRIC_DESCRIPTIONS.sentiment_positive })),
  sentiment_neutral: Type.Optional(Type.Integer({ minimum: 0, description: METRIC_DESCRIPTIONS.sentiment_neutral })),
  sentiment_negative: Type.Optional(Type.Integer({ minimum: 0, description: METRIC_DESCRIPTIONS.sentiment_negative }))
}, { additionalProperties: false })

const SourceRange = Type.Object({
  layer: StringEnum(['batch', 'speed'] as const),
  from: Instant('start of the part this layer answered'),
  to: Instant('end of the part this layer answered (exclusive)')
}, { additionalProperties: false })

const Gap = Type.Object({
  from: Instant('start of the gap'),
  to: Instant('end of the gap (exclusive)'),
  reason: StringEnum(['speed_not_covered', 'speed_behind', 'speed_partial', 'before_history', 'speed_no_entities'] as const, {
    description: 'speed_not_covered: neither layer holds this part (batch late or speed restarted); ' +
      'speed_behind: the stream has not caught up yet; speed_partial: this process holds only some partitions\' windows ' +
      '(a memory store in a consumer group of several processes); before_history: older than any data; ' +
      'speed_no_entities (top entities only): after the boundary, where the speed layer keeps no entities'
  })
}, { additionalProperties: false })

export const ResultMeta = Type.Object({
  from: Instant('effective start of the range (aligned to the granularity)'),
  to: Instant('effective end of the range (exclusive, aligned)'),
  granularity: StringEnum(['minute', 'hour', 'day'] as const),
  boundary: Nullable(Instant('B: the batch layer is complete up to here (null: no gold yet)')),
  sources: Type.Array(SourceRange, { description: 'which layer answered which part of the range' }),
  complete: Type.Boolean({ description: 'true when no part of the range is a gap' }),
  gaps: Type.Array(Gap, { description: 'parts of the range that no layer could answer; reported, never papered over' }),
  freshness: Type.Object({
    watermark: Nullable(Instant('the speed layer\'s watermark: minute windows before it are closed')),
    lag_ms: Nullable(Type.Number({ minimum: 0, description: 'now minus the newest event time the speed layer applied, ms' }))
  }, { additionalProperties: false }),
  batch_version: Nullable(Type.Integer({ description: 'version of the gold read: the Delta table version of gold/hourly_metrics (null: no gold yet)' }))
}, { additionalProperties: false })

export const MetricsResult = Type.Object({
  rows: Type.Array(ResultRow, { description: 'one row per bucket (and group), ordered by window_start' }),
  meta: ResultMeta
}, { $id: 'MetricsResult', additionalProperties: false })

export const Dimensions = Type.Object({
  event_types: Type.Array(Type.String(), { description: 'event types seen by either layer, sorted' }),
  regions: Type.Array(Type.String(), { description: 'regions seen by either layer, sorted' })
}, { additionalProperties: false })

const byReason: Record<string, ReturnType<typeof Type.Integer>> = {}
for (const r of INVALID_REASONS) byReason[r] = Type.Integer({ minimum: 0 })

export const QualityReport = Type.Object({
  received: Type.Integer({ minimum: 0, description: 'records consumed' }),
  valid: Type.Integer({ minimum: 0, description: 'records that passed validation' }),
  invalid: Type.Integer({ minimum: 0, description: 'records sent to the dead-letter topic' }),
  invalid_by_reason: Type.Partial(Type.Object(byReason, { additionalProperties: false }), { description: 'invalid records by reason code' }),
  duplicates: Type.Integer({ minimum: 0, description: 'valid records dropped as duplicates (same event_id and timestamp)' }),
  late: Type.Integer({ minimum: 0, description: 'valid records past the allowed lateness, left to the batch layer' }),
  quality_ratio: Type.Number({ minimum: 0, maximum: 1, description: 'valid / received (1 when nothing was received)' })
}, { additionalProperties: false })

export const DeadLetter = Type.Object({
  reason: StringEnum(INVALID_REASONS, { description: 'why the record was rejected' }),
  detail: Type.String(),
  raw: Type.String({ description: 'the original record' }),
  source: Type.Object({
    topic: Type.String(),
    partition: Type.Integer(),
    offset: Type.String()
  }, { additionalProperties: false }),
  at: Instant('when it was rejected')
}, { additionalProperties: false })

export const DeadLetters = Type.Object({
  dead_letters: Type.Array(DeadLetter, { description: 'newest first' })
}, { additionalProperties: false })

// ── reconciliation ────────────────────────────────────────────────────────────────────────────

export const ReconciliationQueryString = Type.Object({
  limit: Type.Optional(Type.String({ description: 'How many hours to return, newest first: an integer from 1 to 48', default: '24', examples: ['24'] }))
}, { additionalProperties: false })

/** Speed and batch totals of one hour or one group, and their differences (speed − batch). */
const comparisonFields = {
  speed_events: Type.Integer({ minimum: 0, description: 'events the speed layer counted' }),
  batch_events: Type.Integer({ minimum: 0, description: 'events the batch layer (gold) counted' }),
  events_diff: Type.Integer({
    description: 'speed_events − batch_events: negative when the speed layer missed events (late ones), positive when it counted more (duplicates)'
  }),
  events_relative_diff: Nullable(Type.Number(), { description: 'events_diff / batch_events; 0 when both are 0, null when only batch_events is 0' }),
  speed_revenue: Type.Number({ minimum: 0, description: 'revenue the speed layer summed' }),
  batch_revenue: Type.Number({ minimum: 0, description: 'revenue the batch layer summed' }),
  revenue_diff: Type.Number({ description: 'speed_revenue − batch_revenue' }),
  revenue_relative_diff: Nullable(Type.Number(), { description: 'revenue_diff / batch_revenue; 0 when both are 0, null when only batch_revenue is 0' })
}

export const Reconciliation = Type.Object({
  hour: Instant('start of the hour compared (UTC)'),
  batch_version: Type.Integer({ description: 'the gold version (Delta table version) compared against' }),
  ...comparisonFields,
  differing_groups: Type.Array(Type.Object({
    event_type: Type.String(),
    region: Type.String(),
    ...comparisonFields
  }, { additionalProperties: false }), { description: 'the (event_type, region) groups whose events or revenue differ, sorted; empty when the layers agree' })
}, { additionalProperties: false })

export const Reconciliations = Type.Object({
  reconciliations: Type.Array(Reconciliation, { description: 'newest hour first' }),
  recorded: Type.Integer({ minimum: 0, description: 'hours reconciled since the process started (an hour compared again against newer gold counts again)' })
}, { additionalProperties: false })

export const Health = Type.Object({ status: StringEnum(['ok'] as const) }, { additionalProperties: false })

export const Readiness = Type.Object({
  ready: Type.Boolean(),
  reasons: Type.Array(Type.String(), { description: 'what is missing when not ready' }),
  batch_version: Nullable(Type.Integer()),
  speed_watermark: Nullable(Instant('the speed layer\'s watermark'))
}, { additionalProperties: false })

export const Index = Type.Object({
  name: Type.String(),
  version: Type.String(),
  docs: Type.String({ description: 'Swagger UI' }),
  openapi: Type.String({ description: 'the OpenAPI document' }),
  links: Type.Record(Type.String(), Type.String(), { description: 'endpoints, with example queries' }),
  pages: Type.Record(Type.String(), Type.String(), { description: 'the other interfaces: browser pages, GraphQL, the OData service root' })
}, { additionalProperties: false })

/** Schemas that routes refer to by $id: the server adds them (app.addSchema) before the routes. */
export const SHARED_SCHEMAS = [ErrorBody, MetricsResult]
