// GET /v1/dimensions, /v1/quality and /v1/dead-letters: what the data holds and what was rejected.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { iso } from '../../model/index.js'
import type { RouteOptions } from './options.js'
import { MAX_DEAD_LETTER_LIMIT, parseLimit } from './parse-query.js'
import { DeadLetters, described, DeadLettersQueryString, Dimensions, errorResponses, NoQueryString, QualityReport } from './schemas.js'

const dataRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { service }) => {
  app.get('/v1/dimensions', {
    schema: {
      operationId: 'getDimensions',
      summary: 'Known event types and regions',
      description: 'Every event_type and region seen by the batch layer (gold) or held by the speed layer; the values ' +
        'that the `event_type` and `region` filters of /v1/metrics can match.',
      tags: ['data'],
      querystring: NoQueryString,
      response: { 200: described(Dimensions, 'Known dimension values'), ...errorResponses(400) }
    }
  }, async () => service.dimensions())

  app.get('/v1/quality', {
    schema: {
      operationId: 'getQuality',
      summary: 'Data-quality counters of the speed pipeline',
      description: 'Records received, valid, invalid (by reason), duplicates and late events since the process ' +
        'started, and the quality ratio valid / received.',
      tags: ['data'],
      querystring: NoQueryString,
      response: { 200: described(QualityReport, 'Data-quality counters'), ...errorResponses(400) }
    }
  }, async () => service.quality())

  app.get('/v1/dead-letters', {
    schema: {
      operationId: 'getDeadLetters',
      summary: 'The newest rejected records',
      description: `Records that failed validation, newest first, with the reason and the original record (at most ` +
        `${MAX_DEAD_LETTER_LIMIT} per request; embedded mode keeps a bounded list in memory).`,
      tags: ['data'],
      querystring: DeadLettersQueryString,
      response: { 200: described(DeadLetters, 'The newest dead letters'), ...errorResponses(400) }
    }
  }, async (request) => {
    const limit = parseLimit(request.query.limit)
    const items = service.deadLetters(limit).slice(0, limit)
    return { dead_letters: items.map((d) => ({ ...d, at: iso(d.at) })) }
  })
}

export default dataRoutes
