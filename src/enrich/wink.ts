// The default enricher: wink-nlp with its English lite model, both shipped in npm (nothing is downloaded at run time).
// Sentiment is wink's score in [−1, 1]; entities are wink's own (dates, money, hashtags, …) and the runs of proper nouns
// (names, places, brands), which the lite model tags but does not group. It runs in this thread (≈ 35 µs a short review),
// so it works in slices and gives the event loop a turn between them, and stops when its caller's signal aborts.
import winkNLP from 'wink-nlp'
import model from 'wink-eng-lite-web-model'
import type { Enrichment } from '../model/event.js'
import { type Enricher, type EnrichOptions, labelOf, normaliseEntities } from './enricher.js'

/** work this long at most before giving the event loop a turn */
const SLICE_MS = 5

type Nlp = ReturnType<typeof winkNLP>

let shared: Nlp | undefined
/** the model is loaded once per thread (≈ 100 ms, ~20 MB) */
function nlp (): Nlp {
  shared ??= winkNLP(model)
  return shared
}

const SENTENCE_END = /^[.!?]+$/

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The enrichment of one text. */
export function winkEnrich (text: string): Enrichment {
  const n = nlp()
  const its = n.its
  const doc = n.readDoc(text)
  const raw = doc.out(its.sentiment) as unknown as number
  const score = Number.isFinite(raw) ? Math.max(-1, Math.min(1, raw)) : 0
  const entities: string[] = doc.entities().out() as string[]
  const values = doc.tokens().out() as string[]
  const pos = doc.tokens().out(its.pos) as string[]
  let run: string[] = []
  let runAtStart = false
  for (let i = 0; i <= values.length; i++) {
    if (i < values.length && pos[i] === 'PROPN') {
      if (run.length === 0) runAtStart = i === 0 || SENTENCE_END.test(values[i - 1] as string)
      run.push(values[i] as string)
      continue
    }
    // one capitalised word opening a sentence is as often an adjective the model takes for a name ("Terrible service")
    if (run.length > 1 || (run.length === 1 && !runAtStart)) entities.push(run.join(' '))
    run = []
  }
  return { score, label: labelOf(score), entities: normaliseEntities(entities) }
}

export class WinkEnricher implements Enricher {
  readonly name = 'wink'

  constructor () {
    nlp()
  }

  async enrich (texts: readonly string[], options: EnrichOptions = {}): Promise<Enrichment[]> {
    const out: Enrichment[] = []
    let started = performance.now()
    for (const text of texts) {
      if (performance.now() - started >= SLICE_MS) {
        await yieldTurn()
        started = performance.now()
      }
      options.signal?.throwIfAborted()
      out.push(winkEnrich(text))
    }
    return out
  }
}
