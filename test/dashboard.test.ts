// The dashboard at /dashboard in a real headless Chromium, against the real app (synthetic history
// seeded, gold built, the synthetic stream feeding the speed layer) with API keys required: a
// browser opening / lands there, the key entered once is kept for the tab, the charts have data, the
// shading of each chart is the meta.sources of the very answer it drew (and the boundary and gaps
// too), the speed part is asked again on its own, anomalies are marked, the quality and reconciliation panels fill, no
// request leaves 127.0.0.1 and the page logs no error. A screenshot is written for a person to see.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { HTTPResponse } from 'puppeteer-core'
import { type BrowserSession, openBrowser } from './helpers/browser.js'
import { type PageApp, startPageApp } from './helpers/page-app.js'
import { until } from './helpers/wait.js'

interface Meta { from: string, to: string, boundary: string | null, sources: Array<{ layer: string, from: string, to: string }>, gaps: Array<{ reason: string }> }
interface Answer { url: string, body: { rows: unknown[], meta: Meta } }

const CHARTS = ['events', 'p95', 'revenue']

describe('the dashboard, in Chromium', () => {
  let pages: PageApp
  let browser: BrowserSession
  const answers: Answer[] = []

  before(async () => {
    [pages, browser] = await Promise.all([startPageApp(), openBrowser()])
    browser.page.on('response', (res: HTTPResponse) => {
      if (!new URL(res.url()).pathname.startsWith('/v1/metrics') || res.status() !== 200) return
      res.json().then((body: Answer['body']) => { answers.push({ url: res.url(), body }) }, () => {})
    })
  })
  after(async () => {
    await browser?.close()
    await pages?.close()
  })

  /** what a chart records it drew */
  const drawn = (id: string): Promise<{ sources: string, gaps: string, boundary: string, points: string, marks: string, title: string }> =>
    browser.page.$eval(`#${id}`, (el) => {
      const d = (el as unknown as { dataset: Record<string, string> }).dataset
      return {
        sources: d.sources ?? '', gaps: d.gaps ?? '', boundary: d.boundary ?? '', points: d.points ?? '0', marks: d.marks ?? '0',
        title: (el as unknown as { title: string }).title
      }
    })
  const bodyData = (name: string): Promise<string | null> => browser.page.$eval('body', (el, n) => (el as unknown as { dataset: Record<string, string> }).dataset[n] ?? null, name)

  /** the answer the page drew its events chart from (body[data-query]) */
  async function answerDrawn (): Promise<Answer> {
    const query = await bodyData('query')
    assert.ok(query !== null)
    let answer: Answer | undefined
    await until(`the answer to ${query}`, () => (answer = [...answers].reverse().find((a) => a.url.endsWith(query))) !== undefined, 10_000)
    return answer as Answer
  }

  async function assertShadingMatches (): Promise<Meta> {
    const { body: { meta } } = await answerDrawn()
    for (const id of CHARTS) {
      const d = await drawn(id)
      assert.deepEqual(JSON.parse(d.sources), meta.sources, `${id}: shaded as the answer's meta.sources`)
      assert.deepEqual(JSON.parse(d.gaps), meta.gaps, `${id}: the answer's gaps`)
      assert.equal(d.boundary, meta.boundary ?? '', `${id}: the boundary`)
      assert.ok(Number(d.points) > 0, `${id} has data`)
    }
    return meta
  }

  test('/ sends a browser to /dashboard without a key; JSON clients keep the index', async () => {
    const html = await fetch(`${pages.base}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' })
    assert.equal(html.status, 302)
    assert.equal(html.headers.get('location'), '/dashboard')
    const json = await fetch(`${pages.base}/`, { headers: { accept: 'application/json', authorization: `Bearer ${pages.keys.all}` } })
    assert.equal(json.status, 200)
    assert.equal((await json.json() as { name: string }).name, 'hourglass')
    assert.equal((await fetch(`${pages.base}/`)).status, 401, 'no Accept: the JSON index, which needs a key')
  })

  test('the page asks for the key once, then draws 24 hours from both layers, shaded as meta.sources says', async () => {
    await browser.page.goto(`${pages.base}/`, { waitUntil: 'load' })
    assert.equal(new URL(browser.page.url()).pathname, '/dashboard', 'redirected')
    await browser.page.type('.hg-key input[name=key]', pages.keys.all)
    await browser.page.click('.hg-key button[type=submit]')
    await until('the first drawing', async () => (await bodyData('loads')) !== null, 30_000)
    const meta = await assertShadingMatches()
    assert.deepEqual(meta.sources.map((s) => s.layer), ['batch', 'speed'])
    assert.equal(await browser.page.evaluate('sessionStorage.getItem("hourglass.apiKey")'), pages.keys.all)
  })

  test('the quality and the newest reconciliation are shown beside the charts', async () => {
    await until('the quality table', async () => (await browser.page.$('#quality table')) !== null, 10_000)
    const quality = await browser.page.$eval('#quality', (el) => (el as unknown as { innerText: string }).innerText)
    assert.match(quality, /received/)
    assert.match(quality, /quality/)
    const recon = await browser.page.$eval('#reconciliation .body', (el) => (el as unknown as { innerText: string }).innerText)
    assert.ok(recon !== '…' && !/HG_ERR|needed|lacks/.test(recon), recon)
  })

  test('7 days: the days before the seeded history are drawn as a gap with its reason', async () => {
    await browser.page.goto(`${pages.base}/dashboard?refresh=1`, { waitUntil: 'load' })
    await until('the first drawing', async () => (await bodyData('loads')) !== null, 30_000)
    await browser.page.select('#range', '7d')
    await until('the 7-day drawing', async () => /from=/.test(await bodyData('query') ?? '') && (await bodyData('loads')) === '2', 30_000)
    const meta = await assertShadingMatches()
    assert.ok(meta.gaps.some((g) => g.reason === 'before_history'), JSON.stringify(meta.gaps))
    const listed = await browser.page.$eval('#gaps', (el) => (el as unknown as { innerText: string }).innerText)
    assert.match(listed, /before_history/)
    const file = await browser.screenshot('dashboard-7d')
    console.log(`# screenshot of the dashboard (7 days): ${file}`)
  })

  test('live: the speed part is asked again from the boundary and spliced in', async () => {
    const boundary = (await answerDrawn()).body.meta.boundary
    assert.ok(boundary !== null)
    await until('a refresh of the speed part', async () => Number(await bodyData('refreshes') ?? 0) >= 1, 30_000)
    assert.ok(answers.some((a) => a.url.includes(`from=${encodeURIComponent(boundary)}`)), 'asked from the boundary')
    for (const id of CHARTS) assert.ok(Number((await drawn(id)).points) > 0, `${id} still has data`)
  })

  test('the last 15 minutes: minute windows, all from speed', async () => {
    await browser.page.select('#range', '15m')
    await until('the 15-minute drawing', async () => /\/live\?/.test(await bodyData('query') ?? ''), 30_000)
    const meta = await assertShadingMatches()
    assert.deepEqual([...new Set(meta.sources.map((s) => s.layer))], ['speed'])
    const file = await browser.screenshot('dashboard-15m')
    console.log(`# screenshot of the dashboard (15 minutes): ${file}`)
  })

  test('a region filter: the queries carry it, the charts still match their answer', async () => {
    const regions = await browser.page.$$eval('#region option', (options) => options.map((o) => (o as unknown as { value: string }).value))
    const region = regions.find((r) => r !== '')
    assert.ok(region !== undefined, 'regions listed from /v1/dimensions')
    await browser.page.select('#region', region)
    await until('the filtered drawing', async () => (await bodyData('query') ?? '').includes(`region=${encodeURIComponent(region)}`), 30_000)
    await assertShadingMatches()
  })

  test('an anomaly in the range is marked on the chart of its metric', async () => {
    const region = await browser.page.$eval('#region', (el) => (el as unknown as { value: string }).value)
    assert.ok(region !== '', 'still filtered by a region')
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000
    pages.app.anomalies.add([{ window_start: minute, event_type: 'marked', region, metric: 'total_events', kind: 'spike', observed: 99, expected: 5, score: 12 }])
    await until('a mark on the events chart', async () => (await drawn('events')).title.includes('marked/'), 30_000)
    assert.ok(Number((await drawn('events')).marks) >= 1)
    assert.ok(!(await drawn('revenue')).title.includes('marked/'), 'not on the charts of other metrics')
  })

  test('nothing left 127.0.0.1, and the page logged no error', () => {
    assert.ok(browser.requests.length > 0)
    assert.deepEqual(browser.outside, [])
    assert.deepEqual(browser.consoleErrors, [])
    assert.deepEqual(browser.pageErrors, [])
  })
})
