// OData v4 at /odata, what Power BI's OData.Feed loads: the service document, $metadata (CSDL
// XML), and the entity sets HourlyMetrics, DailyMetrics and MinuteMetrics (read-only), answered
// from the same MetricsService as REST. JSON with odata.metadata=minimal, absolute @odata.context
// and @odata.nextLink, exactly one OData-Version header, gzip when the client accepts it, and the
// OData error body for every error. The routes are hidden from the OpenAPI document.
import { promisify } from 'node:util'
import { gzip as gzipCb } from 'node:zlib'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors, iso, METRIC_NAMES, MINUTE_MS, type ResultRow, bucketStart } from '../../model/index.js'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import type { MetricsService } from '../../merger/types.js'
import type { RouteOptions } from '../rest/options.js'
import { anomalySetRoutes } from './anomalies.js'
import { ANOMALY_SET } from './anomaly-csdl.js'
import { buildCsdl, ENTITY_SETS, entitySet, type EntitySetDef, KEY, PROPERTY_NAMES, type PropertyName } from './csdl.js'
import { sendError } from '../errors.js'
import { baseUrl } from './base-url.js'
import { JSON_TYPE } from './errors.js'
import { matches, type RowValues } from './evaluate.js'
import { type ODataOptions, parseODataQuery, splitQuery } from './options.js'
import { DEFAULT_PAGE_SIZE, nextLink, takePage } from './paging.js'
import { skipTokenCodec } from './skiptoken.js'
import { type FilterPlan, planFilter, type ReadRange, readRange, tokenRange } from './plan.js'

export interface ODataRouteOptions extends RouteOptions {
  /** most entities per page (server-driven paging); a client may ask for fewer with Prefer: odata.maxpagesize */
  pageSize?: number
  /** the base of absolute URLs (HOURGLASS_PUBLIC_URL); '' or absent: the scheme and host the client reached */
  publicUrl?: string
  /** the key $skiptoken is signed with (HOURGLASS_SKIPTOKEN_KEY); '' or absent: a random key of this process */
  skiptokenKey?: string
  /** the anomaly log, served as the entity set Anomalies (absent: an empty set) */
  anomalies?: AnomalySource
}

const gzip = promisify(gzipCb)
/** smallest body worth compressing, bytes */
const GZIP_MIN_BYTES = 1024

function acceptsGzip (header: string | undefined): boolean {
  if (header === undefined) return false
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';')
    if (coding !== 'gzip' && coding !== '*') return false
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find((m) => m !== null)
    return q == null || Number(q[1]) > 0
  })
}

/** Prefer: odata.maxpagesize=N (or maxpagesize=N, OData 4.01) */
function preferredPageSize (header: string | string[] | undefined): number | null {
  const text = Array.isArray(header) ? header.join(',') : header
  if (text === undefined) return null
  const m = /(?:^|[,;\s])(?:odata\.)?maxpagesize\s*=\s*"?(\d{1,9})"?/i.exec(text)
  return m === null || Number(m[1]) < 1 ? null : Number(m[1])
}

function rawQuery (request: FastifyRequest): string {
  const url = request.raw.url ?? ''
  const q = url.indexOf('?')
  return q === -1 ? '' : url.slice(q + 1)
}

/** 2024-05-01T00:00:00Z: Edm.DateTimeOffset without fractional seconds (Precision 0) */
function instant (t: number): string {
  return iso(t).replace(/\.000Z$/, 'Z')
}

function toValues (row: ResultRow): RowValues {
  return {
    window_start: Date.parse(row.window_start),
    event_type: row.event_type ?? null,
    region: row.region ?? null,
    total_events: row.total_events ?? 0,
    avg_latency: row.avg_latency ?? null,
    p95_response: row.p95_response ?? null,
    total_revenue: row.total_revenue ?? 0,
    avg_sentiment: row.avg_sentiment ?? null,
    sentiment_positive: row.sentiment_positive ?? 0,
    sentiment_neutral: row.sentiment_neutral ?? 0,
    sentiment_negative: row.sentiment_negative ?? 0
  }
}

function toEntity (row: RowValues, properties: readonly PropertyName[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const p of properties) out[p] = p === 'window_start' ? instant(row.window_start as number) : row[p]
  return out
}

/** The rows of an entity set in a range, grouped by event_type and region, filtered by the residual. */
async function readRows (service: MetricsService, set: EntitySetDef, range: ReadRange, plan: FilterPlan, now: number): Promise<RowValues[]> {
  const shape = { groupBy: ['event_type', 'region'] as const, filters: plan.filters, metrics: [...METRIC_NAMES] }
  let rows: ResultRow[]
  if (set.granularity === 'minute') {
    // minute windows exist only in the speed layer: read them as /v1/metrics/live does (open ones included)
    const end = bucketStart(now, 'minute') + MINUTE_MS
    const last = Math.min(service.limits.retentionMs, end - range.from)
    rows = last <= 0 ? [] : (await service.live({ last, ...shape, groupBy: [...shape.groupBy] })).rows
  } else {
    rows = (await service.query({ from: range.from, to: range.to, granularity: set.granularity, ...shape, groupBy: [...shape.groupBy] })).rows
  }
  const out: RowValues[] = []
  for (const row of rows) {
    const v = toValues(row)
    const t = v.window_start as number
    if (t >= range.from && t < range.to && matches(plan.residual, v)) out.push(v)
  }
  return out
}

interface Selected { rows: RowValues[], range: ReadRange | null, plan: FilterPlan }

async function select (service: MetricsService, set: EntitySetDef, opts: ODataOptions, now: number): Promise<Selected> {
  const plan = planFilter(opts.filter, set.granularity, service.limits.maxFilterValues)
  const range = opts.skiptoken === null ? readRange(plan, set, service.limits, now) : tokenRange(opts.skiptoken, set, service.limits, now)
  if (range === null) return { rows: [], range: null, plan }
  return { rows: await readRows(service, set, range, plan, now), range, plan }
}

function unknownSet (request: FastifyRequest, name: string): never {
  if (/^[A-Za-z_]+\(/.test(name) && entitySet(name.slice(0, name.indexOf('('))) !== undefined) {
    throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED('Addressing a single entity by its key')
  }
  throw new errors.HG_ERR_NOT_FOUND(request.method, `/odata/${name.slice(0, 100)}`)
}

const odataRoutes: FastifyPluginAsyncTypebox<ODataRouteOptions> = async (app, opts) => {
  const { service, now, pageSize = DEFAULT_PAGE_SIZE, publicUrl = '' } = opts
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error(`OData page size must be a positive integer, not ${pageSize}`)
  const csdl = buildCsdl(pageSize)
  const tokens = skipTokenCodec(opts.skiptokenKey ?? '')
  /** the service root, e.g. http://localhost:8080/odata/ */
  const serviceRoot = (request: FastifyRequest): string => `${baseUrl(request, publicUrl)}/odata/`

  // the OData error body (sendError gives it to every URL under /odata)
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply))

  // One OData-Version header on every response, errors included; gzip when accepted.
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('OData-Version', '4.0')
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload
    if (Buffer.byteLength(payload) < GZIP_MIN_BYTES) return payload
    reply.header('Vary', 'Accept-Encoding')
    if (reply.hasHeader('content-encoding') || !acceptsGzip(request.headers['accept-encoding'])) return payload
    reply.header('Content-Encoding', 'gzip')
    reply.removeHeader('content-length')
    return await gzip(payload)
  })

  const hidden = { schema: { hide: true } }

  app.get('/odata', hidden, async (request, reply) => {
    const root = serviceRoot(request)
    const body = {
      '@odata.context': `${root}$metadata`,
      value: [...ENTITY_SETS.map((s) => s.name), ANOMALY_SET].map((name) => ({ name, kind: 'EntitySet', url: name }))
    }
    return reply.type(JSON_TYPE).send(JSON.stringify(body))
  })

  const metadata = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => reply.type('application/xml;charset=utf-8').send(csdl)
  app.get('/odata/$metadata', hidden, metadata)

  const entityRequest = async (request: FastifyRequest<{ Params: { set: string } }>, reply: FastifyReply, countOnly: boolean): Promise<FastifyReply> => {
    if (request.params.set === '$metadata' && !countOnly) return await metadata(request, reply) // /odata/%24metadata
    const set = entitySet(request.params.set) ?? unknownSet(request, request.params.set)
    const opts = parseODataQuery(rawQuery(request), tokens.decode)
    const t = now()
    const { rows, range } = await select(service, set, opts, t)
    if (countOnly) return reply.type('text/plain;charset=utf-8').send(String(rows.length))

    const preferred = preferredPageSize(request.headers.prefer)
    const size = preferred === null ? pageSize : Math.min(preferred, pageSize)
    if (preferred !== null) reply.header('Preference-Applied', `odata.maxpagesize=${size}`)
    const page = range === null
      ? { rows: [], next: null }
      : takePage(rows, { set: set.name, orderby: opts.orderby, top: opts.top, skip: opts.skip, token: opts.skiptoken, range }, size)

    const root = serviceRoot(request)
    // the key is always returned, so that every entity can be identified (OData allows more than $select asked)
    const properties = opts.select === null ? PROPERTY_NAMES : PROPERTY_NAMES.filter((p) => (KEY as readonly string[]).includes(p) || opts.select?.includes(p))
    const context = opts.select === null ? `${root}$metadata#${set.name}` : `${root}$metadata#${set.name}(${opts.select.join(',')})`
    const body: Record<string, unknown> = { '@odata.context': context }
    if (opts.count) body['@odata.count'] = rows.length
    body.value = page.rows.map((r) => toEntity(r, properties))
    if (page.next !== null) body['@odata.nextLink'] = nextLink(root + set.name, opts.carry, tokens.encode(page.next))
    return reply.type(JSON_TYPE).send(JSON.stringify(body))
  }

  anomalySetRoutes(app, { anomalies: opts.anomalies, pageSize, serviceRoot, rawQuery })
  app.get<{ Params: { set: string } }>('/odata/:set', hidden, async (request, reply) => entityRequest(request, reply, false))
  app.get<{ Params: { set: string } }>('/odata/:set/$count', hidden, async (request, reply) => entityRequest(request, reply, true))

  // The service is read-only: other methods answer 405 with Allow, and paths not routed here 404,
  // both in the OData error body (the not-found handler in src/api/errors.ts).

  // the query string of the service document and $metadata is read for nothing but well-formedness
  app.addHook('preHandler', async (request) => { splitQuery(rawQuery(request)) })
}

export default odataRoutes
