// GraphQL's anomalies: the `anomalies` query (GET /v1/anomalies's arguments and rows) and the `anomalyDetected`
// subscription, fed by the anomaly log through mercurius's pubsub (one topic; each subscriber's filter applied by
// withFilter). The SDL extends Query and Subscription, so schema.ts stays as it is.
import type { FastifyInstance } from 'fastify'
import type { GraphQLResolveInfo } from 'graphql'
import mercurius, { type IResolvers, type MercuriusContext } from 'mercurius'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import { ANOMALY_KINDS, ANOMALY_METRICS, type Anomaly } from '../../model/index.js'
import { type AnomaliesInput, parseAnomaliesInput } from '../rest/anomaly-query.js'
import { presentAnomaly } from '../rest/anomaly-schemas.js'
import { type FilterInput, parseFilters } from '../rest/parse-query.js'
import { coded } from './resolvers.js'

const TOPIC = 'hourglass.anomalyDetected'
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

export const anomalyResolvers: IResolvers = {
  Query: {
    anomalies: coded<AnomaliesInput, unknown>((args, { service, now, anomalies }, ctx) => {
      const filter = parseAnomaliesInput(args, service.limits, ctx.hgRequest?.now ?? now())
      return (anomalies?.list(filter) ?? []).map(presentAnomaly)
    })
  },
  Subscription: {
    anomalyDetected: {
      subscribe: mercurius.withFilter<{ anomalyDetected: ReturnType<typeof presentAnomaly> }, unknown, MercuriusContext, { filter?: FilterInput | null }>(
        coded<{ filter?: FilterInput | null }, unknown>((args, { service }, ctx) => {
          // a bad filter is the client's error, before anything is subscribed
          parseFilters(args.filter, service.limits)
          return ctx.pubsub.subscribe(TOPIC)
        }) as (root: unknown, args: { filter?: FilterInput | null }, ctx: MercuriusContext, info: GraphQLResolveInfo) => unknown,
        (payload, args, ctx) => matches(payload.anomalyDetected, parseFilters(args.filter, ctx.hourglass.service.limits))
      )
    }
  }
}

/** Publish each anomaly the log records to the subscribers of this server, until it closes. */
export function publishAnomalies (app: FastifyInstance, source: AnomalySource | undefined): void {
  if (source === undefined) return
  const stop = source.subscribe((a: Anomaly) => {
    void app.graphql.pubsub.publish({ topic: TOPIC, payload: { anomalyDetected: presentAnomaly(a) } }, () => {})
  })
  app.addHook('onClose', async () => { stop() })
}
