// The one error catalogue. Every error a client can see is made here, with a stable code and the
// one HTTP status of that code; REST returns the code in `code`, GraphQL in `extensions.code`,
// OData in `error.code` (src/api/errors.ts maps everything else onto these codes).
// test/errors.test.ts checks that each key equals its code, that each code is documented in
// README.md and that each HG_ERR_ code in README.md is here.
import createError from '@fastify/error'

export const errors = {
  HG_ERR_VALIDATION: createError('HG_ERR_VALIDATION', 'Invalid request: %s', 400),
  HG_ERR_UNKNOWN_PARAMETER: createError('HG_ERR_UNKNOWN_PARAMETER', 'Unknown query parameter "%s"; allowed: %s', 400),
  HG_ERR_BAD_TIMESTAMP: createError('HG_ERR_BAD_TIMESTAMP',
    '"%s" is not a valid instant: use ISO-8601 with a zone (2024-05-01T00:00:00Z) or epoch milliseconds', 400),
  HG_ERR_TIMESTAMP_OUT_OF_RANGE: createError('HG_ERR_TIMESTAMP_OUT_OF_RANGE', '"%s" is outside the years 2000..2100', 400),
  HG_ERR_MISSING_PARAMETER: createError('HG_ERR_MISSING_PARAMETER', 'Missing query parameter "%s"', 400),
  HG_ERR_EMPTY_RANGE: createError('HG_ERR_EMPTY_RANGE', '"to" (%s) must be after "from" (%s)', 400),
  HG_ERR_RANGE_TOO_LARGE: createError('HG_ERR_RANGE_TOO_LARGE', 'The range spans %s days; at most %s are allowed per query', 400),
  HG_ERR_FROM_IN_FUTURE: createError('HG_ERR_FROM_IN_FUTURE', '"from" (%s) lies in the future; nothing can be known there yet', 400),
  HG_ERR_UNKNOWN_GRANULARITY: createError('HG_ERR_UNKNOWN_GRANULARITY', 'Unknown granularity "%s"; use minute, hour or day', 400),
  HG_ERR_UNKNOWN_DIMENSION: createError('HG_ERR_UNKNOWN_DIMENSION', 'Unknown dimension "%s" in group_by; use event_type and/or region', 400),
  HG_ERR_DUPLICATE_DIMENSION: createError('HG_ERR_DUPLICATE_DIMENSION', 'Dimension "%s" appears twice in group_by', 400),
  HG_ERR_UNKNOWN_METRIC: createError('HG_ERR_UNKNOWN_METRIC',
    'Unknown metric "%s"; use total_events, avg_latency, p95_response, total_revenue, avg_sentiment, sentiment_positive, sentiment_neutral, ' +
    'sentiment_negative', 400),
  HG_ERR_BAD_FILTER_VALUE: createError('HG_ERR_BAD_FILTER_VALUE',
    'Filter %s has an invalid value: each value must be 1..64 characters, comma-separated', 400),
  HG_ERR_TOO_MANY_VALUES: createError('HG_ERR_TOO_MANY_VALUES', 'Filter %s lists %s values; at most %s are allowed', 400),
  HG_ERR_TOO_MANY_BUCKETS: createError('HG_ERR_TOO_MANY_BUCKETS',
    'The query asks for %s buckets; at most %s are allowed: use a coarser granularity or a shorter range', 400),
  HG_ERR_MINUTE_NOT_AVAILABLE: createError('HG_ERR_MINUTE_NOT_AVAILABLE',
    'Minute granularity exists only in the speed layer (from %s on); this range starts at %s, where only hourly gold exists: ' +
    'use granularity=hour or a later "from"', 400),
  HG_ERR_BAD_DURATION: createError('HG_ERR_BAD_DURATION', '"%s" is not a duration: use a number and a unit, e.g. 15m, 1h, 90s', 400),
  HG_ERR_LIVE_TOO_LONG: createError('HG_ERR_LIVE_TOO_LONG', 'last=%s is longer than the speed layer keeps (%s); use /v1/metrics for older data', 400),
  HG_ERR_BAD_LIMIT: createError('HG_ERR_BAD_LIMIT', 'limit must be an integer from 1 to %s', 400),
  HG_ERR_ODATA_BAD_FILTER: createError('HG_ERR_ODATA_BAD_FILTER', 'Invalid $filter at position %s: %s', 400),
  HG_ERR_ODATA_BAD_OPTION: createError('HG_ERR_ODATA_BAD_OPTION', 'Invalid %s: %s', 400),
  HG_ERR_ODATA_NOT_IMPLEMENTED: createError('HG_ERR_ODATA_NOT_IMPLEMENTED', '%s is not supported by this OData service', 501),
  HG_ERR_GRAPHQL_VALIDATION: createError('HG_ERR_GRAPHQL_VALIDATION', 'Invalid GraphQL request: %s', 400),
  HG_ERR_GRAPHQL_TOO_DEEP: createError('HG_ERR_GRAPHQL_TOO_DEEP', 'The operation %s nests fields %s deep; at most %s levels are allowed', 400),
  HG_ERR_GRAPHQL_TOO_COMPLEX: createError('HG_ERR_GRAPHQL_TOO_COMPLEX', 'The GraphQL operation is too complex: %s', 400),
  HG_ERR_UNAUTHENTICATED: createError('HG_ERR_UNAUTHENTICATED', 'Authentication required: %s', 401),
  HG_ERR_FORBIDDEN: createError('HG_ERR_FORBIDDEN', 'The credentials (%s) lack the scope %s, which %s needs', 403),
  HG_ERR_RATE_LIMITED: createError('HG_ERR_RATE_LIMITED', 'Too many requests: at most %s per %s; retry in %s', 429),
  HG_ERR_TOO_MANY_SUBSCRIPTIONS: createError('HG_ERR_TOO_MANY_SUBSCRIPTIONS',
    'These credentials hold %s GraphQL subscriptions; at most %s are allowed at once: end one first', 429),
  HG_ERR_NOT_FOUND: createError('HG_ERR_NOT_FOUND', 'Route %s %s not found', 404),
  HG_ERR_METHOD_NOT_ALLOWED: createError('HG_ERR_METHOD_NOT_ALLOWED', 'Method %s is not allowed for this request: %s', 405),
  HG_ERR_REQUEST_TIMEOUT: createError('HG_ERR_REQUEST_TIMEOUT', 'The request did not arrive in time (%s); send it again', 408),
  HG_ERR_BODY_TOO_LARGE: createError('HG_ERR_BODY_TOO_LARGE', 'The request body is larger than %s bytes, the most this route takes', 413),
  HG_ERR_RESPONSE_TOO_LARGE: createError('HG_ERR_RESPONSE_TOO_LARGE',
    'The answer would be larger than %s bytes, the most %s may get: ask for fewer buckets, groups, fields or aliases', 422),
  HG_ERR_URL_TOO_LONG: createError('HG_ERR_URL_TOO_LONG', 'The request URL is %s bytes; at most %s are allowed', 414),
  HG_ERR_UNSUPPORTED_MEDIA_TYPE: createError('HG_ERR_UNSUPPORTED_MEDIA_TYPE', 'The content type "%s" is not supported here', 415),
  HG_ERR_HEADERS_TOO_LARGE: createError('HG_ERR_HEADERS_TOO_LARGE', 'The request headers are larger than the server reads (%s bytes in all)', 431),
  HG_ERR_NOT_READY: createError('HG_ERR_NOT_READY', 'The service is not ready: %s', 503),
  HG_ERR_OVERLOADED: createError('HG_ERR_OVERLOADED', 'The service is overloaded (%s); retry after the Retry-After seconds', 503),
  HG_ERR_INTERNAL: createError('HG_ERR_INTERNAL', 'Internal error; the details are in the server log', 500)
} as const

export type ErrorCode = keyof typeof errors

export interface HourglassError extends Error {
  code: string
  statusCode: number
}

/** Each code's one HTTP status. */
export const ERROR_STATUS = Object.fromEntries(
  Object.entries(errors).map(([code, Make]) => [code, (new Make() as HourglassError).statusCode])
) as Readonly<Record<ErrorCode, number>>

export function isErrorCode (code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(errors, code)
}

export function isHourglassError (err: unknown): err is HourglassError {
  return err instanceof Error && typeof (err as HourglassError).code === 'string' &&
    (err as HourglassError).code.startsWith('HG_ERR_') && typeof (err as HourglassError).statusCode === 'number'
}
