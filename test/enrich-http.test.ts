// The HTTP enricher against a stub service on 127.0.0.1: answers, timeouts, 500s, a circuit breaker opening and closing.
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, it } from 'node:test'
import { loadConfig } from '../src/config.js'
import { createEnricher, EnricherAnswerError, EnricherUnavailableError, EnrichStage, HttpEnricher, WinkEnricher } from '../src/enrich/index.js'
import type { HourglassEvent } from '../src/model/index.js'
import { until } from './helpers/wait.js'

type Mode = 'ok' | 'fail500' | 'hang' | 'short' | 'bad400'
let mode: Mode = 'ok'
let requests = 0
const open = new Set<ServerResponse>()

function answer (req: IncomingMessage, res: ServerResponse): void {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => { body += chunk })
  req.on('end', () => {
    requests++
    const { texts } = JSON.parse(body) as { texts: string[] }
    if (mode === 'hang') { open.add(res); res.on('close', () => open.delete(res)); return }
    if (mode === 'fail500') { res.writeHead(500).end('down'); return }
    if (mode === 'bad400') { res.writeHead(400).end('no'); return }
    const results = texts.map((t) => ({ score: t.includes('good') ? 0.8 : -0.4, entities: [t.toUpperCase()] }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: mode === 'short' ? results.slice(1) : results }))
  })
}

let server: Server
let url: string
before(async () => {
  server = createServer(answer)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/enrich`
})
after(async () => {
  for (const res of open) res.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})
beforeEach(() => { mode = 'ok'; requests = 0 })

describe('the HTTP enricher', () => {
  it('posts a batch and reads one result per text (a missing label taken from the score)', async () => {
    const h = new HttpEnricher({ url, timeoutMs: 1000 })
    assert.deepEqual(await h.enrich(['good day', 'meh']), [
      { score: 0.8, label: 'positive', entities: ['GOOD DAY'] },
      { score: -0.4, label: 'negative', entities: ['MEH'] }
    ])
    assert.equal(requests, 1)
    assert.deepEqual(await h.enrich([]), [])
    assert.equal(requests, 1)
  })

  it('a 500 is tried again once, then fails; a 400 or a wrong answer is not tried again', async () => {
    const h = new HttpEnricher({ url, timeoutMs: 1000, breakerThreshold: 100 })
    mode = 'fail500'
    await assert.rejects(h.enrich(['x']), (err: unknown) => err instanceof EnricherAnswerError && err.status === 500)
    assert.equal(requests, 2)
    requests = 0
    mode = 'bad400'
    await assert.rejects(h.enrich(['x']), EnricherAnswerError)
    assert.equal(requests, 1)
    requests = 0
    mode = 'short'
    await assert.rejects(h.enrich(['a', 'b']), /one result per text/)
    assert.equal(requests, 1)
  })

  it('an attempt that does not answer times out (each attempt on its own)', async () => {
    const h = new HttpEnricher({ url, timeoutMs: 100, breakerThreshold: 100 })
    mode = 'hang'
    const started = performance.now()
    await assert.rejects(h.enrich(['x']))
    const took = performance.now() - started
    assert.ok(took >= 190 && took < 2000, `${took} ms`)
    assert.equal(requests, 2)
  })

  it('the breaker opens after consecutive failures, refuses at once without a request, and closes after a good trial call', async () => {
    const h = new HttpEnricher({ url, timeoutMs: 1000, attempts: 1, breakerThreshold: 3, halfOpenAfterMs: 300 })
    mode = 'fail500'
    for (let i = 0; i < 3; i++) await assert.rejects(h.enrich(['x']), EnricherAnswerError)
    assert.equal(h.state, 'open')
    assert.equal(requests, 3)
    mode = 'ok'
    await assert.rejects(h.enrich(['x']), EnricherUnavailableError)
    assert.equal(requests, 3, 'the open breaker sends nothing')
    // the speed stage counts what the open breaker refuses as unavailable
    const e: HourglassEvent = { event_id: 'e', ts: 0, event_type: 't', region: 'r', text: 'good' }
    assert.deepEqual(await new EnrichStage({ enricher: h, budgetMs: 1000 }).enrich([e]), { enriched: 0, skipped: { unavailable: 1 } })
    // after the half-open delay one trial call goes through, and its success closes the breaker
    await until('a trial call gets through the breaker', async () => {
      try {
        await h.enrich(['good'])
        return true
      } catch (err) {
        assert.ok(err instanceof EnricherUnavailableError, String(err))
        return false
      }
    }, 5000)
    assert.equal(h.state, 'closed')
    assert.equal(requests, 4)
    assert.equal((await h.enrich(['good']))[0]?.label, 'positive')
  })

  it('a trial call that fails opens the breaker again', async () => {
    const h = new HttpEnricher({ url, timeoutMs: 1000, attempts: 1, breakerThreshold: 1, halfOpenAfterMs: 200 })
    mode = 'fail500'
    await assert.rejects(h.enrich(['x']), EnricherAnswerError)
    assert.equal(h.state, 'open')
    await until('the trial call is let through', async () => {
      const err = await h.enrich(['x']).then(() => null, (e: unknown) => e)
      return err instanceof EnricherAnswerError
    }, 5000)
    assert.equal(h.state, 'open')
    assert.equal(requests, 2)
  })

  it('a stage budget shorter than the service: the call is abandoned at the budget', async () => {
    const h = new HttpEnricher({ url, timeoutMs: 5000, breakerThreshold: 100 })
    mode = 'hang'
    const e: HourglassEvent = { event_id: 'e', ts: 0, event_type: 't', region: 'r', text: 'good' }
    const started = performance.now()
    assert.deepEqual(await new EnrichStage({ enricher: h, budgetMs: 100 }).enrich([e]), { enriched: 0, skipped: { budget: 1 } })
    assert.ok(performance.now() - started < 1000)
    await until('the abandoned request is closed', () => open.size === 0, 5000)
  })
})

describe('the enricher settings', () => {
  it('http needs a URL; each kind makes its enricher (none: no enricher)', () => {
    assert.throws(() => loadConfig({ HOURGLASS_ENRICHER: 'http' }), /HOURGLASS_ENRICHER=http needs HOURGLASS_ENRICHER_URL/)
    assert.throws(() => loadConfig({ HOURGLASS_ENRICHER: 'spacy' }), /HOURGLASS_ENRICHER/)
    const http = loadConfig({ HOURGLASS_ENRICHER: 'http', HOURGLASS_ENRICHER_URL: 'http://127.0.0.1:9/enrich', HOURGLASS_ENRICHER_TIMEOUT: '250ms' })
    assert.equal(http.enricherTimeoutMs, 250)
    assert.ok(createEnricher(http) instanceof HttpEnricher)
    assert.equal(createEnricher(loadConfig({ HOURGLASS_ENRICHER: 'none' })), null)
    assert.ok(createEnricher(loadConfig({})) instanceof WinkEnricher, 'wink by default')
  })
})
