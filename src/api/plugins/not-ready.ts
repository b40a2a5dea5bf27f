// Every 503 tells the client when to try again (Retry-After), whoever made it: a service still
// starting or whose source is down (HG_ERR_NOT_READY), in any of the three APIs.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** seconds a client waits before it asks again */
export const RETRY_AFTER_S = 5

async function notReadyPlugin (app: FastifyInstance): Promise<void> {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(RETRY_AFTER_S))
    return payload
  })
}

export default fp(notReadyPlugin, { name: 'hourglass-not-ready', fastify: '5.x' })
