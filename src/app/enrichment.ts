// The enricher the settings name, and the speed layer's budgeted stage around it: its outcomes go to Prometheus, and an
// enricher's failure to the log (once a minute at most: a down service fails every batch).
import type { Observability } from '../api/observability.js'
import { createEnricher, EnrichStage } from '../enrich/index.js'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { HourglassEvent } from '../model/index.js'
import type { AppContext } from './context.js'

const FAILURE_LOG_EVERY_MS = 60_000

/**
 * The batch side's enrichment, run by the bronze sink before a flush writes: the events the speed layer left unenriched
 * (past its budget, the enricher failing, or bronze parsed them itself), with no budget; undefined with `none`.
 */
export function bronzeEnrichment (config: Config, parentLog?: Logger): ((events: HourglassEvent[]) => Promise<unknown>) | undefined {
  const enricher = createEnricher(config)
  if (enricher === null) return undefined
  const log = parentLog?.child({ component: 'enrich', layer: 'bronze' })
  const stage = new EnrichStage({
    enricher,
    budgetMs: Infinity,
    onOutcome: (o) => {
      if (o.error !== undefined || o.skipped.unavailable !== undefined) {
        log?.warn({ err: o.error, skipped: o.skipped, enricher: enricher.name }, 'enrichment failed: bronze keeps these events without sentiment')
      }
    }
  })
  return (events) => stage.enrich(events)
}

/** The speed layer's enrichment stage, or null with HOURGLASS_ENRICHER=none. */
export function speedEnrichment (ctx: AppContext, observability: Observability): EnrichStage | null {
  const enricher = createEnricher(ctx.config)
  if (enricher === null) return null
  const log = ctx.log.child({ component: 'enrich' })
  let loggedAt = -Infinity
  return new EnrichStage({
    enricher,
    budgetMs: ctx.config.enrichBudgetMs,
    onOutcome: (o) => {
      observability.observeEnrich(o.enriched, o.skipped)
      const failed = (o.skipped.error ?? 0) + (o.skipped.unavailable ?? 0)
      if (failed > 0 && ctx.now() - loggedAt >= FAILURE_LOG_EVERY_MS) {
        loggedAt = ctx.now()
        log.warn({ err: o.error, skipped: o.skipped, enricher: enricher.name }, 'enrichment failed: events pass unenriched')
      }
    }
  })
}
