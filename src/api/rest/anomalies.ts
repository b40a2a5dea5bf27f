// GET /v1/anomalies: the anomalies detected on closed minute windows (src/model/anomaly.ts), from the process's log.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import { iso } from '../../model/index.js'
import { anomaliesInput, parseAnomaliesInput } from './anomaly-query.js'
import { Anomalies, AnomaliesQueryString, presentAnomaly } from './anomaly-schemas.js'
import type { RouteOptions } from './options.js'
import { described, errorResponses } from './schemas.js'

export interface AnomalyRouteOptions extends RouteOptions {
  /** absent: nothing is detected (the route answers an empty list) */
  anomalies?: AnomalySource
}

const anomalyRoutes: FastifyPluginAsyncTypebox<AnomalyRouteOptions> = async (app, { service, now, anomalies }) => {
  app.get('/v1/anomalies', {
    schema: {
      operationId: 'getAnomalies',
      summary: 'Anomalies detected on closed minute windows',
      description: 'Each closed minute window is judged per (event_type, region) group and overall on event count, ' +
        'p95 response and revenue against a seasonal baseline (the same minute of previous days, from gold) and the ' +
        'recent level, by a robust z-score (README, Anomalies). Lists the anomalies of minutes in [from, to) this ' +
        'process keeps in memory (the newest HOURGLASS_ANOMALY_KEEP).',
      tags: ['data'],
      querystring: AnomaliesQueryString,
      response: { 200: described(Anomalies, 'The anomalies of the range'), ...errorResponses(400) }
    }
  }, async (request) => {
    const filter = parseAnomaliesInput(anomaliesInput(request.query), service.limits, now())
    return { from: iso(filter.from), to: iso(filter.to), anomalies: (anomalies?.list(filter) ?? []).map(presentAnomaly) }
  })
}

export default anomalyRoutes
