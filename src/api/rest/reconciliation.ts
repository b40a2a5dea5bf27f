// GET /v1/reconciliation: how far the speed layer drifted from the batch layer, per hour that gold
// published while the speed layer still held it (src/merger/reconcile.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { RECONCILIATION_KEEP } from '../../merger/reconciliation-log.js'
import type { Comparison, Reconciliation } from '../../merger/reconcile.js'
import type { ReconciliationSource } from '../../merger/types.js'
import { iso } from '../../model/index.js'
import type { RouteOptions } from './options.js'
import { parseLimit } from './parse-query.js'
import { described, errorResponses, ReconciliationQueryString, Reconciliations } from './schemas.js'

export const DEFAULT_RECONCILIATION_LIMIT = 24

export interface ReconciliationRouteOptions extends RouteOptions {
  /** absent: nothing is reconciled (the route answers an empty list) */
  reconciliations?: ReconciliationSource
}

/** Cents to currency units, as total_revenue is served. */
function comparison (c: Comparison) {
  return {
    speed_events: c.speed_events,
    batch_events: c.batch_events,
    events_diff: c.events_diff,
    events_relative_diff: c.events_relative_diff,
    speed_revenue: c.speed_revenue_cents / 100,
    batch_revenue: c.batch_revenue_cents / 100,
    revenue_diff: c.revenue_diff_cents / 100,
    revenue_relative_diff: c.revenue_relative_diff
  }
}

function present (r: Reconciliation) {
  return {
    hour: iso(r.hour),
    batch_version: r.batch_version,
    ...comparison(r),
    differing_groups: r.differing_groups.map((g) => ({ event_type: g.event_type, region: g.region, ...comparison(g) }))
  }
}

const reconciliationRoutes: FastifyPluginAsyncTypebox<ReconciliationRouteOptions> = async (app, { reconciliations }) => {
  app.get('/v1/reconciliation', {
    schema: {
      operationId: 'getReconciliation',
      summary: 'Speed layer against batch layer, per hour',
      description: 'When gold is published for an hour that the speed layer still holds whole (every minute of it, ' +
        'closed), the two layers\' event counts and revenue are compared; this lists the newest such hours, at most ' +
        `${RECONCILIATION_KEEP} (kept in memory since the process started). Differences are speed − batch. The batch ` +
        'layer is the reference; the speed layer may differ because of **late events** (past the allowed lateness: ' +
        'the speed layer leaves them to the batch, so batch > speed), **duplicates outside the dedup window** (the ' +
        'speed layer counts both copies, the batch once, so speed > batch), and **speed restarts** (a rebuilt speed ' +
        'layer may hold slightly more or less than the live one did). Hours the speed layer does not hold whole ' +
        '(it restarted during the hour, or had evicted part of it) are not comparable and are not listed.',
      tags: ['data'],
      querystring: ReconciliationQueryString,
      response: { 200: described(Reconciliations, 'The newest reconciled hours'), ...errorResponses(400) }
    }
  }, async (request) => {
    const limit = parseLimit(request.query.limit, RECONCILIATION_KEEP, DEFAULT_RECONCILIATION_LIMIT)
    return {
      reconciliations: (reconciliations?.latest(limit) ?? []).slice(0, limit).map(present),
      recorded: reconciliations?.recorded ?? 0
    }
  })
}

export default reconciliationRoutes
