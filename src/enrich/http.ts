// An enricher behind HTTP: an organisation's own model as a service. One POST per batch, `{"texts": [...]}` →
// 200 `{"results": [{"score": s, "label"?: l, "entities"?: [...]}, ...]}`, one result per text, in order (a missing
// label is taken from the score). Each attempt has a timeout; a failed attempt (refused, timed out, 5xx or 429) is tried
// again once after a short backoff; consecutive failures open a circuit breaker, which then refuses at once
// (BrokenCircuitError) until a trial call after the half-open delay succeeds. Policies from cockatiel.
import {
  BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleAll, handleWhen, retry, timeout,
  TimeoutStrategy, wrap
} from 'cockatiel'
import type { Enrichment } from '../model/event.js'
import { checkEnrichment, type Enricher, EnricherUnavailableError, type EnrichOptions } from './enricher.js'

export interface HttpEnricherOptions {
  url: string
  /** one attempt's limit (ms) */
  timeoutMs: number
  /** attempts per batch (1: no retry) */
  attempts?: number
  /** consecutive failed attempts that open the breaker */
  breakerThreshold?: number
  /** how long the open breaker refuses before a trial call (ms) */
  halfOpenAfterMs?: number
}

/** what an HTTP enricher does without being told: two attempts, open after 5 failures, a trial after 10 s */
export const HTTP_ENRICHER_DEFAULTS = { attempts: 2, breakerThreshold: 5, halfOpenAfterMs: 10_000 }

/** The service answered, but not with enrichments: its status, or a body of another shape. */
export class EnricherAnswerError extends Error {
  override name = 'EnricherAnswerError'
  constructor (message: string, readonly status: number) {
    super(message)
  }
}

/** worth another attempt: the service may answer next time (not a 4xx other than 429, not a malformed answer) */
function transient (err: Error): boolean {
  if (err instanceof BrokenCircuitError) return false
  if (err instanceof EnricherAnswerError) return err.status >= 500 || err.status === 429
  return true
}

export class HttpEnricher implements Enricher {
  readonly name = 'http'
  readonly #url: string
  readonly #breaker
  readonly #policy

  constructor (o: HttpEnricherOptions) {
    this.#url = o.url
    const d = HTTP_ENRICHER_DEFAULTS
    this.#breaker = circuitBreaker(handleAll, {
      halfOpenAfter: o.halfOpenAfterMs ?? d.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(o.breakerThreshold ?? d.breakerThreshold)
    })
    const attempts = o.attempts ?? d.attempts
    const again = retry(handleWhen(transient), { maxAttempts: attempts - 1, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }) })
    this.#policy = wrap(again, this.#breaker, timeout(o.timeoutMs, TimeoutStrategy.Aggressive))
  }

  /** closed, open, half-open (a trial call under way) or isolated */
  get state (): 'closed' | 'open' | 'half-open' {
    const s = this.#breaker.state
    return s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half-open' : 'open'
  }

  enrich (texts: readonly string[], options: EnrichOptions = {}): Promise<Enrichment[]> {
    if (texts.length === 0) return Promise.resolve([])
    return this.#policy.execute(({ signal }) => this.#post(texts, signal), options.signal).catch((err: unknown) => {
      throw err instanceof BrokenCircuitError ? new EnricherUnavailableError('the enricher\'s circuit breaker is open', { cause: err }) : err
    })
  }

  async #post (texts: readonly string[], signal: AbortSignal): Promise<Enrichment[]> {
    const res = await fetch(this.#url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ texts }),
      signal
    })
    if (res.status !== 200) {
      await res.body?.cancel()
      throw new EnricherAnswerError(`the enricher answered ${res.status}`, res.status)
    }
    let body: unknown
    try {
      body = await res.json()
    } catch {
      throw new EnricherAnswerError('the enricher answered with a body that is not JSON', res.status)
    }
    const results = (body as { results?: unknown } | null)?.results
    if (!Array.isArray(results) || results.length !== texts.length) {
      throw new EnricherAnswerError(`the enricher answered without one result per text (${texts.length})`, res.status)
    }
    return results.map((r, i) => {
      const e = checkEnrichment(r)
      if (e === null) throw new EnricherAnswerError(`the enricher's result ${i} is not {score in [-1, 1], label?, entities?}`, res.status)
      return e
    })
  }
}
