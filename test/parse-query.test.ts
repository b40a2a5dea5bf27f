import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  formatDuration, liveInput, metricsInput, parseLimit, parseLiveInput, parseLiveQuery, parseMetricsInput, parseMetricsQuery
} from '../src/api/rest/parse-query.js'
import type { Limits } from '../src/merger/types.js'
import { METRIC_NAMES } from '../src/model/index.js'

const H = 3_600_000
const M = 60_000
const D = 86_400_000
const now = Date.parse('2026-01-12T02:30:00Z')
const limits: Limits = { maxBuckets: 1000, maxRangeDays: 31, maxFilterValues: 3, retentionMs: H }

const q = (raw: Record<string, string>) => parseMetricsQuery(raw, limits, now)
const code = (c: string) => ({ code: c })

test('defaults: to = now, hour granularity, no grouping, no filters, all four metrics', () => {
  const r = q({ from: '2026-01-11T00:00:00Z' })
  assert.deepEqual(r, {
    from: Date.parse('2026-01-11T00:00:00Z'),
    to: Date.parse('2026-01-12T03:00:00Z'), // now (02:30) ceiled to the hour
    granularity: 'hour',
    groupBy: [],
    filters: {},
    metrics: [...METRIC_NAMES]
  })
})

test('from and to accept ISO-8601 with a zone and epoch milliseconds', () => {
  const from = Date.parse('2026-01-11T00:00:00Z')
  assert.equal(q({ from: String(from), to: '2026-01-11T05:00:00+02:00' }).to, Date.parse('2026-01-11T03:00:00Z'))
  assert.equal(q({ from: String(from) }).from, from)
})

test('the range is aligned outward to the granularity: from floored, to ceiled', () => {
  const r = q({ from: '2026-01-11T00:17:00Z', to: '2026-01-11T05:01:00Z' })
  assert.equal(r.from, Date.parse('2026-01-11T00:00:00Z'))
  assert.equal(r.to, Date.parse('2026-01-11T06:00:00Z'))
  const d = q({ from: '2026-01-05T13:00:00Z', to: '2026-01-07T00:00:00Z', granularity: 'day' })
  assert.equal(d.from, Date.parse('2026-01-05T00:00:00Z'))
  assert.equal(d.to, Date.parse('2026-01-07T00:00:00Z'), 'an aligned end stays where it is')
  const m = q({ from: '2026-01-12T02:00:30Z', to: '2026-01-12T02:10:00Z', granularity: 'minute' })
  assert.equal(m.from, Date.parse('2026-01-12T02:00:00Z'))
})

test('group_by: dimensions in the order given; empty means no grouping', () => {
  assert.deepEqual(q({ from: '2026-01-11T00:00:00Z', group_by: 'region,event_type' }).groupBy, ['region', 'event_type'])
  assert.deepEqual(q({ from: '2026-01-11T00:00:00Z', group_by: ' event_type ' }).groupBy, ['event_type'])
  assert.deepEqual(q({ from: '2026-01-11T00:00:00Z', group_by: '' }).groupBy, [])
})

test('filters: comma lists, duplicates dropped, values kept as given', () => {
  const r = q({ from: '2026-01-11T00:00:00Z', event_type: 'purchase,page_view,purchase', region: 'eu-west' })
  assert.deepEqual(r.filters, { event_type: ['purchase', 'page_view'], region: ['eu-west'] })
})

test('metrics: the named ones, in catalogue order', () => {
  assert.deepEqual(q({ from: '2026-01-11T00:00:00Z', metrics: 'total_revenue,total_events' }).metrics, ['total_events', 'total_revenue'])
})

test('timestamps: unreadable, outside 2000..2100, missing', () => {
  assert.throws(() => q({ from: 'yesterday' }), code('HG_ERR_BAD_TIMESTAMP'))
  assert.throws(() => q({ from: '2026-13-45T00:00:00Z' }), code('HG_ERR_BAD_TIMESTAMP'))
  assert.throws(() => q({ from: '2025-02-29T00:00:00Z' }), code('HG_ERR_BAD_TIMESTAMP'), 'no 29 February in 2025')
  assert.equal(q({ from: '2024-02-29T00:00:00Z', to: '2024-03-01T00:00:00Z' }).from, Date.UTC(2024, 1, 29))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', to: '12:00' }), code('HG_ERR_BAD_TIMESTAMP'))
  assert.throws(() => q({ from: '1999-12-31T23:59:59Z' }), code('HG_ERR_TIMESTAMP_OUT_OF_RANGE'))
  assert.throws(() => q({ from: '5' }), code('HG_ERR_TIMESTAMP_OUT_OF_RANGE'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', to: '2101-01-01T00:00:00Z' }), code('HG_ERR_TIMESTAMP_OUT_OF_RANGE'))
  assert.throws(() => q({}), code('HG_ERR_MISSING_PARAMETER'))
  assert.equal(q({ from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' }).from, Date.UTC(2000, 0, 1))
})

test('range: empty, reversed, from in the future, too large', () => {
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', to: '2026-01-11T00:00:00Z' }), code('HG_ERR_EMPTY_RANGE'))
  assert.throws(() => q({ from: '2026-01-11T05:00:00Z', to: '2026-01-11T00:00:00Z' }), code('HG_ERR_EMPTY_RANGE'))
  assert.throws(() => q({ from: String(now + M) }), code('HG_ERR_FROM_IN_FUTURE'))
  assert.throws(() => q({ from: String(now - 32 * D), to: String(now) }), code('HG_ERR_RANGE_TOO_LARGE'))
  assert.equal(q({ from: String(now - 31 * D), to: String(now), granularity: 'day' }).granularity, 'day')
  assert.doesNotThrow(() => q({ from: String(now), to: String(now + H) }), 'from = now is not in the future')
})

test('granularity, dimensions and metrics outside their lists', () => {
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', granularity: 'week' }), code('HG_ERR_UNKNOWN_GRANULARITY'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', granularity: 'Hour' }), code('HG_ERR_UNKNOWN_GRANULARITY'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', group_by: 'country' }), code('HG_ERR_UNKNOWN_DIMENSION'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', group_by: 'event_type,,region' }), code('HG_ERR_UNKNOWN_DIMENSION'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', group_by: 'region,region' }), code('HG_ERR_DUPLICATE_DIMENSION'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', metrics: 'total_events,p99' }), code('HG_ERR_UNKNOWN_METRIC'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', metrics: '' }), code('HG_ERR_UNKNOWN_METRIC'))
})

test('filters: empty items, values over 64 characters, too many values', () => {
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', event_type: '' }), code('HG_ERR_BAD_FILTER_VALUE'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', region: 'eu-west,' }), code('HG_ERR_BAD_FILTER_VALUE'))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', region: 'x'.repeat(65) }), code('HG_ERR_BAD_FILTER_VALUE'))
  assert.doesNotThrow(() => q({ from: '2026-01-11T00:00:00Z', region: 'x'.repeat(64) }))
  assert.throws(() => q({ from: '2026-01-11T00:00:00Z', event_type: 'a,b,c,d' }), code('HG_ERR_TOO_MANY_VALUES'))
  assert.doesNotThrow(() => q({ from: '2026-01-11T00:00:00Z', event_type: 'a,b,c,a' }), 'duplicates count once')
})

test('too many buckets counts the aligned range', () => {
  // 1000 minutes is allowed, 1001 is not
  assert.doesNotThrow(() => q({ from: String(now - 1000 * M), to: String(now), granularity: 'minute' }))
  assert.throws(() => q({ from: String(now - 1000 * M - 1), to: String(now), granularity: 'minute' }), code('HG_ERR_TOO_MANY_BUCKETS'))
  // 31 days of hours is 744 buckets: fine at this limit
  assert.doesNotThrow(() => q({ from: String(now - 31 * D), to: String(now) }))
})

test('errors carry the status and a message that names the fault', () => {
  try {
    q({ from: '2026-01-11T00:00:00Z', group_by: 'country' })
    assert.fail('expected an error')
  } catch (err) {
    const e = err as { statusCode: number, message: string }
    assert.equal(e.statusCode, 400)
    assert.match(e.message, /country/)
  }
})

test('live: last defaults to 15m, must be a duration, at most the retention', () => {
  assert.deepEqual(parseLiveQuery({}, limits), { last: 15 * M, groupBy: [], filters: {}, metrics: [...METRIC_NAMES] })
  assert.equal(parseLiveQuery({ last: '90s', group_by: 'region' }, limits).last, 90_000)
  assert.equal(parseLiveQuery({ last: '1h' }, limits).last, H)
  assert.throws(() => parseLiveQuery({ last: 'soon' }, limits), code('HG_ERR_BAD_DURATION'))
  assert.throws(() => parseLiveQuery({ last: '0m' }, limits), code('HG_ERR_BAD_DURATION'))
  assert.throws(() => parseLiveQuery({ last: '-5m' }, limits), code('HG_ERR_BAD_DURATION'))
  assert.throws(() => parseLiveQuery({ last: '61m' }, limits), code('HG_ERR_LIVE_TOO_LONG'))
  assert.throws(() => parseLiveQuery({ group_by: 'event_type,event_type' }, limits), code('HG_ERR_DUPLICATE_DIMENSION'))
  assert.throws(() => parseLiveQuery({ event_type: 'a,b,c,d' }, limits), code('HG_ERR_TOO_MANY_VALUES'))
})

test('typed input: lists as lists, null as absent; the REST querystring is converted to the same input', () => {
  const from = '2026-01-11T00:00:00Z'
  assert.deepEqual(
    parseMetricsInput({
      from, to: null, granularity: 'day', groupBy: ['region'], filter: { event_type: ['a,b', 'c'], region: null }, metrics: ['total_events']
    }, limits, now),
    { ...q({ from, granularity: 'day', group_by: 'region', metrics: 'total_events' }), filters: { event_type: ['a,b', 'c'] } },
    'a typed filter value may hold a comma')
  assert.deepEqual(parseMetricsInput({ from, groupBy: [], filter: null, metrics: null }, limits, now), q({ from, group_by: '' }))
  assert.deepEqual(metricsInput({ from, group_by: ' region , event_type', event_type: 'a,b', metrics: 'p95_response' }),
    {
      from, to: undefined, granularity: undefined, groupBy: ['region', 'event_type'], filter: { event_type: ['a', 'b'], region: undefined }, metrics: ['p95_response']
    })
  assert.deepEqual(liveInput({ group_by: '  ' }).groupBy, [], 'a blank group_by groups by nothing')
  assert.deepEqual(parseLiveInput({ last: null, groupBy: ['event_type'] }, limits), parseLiveQuery({ group_by: 'event_type' }, limits))
  // the same mistakes, the same codes
  assert.throws(() => parseMetricsInput({}, limits, now), code('HG_ERR_MISSING_PARAMETER'))
  assert.throws(() => parseMetricsInput({ from, metrics: [] }, limits, now), code('HG_ERR_UNKNOWN_METRIC'))
  assert.throws(() => parseMetricsInput({ from, filter: { region: [] } }, limits, now), code('HG_ERR_BAD_FILTER_VALUE'))
  assert.throws(() => parseLiveInput({ groupBy: ['region', 'region'] }, limits), code('HG_ERR_DUPLICATE_DIMENSION'))
})

test('limit: default 50, integers 1..1000', () => {
  assert.equal(parseLimit(undefined), 50)
  assert.equal(parseLimit('1'), 1)
  assert.equal(parseLimit('1000'), 1000)
  for (const bad of ['0', '1001', '-1', '2.5', 'ten', '', '99999999999']) {
    assert.throws(() => parseLimit(bad), code('HG_ERR_BAD_LIMIT'), bad)
  }
})

test('formatDuration picks the largest exact unit', () => {
  assert.equal(formatDuration(H), '1h')
  assert.equal(formatDuration(90 * M), '90m')
  assert.equal(formatDuration(1500), '1500ms')
  assert.equal(formatDuration(2 * D), '2d')
})
