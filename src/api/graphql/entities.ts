// GraphQL's topEntities: GET /v1/entities's arguments (the filter as the other queries take it) and answer. The SDL
// extends Query, so schema.ts stays as it is; the cost (limits.ts) counts limit × the fields under `entities`.
import type { GraphQLResolveInfo } from 'graphql'
import type { IResolvers } from 'mercurius'
import { DEFAULT_ENTITIES_LIMIT, type EntitiesResult, MAX_ENTITIES_LIMIT } from '../../model/index.js'
import { type EntitiesInput, parseEntitiesInput } from '../rest/entity-query.js'
import { selectedRowFields } from './budget.js'
import { coded, within } from './resolvers.js'

export const ENTITY_SDL = `
"An entity named in enriched events' text, and how often."
type EntityCount {
  entity: String!
  "How often it was named in the hours and groups asked."
  n: Long!
}

"The top entities of a range (GET /v1/entities)."
type EntitiesResult {
  "The most frequent first, ties by name."
  entities: [EntityCount!]!
  "Gold's part is in sources; the part after the boundary is a speed_no_entities gap."
  meta: Meta!
}

extend type Query {
  """
  The most frequent entities over the hours of [from, to) (aligned to whole hours) and the groups the filter keeps,
  from gold: the same as GET /v1/entities. limit: 1..${MAX_ENTITIES_LIMIT}, default ${DEFAULT_ENTITIES_LIMIT}.
  """
  topEntities(from: String!, to: String, filter: Filter, limit: Int): EntitiesResult!
}
`

export const entityResolvers: IResolvers = {
  Query: {
    topEntities: coded<EntitiesInput, unknown>((args, { service, now }, ctx, info) => {
      const q = parseEntitiesInput(args, service.limits, ctx.hgRequest?.now ?? now())
      const fields = (i: GraphQLResolveInfo): number => selectedRowFields(i, 'entities')
      return within<EntitiesResult>(ctx, info, 'topEntities ' + JSON.stringify(q), () => service.entities(q), (r) => r.entities, fields)
    })
  }
}
