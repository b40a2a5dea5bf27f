// Security headers (@fastify/helmet) on every answer. The Content-Security-Policy allows local
// assets only ('self'), for every page: Swagger UI at /docs (@fastify/swagger-ui ships its files),
// the dashboard and GraphiQL (src/api/dashboard/, their libraries served from their npm packages);
// inline styles are allowed because Swagger UI, GraphiQL and uPlot set style attributes. HSTS and
// upgrade-insecure-requests only with TLS: over plain HTTP they would send a browser to an HTTPS
// port nothing listens on.
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface HelmetPluginOptions {
  /** the server speaks HTTPS itself */
  tls: boolean
}

const BASE_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  workerSrc: ["'self'"]
}

async function helmetPlugin (app: FastifyInstance, opts: HelmetPluginOptions): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { ...BASE_DIRECTIVES, upgradeInsecureRequests: opts.tls ? [] : null } },
    strictTransportSecurity: opts.tls ? { maxAge: 15_552_000, includeSubDomains: true } : false,
    // the API's JSON is read by dashboards on other origins (CORS decides who); helmet's default would block it
    crossOriginResourcePolicy: { policy: 'cross-origin' }
  })
}

export default fp(helmetPlugin, { name: 'hourglass-helmet', fastify: '5.x' })
