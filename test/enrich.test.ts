import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkEnrichment, type Enricher, EnricherUnavailableError, EnrichStage, labelOf, WinkEnricher, winkEnrich } from '../src/enrich/index.js'
import type { Enrichment, HourglassEvent } from '../src/model/index.js'

const event = (i: number, text?: string): HourglassEvent => ({
  event_id: `e${i}`, ts: Date.UTC(2026, 0, 5, 12) + i, event_type: 'review', region: 'eu', ...(text === undefined ? {} : { text })
})
const fixed: Enrichment = { score: 0.5, label: 'positive', entities: ['Paris'] }

/** answers each call after `ms` (never: Infinity), or fails, and counts the texts it was asked */
function fake (o: { ms?: number | ((call: number) => number), fail?: Error } = {}): Enricher & { texts: number, calls: number } {
  const f = {
    name: 'fake',
    texts: 0,
    calls: 0,
    async enrich (texts: readonly string[]): Promise<Enrichment[]> {
      f.calls++
      f.texts += texts.length
      const ms = typeof o.ms === 'function' ? o.ms(f.calls) : o.ms ?? 0
      if (ms === Infinity) return new Promise<never>(() => undefined)
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
      if (o.fail !== undefined) throw o.fail
      return texts.map(() => ({ ...fixed }))
    }
  }
  return f
}

describe('the wink enricher (the model shipped in npm)', () => {
  it('scores sentiment in [-1, 1] with its label, and finds entities', () => {
    const good = winkEnrich('I love this product, it is great!')
    assert.equal(good.label, 'positive')
    assert.ok(good.score > 0 && good.score <= 1)
    const bad = winkEnrich('Terrible service in London, never again.')
    assert.equal(bad.label, 'negative')
    assert.ok(bad.score < 0 && bad.score >= -1)
    assert.deepEqual(bad.entities, ['London'])
    const plain = winkEnrich('The parcel arrived on Monday.')
    assert.deepEqual(plain, { score: 0, label: 'neutral', entities: ['Monday'] })
    const names = winkEnrich('We met people from Microsoft in Paris with John Smith on 5 May, paying $5 million.')
    for (const e of ['Microsoft', 'Paris', 'John Smith', '5 May', '$5 million']) assert.ok(names.entities.includes(e), `${e} in ${names.entities.join(', ')}`)
  })

  it('enriches a batch in order, and stops when its signal aborts', async () => {
    const w = new WinkEnricher()
    const texts = ['great', 'awful', 'a table']
    assert.deepEqual((await w.enrich(texts)).map((e) => e.label), ['positive', 'negative', 'neutral'])
    const controller = new AbortController()
    controller.abort(new Error('budget'))
    await assert.rejects(w.enrich(texts, { signal: controller.signal }), /budget/)
  })
})

describe('checking an enrichment from elsewhere', () => {
  it('takes a score in [-1, 1], a label or none (from the score), entities normalised; refuses the rest', () => {
    assert.deepEqual(checkEnrichment({ score: -0.3 }), { score: -0.3, label: 'negative', entities: [] })
    assert.deepEqual(checkEnrichment({ score: 0.01, label: 'positive', entities: [' New  York ', 'New York', ''] }),
      { score: 0.01, label: 'positive', entities: ['New York'] })
    for (const bad of [null, 3, {}, { score: 2 }, { score: Number.NaN }, { score: 0, label: 'happy' }, { score: 0, entities: [1] }]) {
      assert.equal(checkEnrichment(bad), null, JSON.stringify(bad))
    }
    assert.equal(labelOf(0.05), 'neutral')
    assert.equal(labelOf(-0.06), 'negative')
  })
})

describe('the enrichment stage never waits past its budget', () => {
  it('enriches only events with text and without an enrichment', async () => {
    const f = fake()
    const events = [event(1, 'a'), event(2), event(3, 'b'), { ...event(4, 'c'), enrichment: { score: -1, label: 'negative' as const, entities: [] } }]
    const outcome = await new EnrichStage({ enricher: f, budgetMs: 1000 }).enrich(events)
    assert.deepEqual(outcome, { enriched: 2, skipped: {} })
    assert.equal(f.texts, 2)
    assert.deepEqual(events[0]?.enrichment, fixed)
    assert.equal(events[1]?.enrichment, undefined)
    assert.equal(events[3]?.enrichment?.score, -1)
    assert.deepEqual(await new EnrichStage({ enricher: f, budgetMs: 1000 }).enrich([event(5)]), { enriched: 0, skipped: {} })
  })

  it('an enricher that never answers: the call returns at the budget, every event unenriched and counted', async () => {
    const events = Array.from({ length: 10 }, (_, i) => event(i, `t${i}`))
    const seen: unknown[] = []
    const started = performance.now()
    const outcome = await new EnrichStage({ enricher: fake({ ms: Infinity }), budgetMs: 50, onOutcome: (o) => seen.push(o) }).enrich(events)
    const took = performance.now() - started
    assert.ok(took >= 45 && took < 1000, `${took} ms`)
    assert.deepEqual(outcome, { enriched: 0, skipped: { budget: 10 } })
    assert.deepEqual(seen, [outcome])
    assert.ok(events.every((e) => e.enrichment === undefined))
  })

  it('chunks done within the budget keep their enrichment; the rest pass unenriched', async () => {
    const events = Array.from({ length: 10 }, (_, i) => event(i, `t${i}`))
    const f = fake({ ms: (call) => call === 1 ? 0 : Infinity })
    const outcome = await new EnrichStage({ enricher: f, budgetMs: 80, chunk: 4 }).enrich(events)
    assert.deepEqual(outcome, { enriched: 4, skipped: { budget: 6 } })
    assert.equal(events.filter((e) => e.enrichment !== undefined).length, 4)
    assert.equal(f.calls, 2)
  })

  it('a failing enricher leaves the events as errors; an open breaker as unavailable', async () => {
    const boom = new Error('boom')
    const failed = await new EnrichStage({ enricher: fake({ fail: boom }), budgetMs: 1000 }).enrich([event(1, 'a'), event(2, 'b')])
    assert.deepEqual(failed, { enriched: 0, skipped: { error: 2 }, error: boom })
    const open = await new EnrichStage({ enricher: fake({ fail: new EnricherUnavailableError('open') }), budgetMs: 1000 }).enrich([event(1, 'a')])
    assert.deepEqual(open, { enriched: 0, skipped: { unavailable: 1 } })
  })
})
