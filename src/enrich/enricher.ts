// The enrichment contract: an Enricher turns texts into sentiment (a score in [−1, 1] and its label) and named
// entities, a batch at a time. Implementations: the in-process wink model (wink.ts), a remote service over HTTP
// (http.ts), or an organisation's own. Pure logic.
import type { Enrichment, SentimentLabel } from '../model/event.js'

export interface EnrichOptions {
  /** aborted when the caller stops waiting (its time budget is spent): stop working, the answer is not used */
  signal?: AbortSignal
}

export interface Enricher {
  /** a short name for logs and metrics */
  readonly name: string
  /** one enrichment per text, in order; rejects when it cannot give them all */
  enrich (texts: readonly string[], options?: EnrichOptions): Promise<Enrichment[]>
  close? (): Promise<void>
}

/** Scores within ±NEUTRAL_BAND of 0 are neutral (wink's sentiment is 0 for text without sentiment words). */
export const NEUTRAL_BAND = 0.05

export function labelOf (score: number): SentimentLabel {
  if (score > NEUTRAL_BAND) return 'positive'
  if (score < -NEUTRAL_BAND) return 'negative'
  return 'neutral'
}

/** Entities kept per text, and the longest one (characters): an entity list is for counting, not for the text itself. */
export const MAX_ENTITIES = 16
export const MAX_ENTITY_LENGTH = 64

/** Entities as kept: trimmed, non-empty, clipped, without repeats, at most MAX_ENTITIES. */
export function normaliseEntities (values: readonly string[]): string[] {
  const out = new Set<string>()
  for (const v of values) {
    const e = v.trim().replace(/\s+/g, ' ').slice(0, MAX_ENTITY_LENGTH)
    if (e !== '') out.add(e)
    if (out.size === MAX_ENTITIES) break
  }
  return [...out]
}

/** An enrichment from outside (another service's answer) checked and normalised, or null when it is not one. */
export function checkEnrichment (value: unknown): Enrichment | null {
  if (typeof value !== 'object' || value === null) return null
  const r = value as Record<string, unknown>
  const score = r.score
  if (typeof score !== 'number' || !Number.isFinite(score) || score < -1 || score > 1) return null
  const label = r.label === undefined ? labelOf(score) : r.label
  if (label !== 'positive' && label !== 'neutral' && label !== 'negative') return null
  const entities = r.entities ?? []
  if (!Array.isArray(entities) || !entities.every((e) => typeof e === 'string')) return null
  return { score, label, entities: normaliseEntities(entities as string[]) }
}

/** The enricher refuses at once for a while (its circuit breaker is open): not worth waiting for. */
export class EnricherUnavailableError extends Error {
  override name = 'EnricherUnavailableError'
}
