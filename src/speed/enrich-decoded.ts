// The speed layer's enrichment: a batch's valid events are enriched right after decoding, before dedup and windows, by
// the budgeted stage (src/enrich/stage.ts), so enrichment never holds a batch longer than its budget. It starts as the
// batch's decoding ends, while earlier batches are applied.
import type { EnrichStage } from '../enrich/index.js'
import type { HourglassEvent, Validation } from '../model/index.js'

/** `decoded`, its valid events enriched in place by `stage` (none: as they are). */
export async function enrichDecoded (decoded: Promise<Validation[]>, stage: EnrichStage | null): Promise<Validation[]> {
  const validations = await decoded
  if (stage === null) return validations
  const events: HourglassEvent[] = []
  for (const v of validations) if (v.ok && v.event.text !== undefined) events.push(v.event)
  if (events.length > 0) await stage.enrich(events)
  return validations
}
