// GraphQL at /graphql (mercurius): queries over GET and POST, `subscription windowUpdated` over
// WebSocket on the same path (graphql-transport-ws, or the older graphql-ws); GraphiQL is served from
// the package by src/api/dashboard/ (mercurius's own loads it from a CDN). Encapsulated: mercurius, its error handler and its hooks apply to these routes only,
// and the routes stay out of the OpenAPI document (the SDL is checked in beside it instead).
// Limits: a body limit of its own (the REST routes need no body at all), a request's shape, a
// longest document (tokens), depth and cost (limits.ts), and per request a budget of bytes and
// time with one read per distinct query (budget.ts).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { getOperationAST, Kind, parse, Source, validate } from 'graphql'
import { LRUCache } from 'lru-cache'
import mercurius, { type IResolvers, type MercuriusContext } from 'mercurius'
import { defaultValue } from '../../config.js'
import type { Dimensions, MetricsService, WindowChanges } from '../../merger/types.js'
import { errors } from '../../model/index.js'
import type { GraphqlGuard } from '../auth/index.js'
import { codedGraphQLError, formatGraphQLErrors, toCodedGraphQLError } from '../errors.js'
import { type BudgetLimits, BYTES_PER_CELL, RequestBudget } from './budget.js'
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_INTROSPECTION_DEPTH, defaultMaxCost, depthLimitRule, operationCost } from './limits.js'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import { ANOMALY_SDL, anomalyResolvers } from './anomalies.js'
import { ENTITY_SDL, entityResolvers } from './entities.js'
import { type GraphqlDeps, resolvers } from './resolvers.js'
import { SDL } from './schema.js'
import { checkTokens, documentRules, RequiredArgumentsRule } from './validation.js'
import { DEFAULT_UPDATE_INTERVAL_MS } from './window-updates.js'

export { SDL } from './schema.js'
export type { GraphqlDeps } from './resolvers.js'

export const GRAPHQL_PATH = '/graphql'
/** GraphQL's own limits; src/config.ts holds the settings, these stand in for a server built without them (tests) */
export interface GraphqlLimits extends BudgetLimits {
  /** longest request body, bytes */
  bodyLimit: number
}
/** for a server built without settings (tests, the document writers): the settings' own defaults */
const FALLBACK_LIMITS: GraphqlLimits = {
  bodyLimit: defaultValue('graphqlBodyLimit'),
  maxResponseBytes: defaultValue('graphqlMaxResponseBytes'),
  timeoutMs: defaultValue('graphqlTimeoutMs')
}
/** most tokens in one document (parsing stops there) */
export const GRAPHQL_MAX_TOKENS = 4000

/** query texts whose checks before parsing are kept (a dashboard repeats a few) */
const CHECKED_TEXTS = 1000
/** how long the dimensions' value counts (for the groups of the cost) are kept, ms */
const DIMENSIONS_TTL_MS = 10_000

export interface GraphqlPluginOptions extends Partial<GraphqlLimits> {
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
  /** the anomaly log, for `anomalies` and `anomalyDetected` (absent: none) */
  anomalies?: AnomalySource
  /** field scopes, subscription authentication and its per-key cap (src/api/auth/graphql-guard.ts); absent: none */
  authGuard?: GraphqlGuard
}

/** operationName of the request, when it gave one (GET query string or POST body) */
function operationNameOf (context: MercuriusContext): string | undefined {
  const request = context.reply?.request
  const from = (request?.body ?? request?.query) as { operationName?: unknown } | undefined
  return typeof from?.operationName === 'string' ? from.operationName : undefined
}

/** A request mercurius cannot read as one GraphQL request: refused before it gets there. */
function checkShape (request: FastifyRequest): void {
  if (request.method !== 'POST') return
  const body = request.body
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new errors.HG_ERR_GRAPHQL_VALIDATION('the body must be a JSON object { query, variables?, operationName? }')
  }
  const { query, operationName } = body as { query?: unknown, operationName?: unknown }
  if (query !== undefined && typeof query !== 'string') throw new errors.HG_ERR_GRAPHQL_VALIDATION(`"query" must be a string, not ${typeof query}`)
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    throw new errors.HG_ERR_GRAPHQL_VALIDATION(`"operationName" must be a string, not ${typeof operationName}`)
  }
}

/** The operation a GET request would run, named or the only one; null when there is none (HG_ERR_GRAPHQL_VALIDATION). */
function getOperationError (source: string, name: string | undefined, maxTokens: number): Error | null {
  let document
  try {
    document = parse(source, { maxTokens })
  } catch {
    return null // mercurius reports the syntax error
  }
  if (getOperationAST(document, name) !== null) return null
  const why = name === undefined ? 'the document has several operations: name one with operationName' : `the document has no operation named "${name}"`
  return codedGraphQLError(new errors.HG_ERR_GRAPHQL_VALIDATION(why))
}

/** A check of a query text, its outcome kept (least recently used out first): throws what the check threw or returned. */
function checkedTexts (): (key: string, check: () => void | Error | null) => void {
  const kept = new LRUCache<string, { error: Error | null }>({ max: CHECKED_TEXTS })
  return (key, check) => {
    let outcome = kept.get(key)
    if (outcome === undefined) {
      try {
        outcome = { error: check() ?? null }
      } catch (err) {
        outcome = { error: err as Error }
      }
      kept.set(key, outcome)
    }
    if (outcome.error !== null) throw outcome.error
  }
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
    log: app.log,
    anomalies: opts.anomalies
  }
  const limits: GraphqlLimits = {
    bodyLimit: opts.bodyLimit ?? FALLBACK_LIMITS.bodyLimit,
    maxResponseBytes: opts.maxResponseBytes ?? FALLBACK_LIMITS.maxResponseBytes,
    timeoutMs: opts.timeoutMs ?? FALLBACK_LIMITS.timeoutMs
  }
  const maxCost = opts.maxCost ?? defaultMaxCost(opts.service.limits.maxBuckets)
  const depthRule = depthLimitRule(opts.maxDepth ?? DEFAULT_MAX_DEPTH, opts.maxIntrospectionDepth ?? DEFAULT_MAX_INTROSPECTION_DEPTH)
  const rules = documentRules(depthRule)

  await app.register(mercurius, {
    schema: SDL + ANOMALY_SDL + ENTITY_SDL,
    resolvers: {
      ...resolvers,
      Query: { ...resolvers.Query as object, ...anomalyResolvers.Query as object, ...entityResolvers.Query as object },
      Subscription: { ...resolvers.Subscription as object, ...anomalyResolvers.Subscription as object }
    } as IResolvers,
    path: GRAPHQL_PATH,
    graphiql: false,
    // compile a query after its first run (graphql-jit): the per-field cost of graphql-js dominates
    // answers of a few hundred rows
    jit: 1,
    context: () => ({ hourglass: deps, hgRequest: { budget: new RequestBudget(limits), now: deps.now() } }),
    subscription: {
      context: () => ({ hourglass: deps }),
      // a client that names no subprotocol speaks the current one
      wsDefaultSubprotocol: 'graphql-transport-ws',
      ...(opts.authGuard === undefined ? {} : { onConnect: opts.authGuard.onConnect, onDisconnect: opts.authGuard.onDisconnect })
    },
    validationRules: [depthRule],
    errorFormatter: formatGraphQLErrors,
    graphql: { parseOptions: { maxTokens: GRAPHQL_MAX_TOKENS } },
    additionalRouteOptions: { bodyLimit: limits.bodyLimit }
  })
  app.addHook('preValidation', async (request) => { checkShape(request) })

  // per query text: its token check; for GET, whether it names an operation that exists
  const tokensChecked = checkedTexts()
  const operationsChecked = checkedTexts()
  // how many values each dimension holds, for the groups of the cost; refreshed every 10 s
  const dimensions = new LRUCache<'all', Dimensions>({ max: 1, ttl: DIMENSIONS_TTL_MS, fetchMethod: () => opts.service.dimensions() })
  const valueCounts = async (): Promise<(dimension: string) => number> => {
    const d = await dimensions.fetch('all').catch(() => undefined)
    if (d === undefined) return () => 1
    return (dimension) => dimension === 'event_type' ? d.event_types.length : dimension === 'region' ? d.regions.length : 1
  }

  // HTTP: a document within the token limit. One with a missing argument is refused here with every
  // error our rules find (graphql-js's own rule would report that one without a code); any other is
  // validated by mercurius with graphql-js's rules and the depth rule.
  app.graphql.addHook('preParsing', async (_schema, source, context) => {
    tokensChecked(source, () => { checkTokens(source, GRAPHQL_MAX_TOKENS) })
    // mercurius looks up a GET request's operation without checking it exists
    if (context.reply?.request.method === 'GET') {
      const name = operationNameOf(context)
      operationsChecked(`${name ?? ''}\n${source}`, () => getOperationError(source, name, GRAPHQL_MAX_TOKENS))
    }
  })
  app.graphql.addHook('preValidation', async (schema, document) => {
    // a query that does not parse as GraphQL is read by mercurius as JSON, taken for an AST ("0",
    // "\"x\"", a forged tree): only a document graphql-js parsed from text (its Source) goes further
    if (document?.kind !== Kind.DOCUMENT || !(document.loc?.source instanceof Source)) {
      throw codedGraphQLError(new errors.HG_ERR_GRAPHQL_VALIDATION('the query is not a GraphQL document'))
    }
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
    const groupBy = document.loc?.source.body.includes('groupBy') ?? true
    const cost = operationCost(document, name, variables, opts.service.limits, deps.now(), groupBy ? await valueCounts() : undefined)
    const at = operation === null || operation === undefined ? undefined : [operation]
    if (cost > maxCost) {
      const why = `it costs ${cost} (a field costs 1, each metrics or live field adds its buckets × groups × the fields under rows, ` +
        'each topEntities field its limit × the fields under entities); ' +
        `at most ${maxCost} is allowed: ask for fewer buckets, fields or aliases, or split the request`
      throw codedGraphQLError(new errors.HG_ERR_GRAPHQL_TOO_COMPLEX(why), at)
    }
    // the cost counts the answer's values: its bytes, estimated the way the budget counts them
    if (cost * BYTES_PER_CELL > limits.maxResponseBytes) {
      throw codedGraphQLError(new errors.HG_ERR_RESPONSE_TOO_LARGE(limits.maxResponseBytes, 'one request'), at)
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
