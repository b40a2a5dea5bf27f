// The speed layer's enrichment: sentiment partials in the windows; an enricher that does not answer never holds the
// windows back: past the budget the events are windowed unenriched, and counted.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Enricher, EnrichStage, WinkEnricher } from '../src/enrich/index.js'
import { finalise, iso, type Validation } from '../src/model/index.js'
import { enrichDecoded, InThreadDecoder, MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { PIPELINE_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'

const T = Date.parse('2026-01-12T10:30:20Z')
const M = 60_000
const TEXTS = ['I love it, great service!', 'Awful, broken and late.', 'The box is blue.', undefined]

function records (n: number): Array<{ offset: string, value: string }> {
  return Array.from({ length: n }, (_, i) => ({
    offset: String(i),
    value: JSON.stringify({
      event_id: `e${i}`, timestamp: iso(T - 5 * M + i * 1000), event_type: 'review', region: 'eu-west',
      ...(TEXTS[i % 4] === undefined ? {} : { text: TEXTS[i % 4] })
    })
  }))
}

function pipelineWith (enricher: Enricher, budgetMs: number, t: { after: (fn: () => void) => void }) {
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => T })
  t.after(() => store.close())
  const outcomes: Array<{ enriched: number, skipped: Record<string, number | undefined> }> = []
  const stage = new EnrichStage({ enricher, budgetMs, onOutcome: (o) => outcomes.push(o) })
  const decoder = new InThreadDecoder(1_048_576)
  const decode = (values: readonly (string | Uint8Array)[], at: number, topic: string): Promise<Validation[]> =>
    enrichDecoded(decoder.decode(values, at, topic), stage)
  return { store, outcomes, pipeline: new SpeedPipeline({ ...PIPELINE_DEFAULTS, store, decode }) }
}

test('the wink enricher in the speed pipeline: sentiment sum, count and labels in the windows', async (t) => {
  const { store, pipeline, outcomes } = pipelineWith(new WinkEnricher(), 5000, t)
  const r = await pipeline.process({ topic: 'events', partition: 0, records: records(40) }, T)
  assert.equal(r.applied, true)
  assert.deepEqual(outcomes, [{ enriched: 30, skipped: {} }])
  const rows = await store.query(T - 10 * M, T + M, {})
  const total = rows.reduce((p, r) => { for (const k of ['events', 'sentiment_count', 'sentiment_positive', 'sentiment_neutral', 'sentiment_negative'] as const) p[k] += r.partials[k]; p.sentiment_sum += r.partials.sentiment_sum; return p },
    { events: 0, sentiment_sum: 0, sentiment_count: 0, sentiment_positive: 0, sentiment_neutral: 0, sentiment_negative: 0 })
  assert.equal(total.events, 40)
  assert.deepEqual([total.sentiment_count, total.sentiment_positive, total.sentiment_neutral, total.sentiment_negative], [30, 10, 10, 10])
  const m = finalise({ ...rows[0]!.partials, ...total, response: new Map() })
  assert.ok(m.avg_sentiment !== null && Math.abs(m.avg_sentiment) < 1)
  assert.equal(m.avg_sentiment, Math.round(total.sentiment_sum / 30 * 1000) / 1000, 'rounded to 3 decimals')
})

test('an enricher that never answers: the batch is applied at the budget, its events windowed unenriched and counted', async (t) => {
  const never: Enricher = { name: 'never', enrich: () => new Promise(() => undefined) }
  const { store, pipeline, outcomes } = pipelineWith(never, 100, t)
  const started = performance.now()
  const r = await pipeline.process({ topic: 'events', partition: 0, records: records(40) }, T)
  assert.ok(performance.now() - started < 2000)
  assert.equal(r.applied, true)
  assert.deepEqual(outcomes, [{ enriched: 0, skipped: { budget: 30 } }])
  const rows = await store.query(T - 10 * M, T + M, {})
  assert.equal(rows.reduce((n, r) => n + r.partials.events, 0), 40)
  assert.equal(rows.reduce((n, r) => n + r.partials.sentiment_count, 0), 0)
  assert.equal(finalise(rows[0]!.partials).avg_sentiment, null)
})
