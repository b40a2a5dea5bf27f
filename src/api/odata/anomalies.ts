// The read-only entity set Anomalies (entity type Anomaly) of /odata: the anomaly log (src/merger/anomaly-log.ts) as
// OData. Options: $filter (any property; evaluated on the log in memory), $top, $skip, $count, $format=json; a page
// holds at most the service's page size, the next one linked by $skip. Its CSDL is in anomaly-csdl.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import { type Anomaly, errors, iso } from '../../model/index.js'
import { badOption, JSON_TYPE } from './errors.js'
import { matches, type RowValues } from './evaluate.js'
import { type Expr, parseFilter } from './filter-parser.js'
import { ANOMALY_PROPERTY_TYPES, ANOMALY_SET } from './anomaly-csdl.js'
import { splitQuery } from './options.js'

const TYPES = ANOMALY_PROPERTY_TYPES

const SUPPORTED = ['$filter', '$top', '$skip', '$count', '$format']

interface Options { filter: Expr | null, top: number | null, skip: number, count: boolean }

function integer (text: string, option: string): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw badOption(option, `"${text}" is not a non-negative integer (at most 999999999)`)
  return Number(text)
}

function parseOptions (raw: string): Options {
  const opts: Options = { filter: null, top: null, skip: 0, count: false }
  const seen = new Set<string>()
  for (const [given, value] of splitQuery(raw)) {
    if (!given.startsWith('$')) continue
    const name = given.toLowerCase()
    if (!SUPPORTED.includes(name)) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(`The ${name} option on ${ANOMALY_SET} (supported: ${SUPPORTED.join(', ')})`)
    if (seen.has(name)) throw badOption(name, 'the option is given twice')
    seen.add(name)
    if (name === '$filter') opts.filter = parseFilter(value, TYPES)
    else if (name === '$top') opts.top = integer(value, '$top')
    else if (name === '$skip') opts.skip = integer(value, '$skip')
    else if (name === '$count') {
      if (value !== 'true' && value !== 'false') throw badOption('$count', `"${value}" is neither true nor false`)
      opts.count = value === 'true'
    } else if (!/^(json|application\/json)(;.*)?$/i.test(value.trim())) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(`$format=${value} (only json)`)
  }
  return opts
}

function values (a: Anomaly): RowValues {
  return {
    id: [iso(a.window_start), a.event_type ?? '*', a.region ?? '*', a.metric].join('|'),
    window_start: a.window_start,
    event_type: a.event_type,
    region: a.region,
    metric: a.metric,
    kind: a.kind,
    observed: a.observed,
    expected: a.expected,
    score: a.score
  }
}

function entity (v: RowValues): Record<string, unknown> {
  return { ...v, window_start: iso(v.window_start as number) }
}

export interface AnomalySetOptions {
  anomalies: AnomalySource | undefined
  pageSize: number
  /** the service root of a request, e.g. http://localhost:8080/odata/ */
  serviceRoot: (request: FastifyRequest) => string
  rawQuery: (request: FastifyRequest) => string
}

/** GET /odata/Anomalies and /odata/Anomalies/$count, inside the OData plugin (its error body and headers). */
export function anomalySetRoutes (app: FastifyInstance, { anomalies, pageSize, serviceRoot, rawQuery }: AnomalySetOptions): void {
  const select = (request: FastifyRequest): { rows: RowValues[], opts: Options } => {
    const opts = parseOptions(rawQuery(request))
    const all = anomalies?.list({ from: -Infinity, to: Infinity }) ?? []
    return { rows: all.map(values).filter((v) => matches(opts.filter, v)), opts }
  }
  const hidden = { schema: { hide: true } }
  app.get(`/odata/${ANOMALY_SET}`, hidden, async (request, reply) => {
    const { rows, opts } = select(request)
    const wanted = opts.top === null ? rows.length - opts.skip : Math.min(opts.top, rows.length - opts.skip)
    const page = rows.slice(opts.skip, opts.skip + Math.min(Math.max(0, wanted), pageSize))
    const root = serviceRoot(request)
    const body: Record<string, unknown> = { '@odata.context': `${root}$metadata#${ANOMALY_SET}` }
    if (opts.count) body['@odata.count'] = rows.length
    body.value = page.map(entity)
    if (wanted > pageSize) {
      const next = new URLSearchParams(splitQuery(rawQuery(request)).filter(([k]) => !['$skip', '$top'].includes(k.toLowerCase())))
      next.set('$skip', String(opts.skip + pageSize))
      if (opts.top !== null) next.set('$top', String(opts.top - pageSize))
      body['@odata.nextLink'] = `${root}${ANOMALY_SET}?${next.toString()}`
    }
    return reply.type(JSON_TYPE).send(JSON.stringify(body))
  })
  app.get(`/odata/${ANOMALY_SET}/$count`, hidden, async (request, reply) => reply.type('text/plain;charset=utf-8').send(String(select(request).rows.length)))
}
