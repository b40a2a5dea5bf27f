// The OpenAPI document, generated from the route schemas (@fastify/swagger), and Swagger UI at
// /docs (the document itself at /docs/json and /docs/yaml). Registered before the routes, at the
// root, so it sees every route; routes with `hide: true` (GET /metrics) stay out of the document.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface SwaggerPluginOptions {
  /** info.version of the document (the package version) */
  version: string
}

export const OPENAPI_TAGS = [
  { name: 'metrics', description: 'Merged batch + speed metrics' },
  { name: 'data', description: 'What the data holds: dimensions, quality, dead letters' },
  { name: 'health', description: 'Liveness and readiness probes' },
  { name: 'meta', description: 'This API' }
]

async function swaggerPlugin (app: FastifyInstance, opts: SwaggerPluginOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hourglass',
        description: 'Serving layer of a Lambda architecture: hourly batch views (gold) merged with one-minute speed ' +
          'windows at the batch boundary. Every result says where its numbers came from (`meta`). Every error ' +
          'has the body `{ statusCode, code, error, message }` with a stable `HG_ERR_*` code (see README.md).',
        version: opts.version,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' }
      },
      tags: OPENAPI_TAGS
    },
    // shared schemas appear under components.schemas by their $id (ErrorBody, MetricsResult)
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
}

export default fp(swaggerPlugin, { name: 'hourglass-swagger', fastify: '5.x' })
