// Authentication, scopes and rate limits for every route (fastify-plugin: it applies to the whole
// server, so register it before the routes). onRequest takes `api_key` out of the URL (no route
// sees it as an unknown parameter), finds the scope the route needs (scopes.ts) and, when
// authentication is on, answers 401 with WWW-Authenticate (Basic where a browser or Power BI
// should prompt, Bearer elsewhere) or 403 for a missing scope. @fastify/rate-limit then counts
// requests per principal (per IP when anonymous); public routes are not counted. An IP whose
// failed authentications reach a tenth of that budget is answered 429 before its credentials are checked.
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../../model/index.js'
import type { Authenticator } from './authenticator.js'
import { API_KEY_PARAMETER, credentialOf, takeQueryKey } from './credentials.js'
import type { Principal } from './principal.js'
import { scopeFor, wantsBasic } from './scopes.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** who made the request; null when anonymous (authentication off, or a public route) */
    principal: Principal | null
  }
}

export interface AuthPluginOptions {
  authenticator: Authenticator
}

const REALM = 'realm="hourglass"'

function pathOf (request: FastifyRequest): string {
  return request.routeOptions.url ?? (request.url.split('?')[0] ?? '/')
}

function isWebSocketUpgrade (request: FastifyRequest): boolean {
  return String(request.headers.upgrade ?? '').toLowerCase() === 'websocket'
}

function challenge (reply: FastifyReply, path: string, error?: string): void {
  const bearer = error === undefined ? `Bearer ${REALM}` : `Bearer ${REALM}, error="${error}"`
  reply.header('WWW-Authenticate', wantsBasic(path) ? `Basic ${REALM}, charset="UTF-8"` : bearer)
}

/** "1 minute", "30 seconds": a window as a message says it. */
function windowText (ms: number): string {
  const [n, unit] = ms % 60_000 === 0 ? [ms / 60_000, 'minute'] : [ms / 1000, 'second']
  return n === 1 ? unit : `${n} ${unit}s`
}

async function authPlugin (app: FastifyInstance, { authenticator }: AuthPluginOptions): Promise<void> {
  await authenticator.open()
  app.decorateRequest('principal', null)

  const max = authenticator.settings.rateLimitMax ?? 0
  const windowMs = authenticator.settings.rateLimitWindowMs ?? 60_000
  const limited = (most: string | number, after: string): Error => new errors.HG_ERR_RATE_LIMITED(most, windowText(windowMs), after)
  /** failed authentications per IP: a tenth of the request budget, so guessing costs no scrypt runs past it */
  const failMax = Math.max(1, Math.ceil(max / 10))
  let failures: ReturnType<FastifyInstance['createRateLimit']> | null = null
  if (max > 0) {
    await app.register(rateLimit, {
      max,
      timeWindow: windowMs,
      keyGenerator: (request) => request.principal?.id ?? `ip:${request.ip}`,
      allowList: (request) => scopeFor(pathOf(request)) === 'public',
      errorResponseBuilder: (_request, context) => limited(max, context.after)
    })
    failures = app.createRateLimit({ max: failMax, keyGenerator: (request) => `failed:${request.ip}`, allowList: () => false })
  }
  const refuseFailing = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const limit = await failures?.(request, { increment: false })
    if (limit === undefined || limit.isAllowed || limit.remaining > 0) return
    reply.header('Retry-After', limit.ttlInSeconds)
    throw limited(`${failMax} failed authentications`, `${limit.ttlInSeconds} s`)
  }

  app.addHook('onRequest', async (request, reply) => {
    const { url, key } = takeQueryKey(request.raw.url ?? '')
    if (key !== undefined) {
      request.raw.url = url
      delete (request.query as Record<string, unknown> | undefined)?.[API_KEY_PARAMETER]
    }
    if (!authenticator.enabled) return
    // a CORS preflight carries no credentials by definition (the CORS plugin answers it)
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) return
    const path = pathOf(request)
    const need = scopeFor(path)
    if (need === 'public') return
    const credential = credentialOf(request.headers, key)
    // a WebSocket client without credentials on the upgrade sends them in connection_init (graphql-guard.ts)
    if (credential === null && isWebSocketUpgrade(request)) return
    await refuseFailing(request, reply)
    const outcome = await authenticator.authenticate(credential)
    if (!outcome.ok) {
      await failures?.(request)
      challenge(reply, path, credential === null ? undefined : 'invalid_token')
      throw new errors.HG_ERR_UNAUTHENTICATED(outcome.why)
    }
    request.principal = outcome.principal
    if (!outcome.principal.scopes.has(need)) {
      if (!wantsBasic(path)) reply.header('WWW-Authenticate', `Bearer ${REALM}, error="insufficient_scope", scope="${need}"`)
      throw new errors.HG_ERR_FORBIDDEN(outcome.principal.name, need, `${request.method} ${path}`)
    }
  })

  // A WebSocket upgrade refused before @fastify/websocket saw it (401, 403) would keep its socket,
  // and with it the server's close, forever: an answered upgrade's socket is closed.
  app.addHook('onResponse', async (request) => {
    if (isWebSocketUpgrade(request)) request.raw.socket?.destroy()
  })
}

export default fp(authPlugin, { name: 'hourglass-auth', fastify: '5.x' })
