// GET /v1/metrics (merged batch + speed) and GET /v1/metrics/live (speed only, minute windows).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from './options.js'
import { parseLiveQuery, parseMetricsQuery } from './parse-query.js'
import { errorResponses, LiveQueryString, MetricsQueryString, MetricsResult, ref } from './schemas.js'

const metricsRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { service, now }) => {
  app.get('/v1/metrics', {
    schema: {
      operationId: 'getMetrics',
      summary: 'Metrics over a time range, merged from the batch and speed layers',
      description: 'Buckets of `granularity` over [from, to), optionally grouped and filtered. The range is cut at ' +
        'the batch boundary B (`meta.boundary`): gold answers before B, the speed layer after. `meta` says which ' +
        'layer answered which part (`sources`), what no layer could answer (`gaps`, `complete`), and how fresh the ' +
        'speed part is. Minute granularity exists only where the speed layer holds minute windows (the last hour).',
      tags: ['metrics'],
      querystring: MetricsQueryString,
      response: { 200: ref(MetricsResult, 'The merged series and where its numbers came from'), ...errorResponses(400) }
    }
  }, async (request) => service.query(parseMetricsQuery(request.query, service.limits, now())))

  app.get('/v1/metrics/live', {
    schema: {
      operationId: 'getLiveMetrics',
      summary: 'Minute windows of the last few minutes, from the speed layer only',
      description: 'Minute buckets ending now, open windows included (their numbers still grow). `last` may be at ' +
        'most the speed layer\'s retention; use /v1/metrics for older data.',
      tags: ['metrics'],
      querystring: LiveQueryString,
      response: { 200: ref(MetricsResult, 'Minute windows of the speed layer, open ones included'), ...errorResponses(400) }
    }
  }, async (request) => service.live(parseLiveQuery(request.query, service.limits)))
}

export default metricsRoutes
