// The browser pages: the dashboard at /dashboard and GraphiQL at /graphiql, each an HTML shell and
// the scripts and styles it loads (assets.ts), sent by @fastify/static. The shells hold no data and
// are public; every call they make for data carries the key the user entered (sessionStorage).
// Each page reads config.json beside it to know whether a key is needed at all (no key is asked for
// on a server without authentication). Browsers asking for / (Accept: text/html) are sent to
// /dashboard; JSON clients keep the index.
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { type Asset, dashboardAssets, graphiqlAssets } from './assets.js'

export const DASHBOARD_PATH = '/dashboard'
export const GRAPHIQL_PAGE_PATH = '/graphiql'

/** the shells and libraries change only with the package: browsers may keep them for an hour */
const CACHE_SECONDS = 3600

/** An onRequest hook: GET / from a browser (it accepts HTML) is redirected to the dashboard. */
export async function redirectBrowsers (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.method !== 'GET' || (request.url !== '/' && !request.url.startsWith('/?'))) return
  if (!/\btext\/html\b/.test(request.headers.accept ?? '')) return
  await reply.redirect(DASHBOARD_PATH, 302)
}

export interface PagesOptions {
  /** the server asks for credentials (API keys or JWT configured) */
  authRequired: boolean
}

const pagesPlugin: FastifyPluginAsync<PagesOptions> = async (app, { authRequired }) => {
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true }
  })
  const pages: Array<[string, Map<string, Asset>]> = [[DASHBOARD_PATH, dashboardAssets()], [GRAPHIQL_PAGE_PATH, graphiqlAssets()]]
  const roots = [...new Set(pages.flatMap(([, assets]) => [...assets.values()].map((a) => a.dir)))]
  await app.register(fastifyStatic, { root: roots, serve: false, maxAge: CACHE_SECONDS * 1000 })

  for (const [prefix, assets] of pages) {
    const send = (name: string, reply: FastifyReply): FastifyReply | undefined => {
      const asset = assets.get(name)
      if (asset === undefined) return undefined
      return reply.sendFile(asset.file, asset.dir)
    }
    app.get(prefix, async (_request, reply) => send('', reply))
    app.get(`${prefix}/config.json`, async () => ({ auth_required: authRequired }))
    app.get<{ Params: { file: string } }>(`${prefix}/:file`, async (request, reply) => {
      const sent = send(request.params.file, reply)
      if (sent === undefined) return reply.callNotFound()
      return sent
    })
  }
}

export default pagesPlugin
