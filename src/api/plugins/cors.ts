// CORS for browser dashboards: only the configured origins (none by default: no CORS headers, so a
// browser on another origin cannot read an answer). Preflights allow what a dashboard sends: GET and
// POST (GraphQL) with credentials in Authorization or X-API-Key, and a JSON Content-Type.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface CorsPluginOptions {
  /** allowed origins (scheme://host[:port]); `*` allows any; empty: CORS off */
  origins: readonly string[]
}

/** what a preflight allows */
export const CORS_METHODS = ['GET', 'HEAD', 'POST']
export const CORS_HEADERS = ['Authorization', 'X-API-Key', 'Content-Type']
/** how long a browser may cache a preflight, seconds */
const PREFLIGHT_MAX_AGE_S = 600

async function corsPlugin (app: FastifyInstance, opts: CorsPluginOptions): Promise<void> {
  if (opts.origins.length === 0) return
  const any = opts.origins.includes('*')
  await app.register(cors, {
    origin: any ? '*' : [...opts.origins],
    methods: CORS_METHODS,
    allowedHeaders: CORS_HEADERS,
    exposedHeaders: ['Retry-After', 'WWW-Authenticate'],
    maxAge: PREFLIGHT_MAX_AGE_S,
    // the API answers every path; a preflight to any of them is answered here, 204
    strictPreflight: true
  })
}

export default fp(corsPlugin, { name: 'hourglass-cors', fastify: '5.x' })
