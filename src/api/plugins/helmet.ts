// Security headers (@fastify/helmet) on every answer. The Content-Security-Policy allows local
// assets only ('self'), which is what Swagger UI at /docs serves (@fastify/swagger-ui ships its
// files); inline styles are allowed because Swagger UI and GraphiQL set style attributes.
// GraphiQL (/graphiql, mercurius) loads React and GraphiQL from unpkg.com today, so its pages get a
// policy that adds that one host and nothing else. HSTS and upgrade-insecure-requests only with TLS:
// over plain HTTP they would send a browser to an HTTPS port nothing listens on.
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface HelmetPluginOptions {
  /** the server speaks HTTPS itself */
  tls: boolean
}

/** where mercurius's GraphiQL page loads its scripts and styles from */
export const GRAPHIQL_CDN = 'https://unpkg.com'

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

type Directives = Record<string, string[]>

/** The policy text of `directives` (camelCase names), as helmet writes it. */
function policy (directives: Directives, tls: boolean): string {
  const parts = Object.entries(directives).map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} ${values.join(' ')}`)
  if (tls) parts.push('upgrade-insecure-requests')
  return parts.join(';')
}

/** GraphiQL's page, its scripts and its service worker (which fetches the CDN files into its cache). */
export function graphiqlPolicy (tls: boolean): string {
  const cdn = (values: string[]): string[] => [...values, GRAPHIQL_CDN]
  return policy({
    ...BASE_DIRECTIVES,
    scriptSrc: cdn(BASE_DIRECTIVES.scriptSrc),
    styleSrc: cdn(BASE_DIRECTIVES.styleSrc),
    fontSrc: cdn(BASE_DIRECTIVES.fontSrc),
    connectSrc: cdn(BASE_DIRECTIVES.connectSrc)
  }, tls)
}

async function helmetPlugin (app: FastifyInstance, opts: HelmetPluginOptions): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { ...BASE_DIRECTIVES, upgradeInsecureRequests: opts.tls ? [] : null } },
    strictTransportSecurity: opts.tls ? { maxAge: 15_552_000, includeSubDomains: true } : false,
    // the API's JSON is read by dashboards on other origins (CORS decides who); helmet's default would block it
    crossOriginResourcePolicy: { policy: 'cross-origin' }
  })
  const graphiql = graphiqlPolicy(opts.tls)
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/graphiql' || request.url.startsWith('/graphiql/') || request.url.startsWith('/graphiql?')) {
      reply.header('content-security-policy', graphiql)
    }
  })
}

export default fp(helmetPlugin, { name: 'hourglass-helmet', fastify: '5.x' })
