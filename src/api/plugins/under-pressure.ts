// Overload: while the event loop lags or the heap is nearly full, a new request is refused at once
// with 503 HG_ERR_OVERLOADED and Retry-After, in its API's error shape (the error goes to the
// route's error handler), rather than queued behind the work that overloads the process.
// @fastify/under-pressure samples both; the delay is the mean over the sample interval (5 s), so
// one long task is not overload, a loop that lags throughout is. The probes and the Prometheus
// scrape (cheap, and what shows the overload) are never refused.
import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../../model/index.js'
import { RETRY_AFTER_S } from './not-ready.js'

export interface PressureOptions {
  /** refuse while the mean event-loop delay is above this, ms (0: never) */
  maxEventLoopDelayMs: number
  /** refuse while the used heap is above this share of V8's heap limit (0: never) */
  maxHeapShare: number
  /** how often the delay and the heap are sampled, ms (the delay is the mean over this interval) */
  sampleIntervalMs?: number // 5000
}

/** routes that answer however loaded the process is */
export const EXEMPT_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])

async function pressurePlugin (app: FastifyInstance, opts: PressureOptions): Promise<void> {
  if (opts.maxEventLoopDelayMs <= 0 && opts.maxHeapShare <= 0) return
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxHeapUsedBytes: Math.round(opts.maxHeapShare * getHeapStatistics().heap_size_limit),
    sampleInterval: opts.sampleIntervalMs ?? 5000,
    retryAfter: RETRY_AFTER_S,
    pressureHandler: async (request: FastifyRequest, _reply: unknown, type: string, value: number | undefined) => {
      if (EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) return // Retry-After: not-ready.ts, on every 503
      // a loop blocked for a whole sample interval has no samples: the delay is then Infinity
      const delay = Number.isFinite(value) ? `${Math.round(value ?? 0)} ms` : 'the whole sample interval'
      const what = type === 'heapUsedBytes' ? `heap ${Math.round((value ?? 0) / 2 ** 20)} MiB used` : `event-loop delay ${delay}`
      throw new errors.HG_ERR_OVERLOADED(what)
    }
  })
}

export default fp(pressurePlugin, { name: 'hourglass-under-pressure' })
