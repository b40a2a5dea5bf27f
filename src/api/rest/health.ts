// GET /healthz (liveness: the process answers, from the moment it listens, start-up included) and
// GET /readyz (readiness: the data layers are built and up; else 503 with what is missing).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../model/index.js'
import type { Readiness as ReadinessValue } from '../../merger/types.js'
import type { RouteOptions } from './options.js'
import { described, errorResponses, Health, NoQueryString, Readiness } from './schemas.js'

const healthRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { service }) => {
  app.get('/healthz', {
    schema: {
      operationId: 'getHealth',
      summary: 'Liveness',
      description: 'Always 200 while the process serves requests, from its first second (start-up included); query parameters are ignored.',
      tags: ['health'],
      response: { 200: described(Health, 'The process is alive'), ...errorResponses() }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness',
      description: '200 when the service can answer queries; 503 HG_ERR_NOT_READY with `Retry-After` and the reasons in the message ' +
        'while it cannot: the start-up stage under way (`starting: seeding history`, `building gold`, `replaying bronze`, …), ' +
        'a speed layer that has not started consuming, a Kafka consumer group that reaches no broker, or a speed store that does not answer (since when).',
      tags: ['health'],
      querystring: NoQueryString,
      response: { 200: described(Readiness, 'Ready to answer queries'), ...errorResponses(400, 503) }
    }
  }, async (request) => {
    let readiness: ReadinessValue
    try {
      readiness = await service.readiness()
    } catch (err) {
      request.log.error({ err }, 'readiness check failed')
      throw new errors.HG_ERR_NOT_READY('the readiness check failed')
    }
    if (!readiness.ready) throw new errors.HG_ERR_NOT_READY(readiness.reasons.join('; ') || 'unknown')
    return readiness
  })
}

export default healthRoutes
