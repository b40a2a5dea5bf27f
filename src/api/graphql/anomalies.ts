// GraphQL's anomalies: the `anomalies` query (GET /v1/anomalies's arguments and rows) and the `anomalyDetected`
// subscription, fed by the anomaly log's listeners (each subscriber's filter applied as it is told). The SDL extends
// Query and Subscription, so schema.ts stays as it is.
import type { IResolvers } from 'mercurius'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import { ANOMALY_KINDS, ANOMALY_METRICS, type Anomaly, errors } from '../../model/index.js'
import { type AnomaliesInput, parseAnomaliesInput } from '../rest/anomaly-query.js'
import { presentAnomaly } from '../rest/anomaly-schemas.js'
import { type FilterInput, parseFilters } from '../rest/parse-query.js'
import { selectedFields } from './budget.js'
import { coded, within } from './resolvers.js'

const values = (list: readonly string[]): string => list.map((v) => `  ${v}`).join('\n')

export const ANOMALY_SDL = `
"A metric the anomaly detector judges."
enum AnomalyMetric {
${values(ANOMALY_METRICS)}
}

"drop or spike (events, revenue), shift (p95 response)."
enum AnomalyKind {
${values(ANOMALY_KINDS)}
}

"An anomaly detected on a closed minute window (GET /v1/anomalies)."
type Anomaly {
  "The minute window, ISO-8601 UTC."
  window_start: String!
  "null: the overall group (every event)."
  event_type: String
  "null: the overall group (every event)."
  region: String
  metric: AnomalyMetric!
  kind: AnomalyKind!
  "The minute's value (or, where only the 5-minute window stood out, its trimmed mean per minute)."
  observed: Float!
  "Seasonal baseline (same minute of previous days, from gold) plus the recent level."
  expected: Float!
  "Robust z-score: (observed - expected) / robust standard deviation."
  score: Float!
}

extend type Query {
  """
  Anomalies of the closed minute windows in [from, to) this process keeps; the same as GET /v1/anomalies. A filter
  value matches only groups of that value (not the overall group).
  """
  anomalies(from: String!, to: String, filter: Filter): [Anomaly!]!
}

extend type Subscription {
  "Pushes each anomaly as it is detected (closed minute windows), filtered as the anomalies query filters."
  anomalyDetected(filter: Filter): Anomaly!
}
`

interface Matcher { event_type?: string[], region?: string[] }

function matches (a: ReturnType<typeof presentAnomaly>, f: Matcher): boolean {
  if (f.event_type !== undefined && (a.event_type === null || !f.event_type.includes(a.event_type))) return false
  if (f.region !== undefined && (a.region === null || !f.region.includes(a.region))) return false
  return true
}

/**
 * The anomalies the log records from now on that pass `keep`, as an async iterator (what a subscription resolver
 * returns): queued while no one asks, the log's listener removed by return().
 */
export class AnomalyStream<T> implements AsyncIterableIterator<T> {
  readonly #queue: T[] = []
  readonly #unsubscribe: () => void
  #wake: (() => void) | null = null
  #closed = false

  constructor (source: AnomalySource, keep: (a: Anomaly) => T | null) {
    this.#unsubscribe = source.subscribe((a) => {
      const value = keep(a)
      if (value === null || this.#closed) return
      this.#queue.push(value)
      this.#wake?.()
    })
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  async next (): Promise<IteratorResult<T>> {
    while (!this.#closed) {
      const value = this.#queue.shift()
      if (value !== undefined) return { value, done: false }
      await new Promise<void>((resolve) => { this.#wake = resolve })
      this.#wake = null
    }
    return { value: undefined, done: true }
  }

  async return (): Promise<IteratorResult<T>> {
    this.#closed = true
    this.#unsubscribe()
    this.#wake?.()
    return { value: undefined, done: true }
  }
}

export const anomalyResolvers: IResolvers = {
  Query: {
    anomalies: coded<AnomaliesInput, unknown>((args, { service, now, anomalies }, ctx, info) => {
      const filter = parseAnomaliesInput(args, service.limits, ctx.hgRequest?.now ?? now())
      // counted into the request's answer size like the metrics fields' rows, so aliases cannot multiply the log
      const read = async (): Promise<unknown[]> => (anomalies?.list(filter) ?? []).map(presentAnomaly)
      return within(ctx, info, 'anomalies ' + JSON.stringify(filter), read, (rows) => rows, selectedFields)
    })
  },
  Subscription: {
    anomalyDetected: {
      subscribe: coded<{ filter?: FilterInput | null }, AsyncIterableIterator<unknown>>((args, { service, anomalies }) => {
        // a bad filter is the client's error, whatever this process can push
        const filter = parseFilters(args.filter, service.limits)
        if (anomalies === undefined) throw new errors.HG_ERR_NOT_READY('this process does not detect anomalies (anomalyDetected)')
        return new AnomalyStream(anomalies, (a) => {
          const row = presentAnomaly(a)
          return matches(row, filter) ? { anomalyDetected: row } : null
        })
      })
    }
  }
}
