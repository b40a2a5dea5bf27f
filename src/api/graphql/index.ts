// GraphQL at /graphql (mercurius): queries over GET and POST, `subscription windowUpdated` over
// WebSocket on the same path (graphql-transport-ws, or the older graphql-ws), GraphiQL at
// /graphiql. Encapsulated: mercurius, its error handler and its hooks apply to these routes only,
// and the routes stay out of the OpenAPI document (the SDL is checked in beside it instead).
// Limits: depth and cost (limits.ts), a longest document (tokens) and a body limit of its own,
// since the REST routes need no body at all.
import type { FastifyPluginAsync } from 'fastify'
import { getOperationAST, validate } from 'graphql'
import mercurius, { type MercuriusContext } from 'mercurius'
import type { MetricsService, WindowChanges } from '../../merger/types.js'
import { errors } from '../../model/index.js'
import type { GraphqlGuard } from '../auth/index.js'
import { codedGraphQLError, formatGraphQLErrors, toCodedGraphQLError } from '../errors.js'
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_INTROSPECTION_DEPTH, defaultMaxCost, depthLimitRule, operationCost } from './limits.js'
import { type GraphqlDeps, resolvers } from './resolvers.js'
import { SDL } from './schema.js'
import { checkTokens, documentRules, RequiredArgumentsRule } from './validation.js'
import { DEFAULT_UPDATE_INTERVAL_MS } from './window-updates.js'

export { SDL } from './schema.js'
export type { GraphqlDeps } from './resolvers.js'

export const GRAPHQL_PATH = '/graphql'
/** longest GraphQL request body, bytes */
export const GRAPHQL_BODY_LIMIT_BYTES = 32 * 1024
/** most tokens in one document (parsing stops there) */
export const GRAPHQL_MAX_TOKENS = 4000

export interface GraphqlPluginOptions {
  service: MetricsService
  now: () => number
  /** the pipeline's window changes, for windowUpdated; without them it answers HG_ERR_NOT_READY */
  windowChanges?: WindowChanges
  /** least time between two updates to one subscriber, ms */
  updateIntervalMs?: number // 250 ms: at most four per second
  maxDepth?: number // 6
  maxIntrospectionDepth?: number // 16
  /** most cost per operation (limits.ts); default defaultMaxCost(the service's maxBuckets) */
  maxCost?: number
  /** field scopes, subscription authentication and its per-key cap (src/api/auth/graphql-guard.ts); absent: none */
  authGuard?: GraphqlGuard
}

/** operationName of the request, when it gave one (GET query string or POST body) */
function operationNameOf (context: MercuriusContext): string | undefined {
  const request = context.reply?.request
  const from = (request?.body ?? request?.query) as { operationName?: unknown } | undefined
  return typeof from?.operationName === 'string' ? from.operationName : undefined
}

const graphqlPlugin: FastifyPluginAsync<GraphqlPluginOptions> = async (app, opts) => {
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true }
  })

  const deps: GraphqlDeps = {
    service: opts.service,
    now: opts.now,
    windowChanges: opts.windowChanges,
    updateIntervalMs: opts.updateIntervalMs ?? DEFAULT_UPDATE_INTERVAL_MS,
    log: app.log
  }
  const maxCost = opts.maxCost ?? defaultMaxCost(opts.service.limits.maxBuckets)
  const depthRule = depthLimitRule(opts.maxDepth ?? DEFAULT_MAX_DEPTH, opts.maxIntrospectionDepth ?? DEFAULT_MAX_INTROSPECTION_DEPTH)
  const rules = documentRules(depthRule)

  await app.register(mercurius, {
    schema: SDL,
    resolvers,
    path: GRAPHQL_PATH,
    graphiql: true,
    // compile a query after its first run (graphql-jit): the per-field cost of graphql-js dominates
    // answers of a few hundred rows
    jit: 1,
    context: () => ({ hourglass: deps }),
    subscription: {
      context: () => ({ hourglass: deps }),
      // a client that names no subprotocol speaks the current one
      wsDefaultSubprotocol: 'graphql-transport-ws',
      ...(opts.authGuard === undefined ? {} : { onConnect: opts.authGuard.onConnect, onDisconnect: opts.authGuard.onDisconnect })
    },
    validationRules: [depthRule],
    errorFormatter: formatGraphQLErrors,
    graphql: { parseOptions: { maxTokens: GRAPHQL_MAX_TOKENS } },
    additionalRouteOptions: { bodyLimit: GRAPHQL_BODY_LIMIT_BYTES }
  })

  // HTTP: a document within the token limit. One with a missing argument is refused here with every
  // error our rules find (graphql-js's own rule would report that one without a code); any other is
  // validated by mercurius with graphql-js's rules and the depth rule.
  app.graphql.addHook('preParsing', async (_schema, source) => { checkTokens(source, GRAPHQL_MAX_TOKENS) })
  app.graphql.addHook('preValidation', async (schema, document) => {
    if (validate(schema, document, [RequiredArgumentsRule]).length === 0) return
    throw new AggregateError(validate(schema, document, rules), 'invalid GraphQL document')
  })

  // HTTP: the operation that will run is a query, and within the cost limit (variables applied).
  app.graphql.addHook('preExecution', async (_schema, document, context, variables) => {
    const name = operationNameOf(context)
    const operation = getOperationAST(document, name)
    if (operation?.operation === 'subscription') {
      const why = `subscriptions are served over WebSocket at ${GRAPHQL_PATH} (graphql-transport-ws)`
      throw codedGraphQLError(new errors.HG_ERR_GRAPHQL_VALIDATION(why), [operation])
    }
    const cost = operationCost(document, name, variables, opts.service.limits, deps.now())
    if (cost > maxCost) {
      const why = `it costs ${cost} (a field costs 1, and each metrics or live field adds its buckets × the fields under rows); ` +
        `at most ${maxCost} is allowed: ask for fewer buckets, fields or aliases, or split the request`
      throw codedGraphQLError(new errors.HG_ERR_GRAPHQL_TOO_COMPLEX(why), operation === null || operation === undefined ? undefined : [operation])
    }
  })

  if (opts.authGuard !== undefined) {
    app.graphql.addHook('preExecution', opts.authGuard.preExecution)
    app.graphql.addHook('preSubscriptionExecution', opts.authGuard.preSubscriptionExecution)
    app.graphql.addHook('onSubscriptionEnd', opts.authGuard.onSubscriptionEnd)
  }
  // WebSocket: mercurius does not validate subscription documents; do it here, with the same rules.
  app.graphql.addHook('preSubscriptionExecution', async (schema, document) => {
    const first = validate(schema, document, rules)[0]
    if (first !== undefined) throw toCodedGraphQLError(first, app.log).error
  })
}

export default graphqlPlugin
