// Enrichment: the Enricher contract, its implementations (wink in process, HTTP) and the budgeted stage the speed
// pipeline and the bronze sink run. Imports only src/model; importable by speed and batch alike.
import type { Enricher } from './enricher.js'
import { HttpEnricher } from './http.js'
import { WinkEnricher } from './wink.js'

export * from './enricher.js'
export * from './http.js'
export * from './stage.js'
export { WinkEnricher, winkEnrich } from './wink.js'

export type EnricherKind = 'none' | 'wink' | 'http'

export interface EnricherSettings {
  enricher: EnricherKind
  enricherUrl: string
  enricherTimeoutMs: number
}

/** The enricher the settings name (none: null, nothing is enriched). */
export function createEnricher (s: EnricherSettings): Enricher | null {
  if (s.enricher === 'none') return null
  if (s.enricher === 'http') return new HttpEnricher({ url: s.enricherUrl, timeoutMs: s.enricherTimeoutMs })
  return new WinkEnricher()
}
