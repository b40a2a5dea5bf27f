// GET /v1/entities: the most frequent entities of enriched events' text over a range, from gold (src/merger/entities.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { DEFAULT_ENTITIES_LIMIT, MAX_ENTITIES_LIMIT, TOP_ENTITIES_PER_ROW } from '../../model/index.js'
import { entitiesInput, parseEntitiesInput } from './entity-query.js'
import type { RouteOptions } from './options.js'
import { described, errorResponses, eventTypeFilter, regionFilter, ResultMeta } from './schemas.js'

export const EntitiesQueryString = Type.Object({
  from: Type.String({ description: 'Start of the range (inclusive): ISO-8601 with a zone, or epoch milliseconds. Floored to the hour' }),
  to: Type.Optional(Type.String({ description: 'End of the range (exclusive), same formats; default now. Ceiled to the hour' })),
  event_type: Type.Optional(eventTypeFilter),
  region: Type.Optional(regionFilter),
  limit: Type.Optional(Type.String({
    description: `How many entities to return: an integer from 1 to ${MAX_ENTITIES_LIMIT}`, default: String(DEFAULT_ENTITIES_LIMIT), examples: ['10']
  }))
}, { additionalProperties: false })

export const Entities = Type.Object({
  entities: Type.Array(Type.Object({
    entity: Type.String({ description: 'a named entity, as the enricher found it' }),
    n: Type.Integer({ minimum: 1, description: 'how often it was named in the hours and groups asked' })
  }, { additionalProperties: false }), { description: 'the most frequent first, ties by name' }),
  meta: ResultMeta
}, { additionalProperties: false })

const entityRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { service, now }) => {
  app.get('/v1/entities', {
    schema: {
      operationId: 'getEntities',
      summary: 'The most frequent entities over a time range, from the batch layer',
      description: `The named entities of enriched events' text, summed over the hours of [from, to) and the groups the ` +
        `filters keep. Gold keeps the ${TOP_ENTITIES_PER_ROW} most frequent of each hour and (event_type, region) group, so ` +
        'an entity outside a group\'s top of an hour is not counted there. Entities exist only in gold: the part ' +
        'after the batch boundary is a `speed_no_entities` gap in `meta`; gold written before entities were kept has none.',
      tags: ['data'],
      querystring: EntitiesQueryString,
      response: { 200: described(Entities, 'The top entities and where they came from'), ...errorResponses(400) }
    }
  }, async (request) => service.entities(parseEntitiesInput(entitiesInput(request.query), service.limits, now())))
}

export default entityRoutes
