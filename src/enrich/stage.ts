// The enrichment stage: sets `enrichment` on the events that carry text, in chunks, within a time budget per call.
// It never waits past the budget, whatever the enricher does (a slow one is abandoned through its signal): the events
// not enriched by then pass as they are and are counted by reason. The enricher failing or refusing (breaker open)
// leaves the rest of the call unenriched too. No I/O of its own.
import type { EnrichSkipReason, HourglassEvent } from '../model/event.js'
import { type Enricher, EnricherUnavailableError } from './enricher.js'

export interface EnrichOutcome {
  /** events that got an enrichment */
  enriched: number
  /** events with text left without one, by reason */
  skipped: Partial<Record<EnrichSkipReason, number>>
  /** the enricher's error, when it failed */
  error?: unknown
}

export interface EnrichStageOptions {
  enricher: Enricher
  /** the most one call may wait for the enricher (ms); Infinity: no limit */
  budgetMs: number
  /** texts per enricher call (default 256) */
  chunk?: number
  /** told of every call's outcome that had events with text */
  onOutcome?: (outcome: EnrichOutcome) => void
}

const CHUNK = 256

export class EnrichStage {
  readonly #enricher: Enricher
  readonly #budgetMs: number
  readonly #chunk: number
  readonly #onOutcome: EnrichStageOptions['onOutcome']

  constructor (o: EnrichStageOptions) {
    this.#enricher = o.enricher
    this.#budgetMs = o.budgetMs
    this.#chunk = o.chunk ?? CHUNK
    this.#onOutcome = o.onOutcome
  }

  /** Enrich the events with text and no enrichment yet, in place. Never rejects. */
  async enrich (events: readonly HourglassEvent[]): Promise<EnrichOutcome> {
    const todo = events.filter((e) => e.text !== undefined && e.enrichment === undefined)
    const outcome: EnrichOutcome = { enriched: 0, skipped: {} }
    if (todo.length === 0) return outcome
    const controller = new AbortController()
    const { signal } = controller
    const budgetSpent = new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
    budgetSpent.catch(() => undefined)
    const timer = Number.isFinite(this.#budgetMs) ? setTimeout(() => controller.abort(new Error('the enrichment budget is spent')), this.#budgetMs) : undefined
    let at = 0
    try {
      for (; at < todo.length; at += this.#chunk) {
        if (signal.aborted) throw signal.reason
        const part = todo.slice(at, at + this.#chunk)
        const call = this.#enricher.enrich(part.map((e) => e.text as string), { signal })
        call.catch(() => undefined) // abandoned when the budget runs out first
        const results = await Promise.race([call, budgetSpent])
        part.forEach((e, i) => { e.enrichment = results[i] })
        outcome.enriched += part.length
      }
    } catch (err) {
      const reason: EnrichSkipReason = signal.aborted ? 'budget' : err instanceof EnricherUnavailableError ? 'unavailable' : 'error'
      outcome.skipped[reason] = todo.length - at
      if (reason === 'error') outcome.error = err
    } finally {
      clearTimeout(timer)
      controller.abort()
    }
    this.#onOutcome?.(outcome)
    return outcome
  }
}
