// `bench/pipeline.ts --enrich SHARE`: the speed pipeline's throughput with and without enrichment in one run, on the
// same records (SHARE of the valid ones carry a review text), memory store, main thread. Both runs get fresh pipelines
// and stores; the plain run goes first and again last (the mean of the two is the reference, so warming up and a
// noisy machine do not favour either side). The enriched run uses the default enricher (wink, in process) within the
// default budget: events past it are windowed unenriched and counted as skipped, as in `serve`.
import { EnrichStage, WinkEnricher } from '../src/enrich/index.js'
import type { HistoryBatch } from '../src/ingest/index.js'
import type { Validation } from '../src/model/index.js'
import { enrichDecoded, InThreadDecoder, MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'

const REVIEWS = [
  'Great service, the parcel from Amazon arrived in Berlin a day early!',
  'Terrible support, I waited two hours and nobody from Contoso answered.',
  'The app works. Delivery to Paris on Monday as planned.',
  'Absolutely love the new checkout, so fast and easy.',
  'Awful experience, the refund never came and the order was broken.',
  'Average product, nothing special, does the job.'
]

export interface EnrichRunSettings {
  retentionMs: number
  dedupWindowMs: number
  allowedLatenessMs: number
  deadLetterKeep: number
  maxRecordBytes: number
  enrichBudgetMs: number
}

/** The batches' valid JSON records, every 1/share-th with a review text added (in place). */
export function addTexts (batches: HistoryBatch[], share: number): number {
  let n = 0
  let k = 0
  const every = Math.max(1, Math.round(1 / share))
  for (const b of batches) {
    for (const r of b.records) {
      const v = typeof r.value === 'string' ? r.value : Buffer.from(r.value).toString()
      if (v.startsWith('{') && v.endsWith('}') && k++ % every === 0) {
        r.value = v.slice(0, -1) + ',"text":' + JSON.stringify(REVIEWS[n++ % REVIEWS.length]) + '}'
      } else r.value = v
    }
  }
  return n
}

async function timed (batches: HistoryBatch[], s: EnrichRunSettings, stage: EnrichStage | null): Promise<{ seconds: number, records: number }> {
  const first = batches[0]?.records[0] as { at: number } | undefined
  let clock = first?.at ?? 0
  const store = new MemorySpeedStore({ now: () => clock, retentionMs: s.retentionMs, dedupWindowMs: s.dedupWindowMs })
  const decoder = new InThreadDecoder(s.maxRecordBytes)
  const decode = (values: readonly (string | Uint8Array)[], at: number, topic: string): Promise<Validation[]> =>
    enrichDecoded(decoder.decode(values, at, topic), stage)
  const pipeline = new SpeedPipeline({
    store, dedupWindowMs: s.dedupWindowMs, allowedLatenessMs: s.allowedLatenessMs, deadLetterKeep: s.deadLetterKeep, collectValid: false, decode
  })
  let records = 0
  const started = performance.now()
  for (const b of batches) {
    clock = (b.records[b.records.length - 1] as { at: number }).at
    await pipeline.process(b, clock)
    records += b.records.length
  }
  const seconds = (performance.now() - started) / 1000
  await store.close()
  return { seconds, records }
}

export async function enrichComparison (batches: HistoryBatch[], share: number, s: EnrichRunSettings): Promise<Record<string, unknown>> {
  const texts = addTexts(batches, share)
  const outcome = { enriched: 0, budget: 0, error: 0 }
  const stage = new EnrichStage({
    enricher: new WinkEnricher(),
    budgetMs: s.enrichBudgetMs,
    onOutcome: (o) => { outcome.enriched += o.enriched; outcome.budget += o.skipped.budget ?? 0; outcome.error += o.skipped.error ?? 0 }
  })
  const plainA = await timed(batches, s, null)
  const enriched = await timed(batches, s, stage)
  const plainB = await timed(batches, s, null)
  const plainRate = (plainA.records + plainB.records) / (plainA.seconds + plainB.seconds)
  const enrichedRate = enriched.records / enriched.seconds
  return {
    records: enriched.records,
    texts,
    text_share: share,
    events_per_s_without_enrichment: Math.round(plainRate),
    events_per_s_with_enrichment: Math.round(enrichedRate),
    ratio_with_to_without: Number((enrichedRate / plainRate).toFixed(3)),
    enrich_budget_ms: s.enrichBudgetMs,
    enriched: outcome.enriched,
    skipped_past_budget: outcome.budget,
    skipped_error: outcome.error,
    plain_runs_events_per_s: [Math.round(plainA.records / plainA.seconds), Math.round(plainB.records / plainB.seconds)]
  }
}
