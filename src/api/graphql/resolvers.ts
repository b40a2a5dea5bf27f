// Resolvers: the typed arguments go to the query parser's typed entry
// (src/api/rest/parse-query.ts), which REST's querystrings go through too, then to the same
// MetricsService, so GraphQL and REST give the same answers (the batch part from the same cache)
// and the same error codes. The dependencies reach the resolvers in the typed context (module
// augmentation), with the request's budget (budget.ts): aliases of one query share one read.
import type { FastifyBaseLogger } from 'fastify'
import { GraphQLError, type GraphQLResolveInfo, GraphQLScalarType, Kind } from 'graphql'
import type { IResolvers, MercuriusContext } from 'mercurius'
import type { AnomalySource } from '../../merger/anomaly-log.js'
import type { MetricsService, QualityReport, WindowChanges } from '../../merger/types.js'
import { errors, INVALID_REASONS, type MetricsResult } from '../../model/index.js'
import { type LiveInput, type MetricsInput, parseFilters, parseGroupBy, parseLiveInput, parseMetricsInput } from '../rest/parse-query.js'
import { resolverError } from '../errors.js'
import { type RequestBudget, selectedRowFields } from './budget.js'
import { LONG_DESCRIPTION } from './schema.js'
import { codedEnums } from './validation.js'
import { WindowReader, type WindowUpdate, WindowUpdateStream } from './window-updates.js'

/** What the resolvers need, in every request's and every subscription's context. */
export interface GraphqlDeps {
  service: MetricsService
  now: () => number
  /** the pipeline's window changes; without them windowUpdated answers HG_ERR_NOT_READY */
  windowChanges: WindowChanges | undefined
  updateIntervalMs: number
  log: FastifyBaseLogger
  /** the anomaly log, for `anomalies` and `anomalyDetected` (absent: none) */
  anomalies?: AnomalySource | undefined
}

/** windowUpdated's arguments: a live query's shape, without `last` and `metrics`. */
type WindowUpdatedArgs = Pick<LiveInput, 'groupBy' | 'filter'>

declare module 'mercurius' {
  interface MercuriusContext {
    hourglass: GraphqlDeps
    /** the request's budget and its clock (HTTP requests; a subscription has none) */
    hgRequest?: { budget: RequestBudget, now: number }
  }
}

/** A resolver whose errors carry their catalogue code (and hide what is not ours to show). */
export function coded<A, R> (fn: (args: A, deps: GraphqlDeps, ctx: MercuriusContext, info: GraphQLResolveInfo) => R | Promise<R>) {
  return async (_root: unknown, args: A, ctx: MercuriusContext, info: GraphQLResolveInfo): Promise<R> => {
    try {
      return await fn(args, ctx.hourglass, ctx, info)
    } catch (err) {
      throw resolverError(err, ctx.hourglass.log)
    }
  }
}

function asLong (v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v
  throw new GraphQLError(`Long cannot represent ${String(v)}: an integer up to 2^53 is expected`)
}

export const Long = new GraphQLScalarType({
  name: 'Long',
  description: LONG_DESCRIPTION,
  serialize: asLong,
  parseValue: asLong,
  parseLiteral (ast) {
    if (ast.kind === Kind.INT) return asLong(Number(ast.value))
    throw new GraphQLError(`Long cannot represent a ${ast.kind}`)
  }
})

function quality (q: QualityReport) {
  return {
    ...q,
    invalid_by_reason: INVALID_REASONS.filter((r) => q.invalid_by_reason[r] !== undefined)
      .map((reason) => ({ reason, count: q.invalid_by_reason[reason] as number }))
  }
}

/**
 * The answer of `read`, shared by the request's fields that ask the same `key`, and counted into its budget: its
 * rows (`rowsOf`) × the fields the client selects for each row (`fieldsOf`; default: under `rows`).
 */
export async function within<T = MetricsResult> (
  ctx: MercuriusContext, info: GraphQLResolveInfo, key: string, read: () => Promise<T>,
  rowsOf: (result: T) => readonly unknown[] = (r) => (r as MetricsResult).rows, fieldsOf: (info: GraphQLResolveInfo) => number = selectedRowFields
): Promise<T> {
  if (ctx.hgRequest === undefined) return await read()
  const result = await ctx.hgRequest.budget.read(key, read)
  const budget = ctx.hgRequest.budget
  budget.spend(rowsOf(result).length, fieldsOf(info))
  // the aliases sharing a read complete one per turn of the event loop, not all in one go
  if (budget.answers > 1) await budget.turn()
  return result
}

export const resolvers: IResolvers = {
  Long,
  ...codedEnums,
  Query: {
    metrics: coded<MetricsInput, unknown>((args, { service, now }, ctx, info) => {
      const q = parseMetricsInput(args, service.limits, ctx.hgRequest?.now ?? now())
      return within(ctx, info, 'metrics ' + JSON.stringify(q), () => service.query(q))
    }),
    live: coded<LiveInput, unknown>((args, { service }, ctx, info) => {
      const q = parseLiveInput(args, service.limits)
      return within(ctx, info, 'live ' + JSON.stringify(q), () => service.live(q))
    }),
    dimensions: coded<Record<string, never>, unknown>((_args, { service }) => service.dimensions()),
    quality: coded<Record<string, never>, unknown>((_args, { service }) => quality(service.quality()))
  },
  Subscription: {
    windowUpdated: {
      subscribe: coded<WindowUpdatedArgs, AsyncIterableIterator<{ windowUpdated: WindowUpdate }>>((args, deps) => {
        const { service, windowChanges, now, updateIntervalMs, log } = deps
        // the arguments first: a bad one is the client's error, whatever this process can push
        const groupBy = parseGroupBy(args.groupBy)
        const filters = parseFilters(args.filter, service.limits)
        if (windowChanges === undefined) throw new errors.HG_ERR_NOT_READY('this process does not publish window changes (windowUpdated)')
        const reader = new WindowReader(service, { groupBy, filters }, now)
        return new WindowUpdateStream({
          changes: windowChanges,
          intervalMs: updateIntervalMs,
          read: async (windows) => {
            const update = await reader.read(windows)
            return update === null ? null : { windowUpdated: update }
          },
          onError: (err) => { log.warn({ err }, 'windowUpdated: reading the changed windows failed; retrying') }
        })
      })
    }
  }
}
