// GET /: a small index of the API, with links to try (browsers are sent to /dashboard before it: src/api/dashboard/routes.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { bucketStart, DAY_MS, iso } from '../../model/index.js'
import type { RouteOptions } from './options.js'
import { described, errorResponses, Index, NoQueryString } from './schemas.js'

export interface RootRouteOptions extends RouteOptions {
  version: string
}

const rootRoutes: FastifyPluginAsyncTypebox<RootRouteOptions> = async (app, { version, now }) => {
  app.get('/', {
    schema: {
      operationId: 'getIndex',
      summary: 'Index of the API',
      description: 'Links to the endpoints, with example queries, to the API documentation and to the other interfaces ' +
        '(dashboard, GraphiQL, GraphQL, OData). A browser (Accept: text/html) is redirected to /dashboard.',
      tags: ['meta'],
      querystring: NoQueryString,
      response: { 200: described(Index, 'The index'), ...errorResponses(400) }
    }
  }, async () => ({
    name: 'hourglass',
    version,
    docs: '/docs',
    openapi: '/docs/json',
    links: {
      metrics: `/v1/metrics?from=${iso(bucketStart(now() - DAY_MS, 'hour'))}&granularity=hour&group_by=event_type`,
      live: '/v1/metrics/live?last=15m',
      entities: `/v1/entities?from=${iso(bucketStart(now() - DAY_MS, 'hour'))}&limit=10`,
      dimensions: '/v1/dimensions',
      quality: '/v1/quality',
      dead_letters: '/v1/dead-letters?limit=50',
      reconciliation: '/v1/reconciliation?limit=24',
      health: '/healthz',
      ready: '/readyz',
      prometheus: '/metrics'
    },
    pages: {
      dashboard: '/dashboard',
      graphiql: '/graphiql',
      graphql: '/graphql',
      odata: '/odata/'
    }
  }))
}

export default rootRoutes
