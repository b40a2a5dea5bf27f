// The HTTP server: Fastify 5 with the TypeBox type provider, composed in the fastify/demo style.
// Cross-cutting plugins (errors, OpenAPI + Swagger UI, observability) are wrapped with
// fastify-plugin and apply to the whole server; the route plugins under rest/ stay encapsulated.
// The server knows the data layers only through MetricsService (src/merger/types.ts).
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, {
  type FastifyBaseLogger, LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions, type RawServerDefault
} from 'fastify'
import type { Registry } from 'prom-client'
import type { AnomalySource } from '../merger/anomaly-log.js'
import { registerAnomalyMetrics } from './anomaly-metrics.js'
import type { MetricsService, ReconciliationSource, WindowChanges } from '../merger/types.js'
import { errors } from '../model/index.js'
import { type AuthSettings, Authenticator, authPlugin, GraphqlGuard, redactUrl } from './auth/index.js'
import pagesPlugin, { redirectBrowsers } from './dashboard/routes.js'
import errorsPlugin, { clientErrorHandler, sendError } from './errors.js'
import corsPlugin from './plugins/cors.js'
import helmetPlugin from './plugins/helmet.js'
import notReadyPlugin from './plugins/not-ready.js'
import { httpsOption, type TlsMaterial } from './plugins/tls.js'
import graphqlPlugin, { type GraphqlLimits } from './graphql/index.js'
import observabilityPlugin, { createObservability, type Observability } from './observability.js'
import odataRoutes from './odata/routes.js'
import swaggerPlugin from './plugins/swagger.js'
import pressurePlugin, { type PressureOptions } from './plugins/under-pressure.js'
import anomalyRoutes from './rest/anomalies.js'
import dataRoutes from './rest/data.js'
import entityRoutes from './rest/entities.js'
import healthRoutes from './rest/health.js'
import metricsRoutes from './rest/metrics.js'
import reconciliationRoutes from './rest/reconciliation.js'
import rootRoutes from './rest/root.js'
import { SHARED_SCHEMAS } from './rest/schemas.js'
import { declineNonWebSocketUpgrades } from './upgrade.js'

/** Longest request URL (path and query), bytes: longer ones are answered 414 HG_ERR_URL_TOO_LONG. */
export const MAX_URL_BYTES = 4096
/** The API is GET-only: no request needs a body. */
export const BODY_LIMIT_BYTES = 1024

export interface BuildServerOptions {
  service: MetricsService
  /** Fastify's logger option: false (default), true, or pino options */
  logger?: FastifyServerOptions['logger']
  /** the Prometheus registry for a new Observability (default: a new one); ignored with `observability` */
  registry?: Registry
  /** an Observability the composition root already created (and wired to the speed pipeline) */
  observability?: Observability
  /** the clock, epoch ms (default Date.now) */
  now?: () => number
  /** the API version in / and the OpenAPI document (default: package.json's) */
  version?: string
  /** the minute windows the speed pipeline changes, pushed by GraphQL `windowUpdated` (absent: not available) */
  windowChanges?: WindowChanges
  /** speed-vs-batch reconciliations, for GET /v1/reconciliation and /metrics (absent: none) */
  reconciliations?: ReconciliationSource
  /** anomalies detected on closed minute windows, for GET /v1/anomalies, GraphQL, OData and /metrics (absent: none) */
  anomalies?: AnomalySource
  /** API keys, JWT, rate limits and the subscription cap (absent: no authentication, no limits) */
  auth?: AuthSettings
  /** the base of absolute URLs the API writes (HOURGLASS_PUBLIC_URL); absent or '': the scheme and host the client reached */
  publicUrl?: string
  /** proxies whose X-Forwarded-Proto/-Host are believed (HOURGLASS_TRUSTED_PROXIES: IPs, CIDRs); absent or empty: none */
  trustedProxies?: string[]
  /** the key OData's $skiptoken is signed with (HOURGLASS_SKIPTOKEN_KEY); absent or '': a random key of this process */
  skiptokenKey?: string
  /** browser origins allowed by CORS (default none) */
  corsOrigins?: readonly string[]
  /** serve HTTPS with this certificate and key (default: plain HTTP) */
  tls?: TlsMaterial
  /** GraphQL's body limit, response budget and time budget (absent: the defaults of src/config.ts) */
  graphql?: Partial<GraphqlLimits>
  /** when to answer 503 HG_ERR_OVERLOADED (absent: never) */
  pressure?: PressureOptions
}

export type HourglassServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>

let packageVersion: string | undefined
/** package.json's version: two folders up from here, in src/api/ and in dist/api/ alike. */
export function readPackageVersion (): string {
  packageVersion ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  return packageVersion
}

/** Fastify's request serializer, with the api_key query parameter's value redacted from the URL. */
function withRedactedUrls (logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false
  const options = logger === true ? {} : logger
  const req = (r: FastifyRequest): Record<string, unknown> =>
    ({ method: r.method, url: redactUrl(r.url), host: r.host, remoteAddress: r.ip, remotePort: r.socket?.remotePort })
  return { ...options, serializers: { ...options.serializers, req } }
}

/** A Fastify instance with every route registered, not listening (call listen, or inject in tests). */
export function buildServer (opts: BuildServerOptions): HourglassServer {
  const app = Fastify({
    logger: withRedactedUrls(opts.logger),
    // one line per request, at debug (below): a service at info logs what happens to it, not every request
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    // Unknown query parameters are rejected (HG_ERR_UNKNOWN_PARAMETER), not silently stripped.
    ajv: { customOptions: { removeAdditional: false } },
    // Errors raised before routing (a URL that cannot be decoded) get the same error body …
    frameworkErrors: (err, request, reply) => { sendError(err, request, reply) },
    // … and so do requests Node's HTTP parser refuses (a NUL in the URL, headers too large).
    clientErrorHandler,
    // while closing, errors.ts answers 503 with a code (Fastify's own 503 has none)
    return503OnClosing: false,
    ...(opts.trustedProxies === undefined || opts.trustedProxies.length === 0 ? {} : { trustProxy: opts.trustedProxies }),
    ...httpsOption(opts.tls)
  }).withTypeProvider<TypeBoxTypeProvider>()
  declineNonWebSocketUpgrades(app.server)

  const service = opts.service
  const now = opts.now ?? Date.now
  const version = opts.version ?? readPackageVersion()
  const observability = opts.observability ?? createObservability(opts.registry === undefined ? {} : { registry: opts.registry })

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ req: request, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request')
  })
  app.addHook('onRequest', async (request) => {
    const bytes = Buffer.byteLength(request.raw.url ?? '')
    if (bytes > MAX_URL_BYTES) throw new errors.HG_ERR_URL_TOO_LONG(bytes, MAX_URL_BYTES)
  })
  // before authentication: a browser opening / without a key still reaches the dashboard, which asks for one
  app.addHook('onRequest', redirectBrowsers)

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)
  app.register(errorsPlugin)
  // CORS answers preflights before authentication's onRequest hook runs
  app.register(corsPlugin, { origins: opts.corsOrigins ?? [] })
  app.register(helmetPlugin, { tls: opts.tls !== undefined })
  app.register(notReadyPlugin)
  const authenticator = new Authenticator(opts.auth ?? {})
  app.register(authPlugin, { authenticator })
  if (opts.pressure !== undefined) app.register(pressurePlugin, opts.pressure)
  app.register(swaggerPlugin, { version, now })
  app.register(observabilityPlugin, { observability, service, ...(opts.reconciliations === undefined ? {} : { reconciliations: opts.reconciliations }) })

  app.register(rootRoutes, { service, now, version })
  app.register(metricsRoutes, { service, now })
  app.register(dataRoutes, { service, now })
  app.register(entityRoutes, { service, now })
  app.register(reconciliationRoutes, { service, now, ...(opts.reconciliations === undefined ? {} : { reconciliations: opts.reconciliations }) })
  const anomalies = opts.anomalies === undefined ? {} : { anomalies: opts.anomalies }
  registerAnomalyMetrics(observability.registry, opts.anomalies)
  app.register(anomalyRoutes, { service, now, ...anomalies })
  app.register(healthRoutes, { service, now })
  app.register(odataRoutes, { service, now, ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
    ...(opts.skiptokenKey === undefined ? {} : { skiptokenKey: opts.skiptokenKey }), ...anomalies })
  const authGuard = new GraphqlGuard(authenticator)
  app.register(pagesPlugin, { authRequired: authenticator.enabled })
  app.register(graphqlPlugin, {
    service, now, authGuard, ...opts.graphql, ...anomalies, ...(opts.windowChanges === undefined ? {} : { windowChanges: opts.windowChanges })
  })

  return app
}
