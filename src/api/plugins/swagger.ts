// The OpenAPI document, generated from the route schemas (@fastify/swagger), and Swagger UI at
// /docs (the document itself at /docs/json and /docs/yaml). Registered before the routes, at the
// root, so it sees every route; routes with `hide: true` (GET /metrics) stay out of the document.
// The document declares what valid parameter values look like (PARAMETER_FORMATS) and carries no
// fixed dates; the copy Swagger UI loads gets a `from` example relative to now for "Try it out".
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import { bucketStart, DAY_MS, iso } from '../../model/index.js'
import { scopeFor } from '../auth/index.js'
import { ERROR_DESCRIPTIONS, ErrorBody, PARAMETER_FORMATS, ref } from '../rest/schemas.js'

export interface SwaggerPluginOptions {
  /** info.version of the document (the package version) */
  version: string
  /** the clock (epoch ms), for the examples Swagger UI shows */
  now: () => number
}

interface QuerySchema { properties?: Record<string, Record<string, unknown>> }

/** A route schema with the formats of its query parameters (a copy: validation keeps the original). */
function withFormats (schema: FastifySchema | undefined): FastifySchema | undefined {
  const query = schema?.querystring as QuerySchema | undefined
  if (schema === undefined || query?.properties === undefined) return schema
  const properties = Object.fromEntries(Object.entries(query.properties).map(([name, p]) => [name, { ...p, ...PARAMETER_FORMATS[name] }]))
  return { ...schema, querystring: { ...query, properties } }
}

/** Each way a key or token may be presented (README, Security); any one of them will do. */
const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', description: 'An API key (`hg_…`) or a JWT from the configured OIDC issuer' },
  apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key' },
  basic: { type: 'http', scheme: 'basic', description: 'Any user name, the API key as the password (Power BI "Basic")' },
  apiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: 'An API key in the URL (Power BI "Web API" key); never logged' }
} as const

/** A route behind authentication: its security and its 401, 403 and 429 answers in the document. */
function withSecurity (schema: FastifySchema | undefined, url: string): FastifySchema | undefined {
  if (schema === undefined || scopeFor(url) === 'public') return schema
  const refused = Object.fromEntries([401, 403, 429].map((s) => [s, ref(ErrorBody, ERROR_DESCRIPTIONS[s] ?? 'Error')]))
  return {
    ...schema,
    security: Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] })),
    response: { ...(schema.response as object | undefined), ...refused }
  } as FastifySchema
}

interface Parameter { in?: string, name?: string, example?: unknown }
type Spec = Record<string, unknown> & { paths?: Record<string, Record<string, { parameters?: Parameter[] }>> }

/** The document with a `from` example a day before now, at a whole hour (Try it out then finds rows). */
function withRelativeExamples (spec: Spec, now: number): Spec {
  const from = iso(bucketStart(now - DAY_MS, 'hour')).replace(/\.000Z$/, 'Z')
  for (const item of Object.values(spec.paths ?? {})) {
    for (const op of Object.values(item)) {
      for (const p of op.parameters ?? []) if (p.in === 'query' && p.name === 'from') p.example = from
    }
  }
  return spec
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
      tags: OPENAPI_TAGS,
      components: { securitySchemes: SECURITY_SCHEMES }
    },
    // shared schemas appear under components.schemas by their $id (ErrorBody, MetricsResult)
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    },
    transform: ({ schema, url }) => ({ schema: withSecurity(withFormats(schema), url) as typeof schema, url })
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // a copy per request (transformSpecificationClone, the default): the cached document keeps no example
    transformSpecification: (spec) => withRelativeExamples(spec as Spec, opts.now())
  })
}

export default fp(swaggerPlugin, { name: 'hourglass-swagger', fastify: '5.x' })
