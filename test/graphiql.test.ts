// GraphiQL at /graphiql in a real headless Chromium, against the real app with API keys required:
// every file comes from this server (React, GraphiQL and the graphql-ws client from their npm
// packages), the editor renders, a query runs and shows data, the windowUpdated subscription
// streams over the WebSocket, the key entered once is sent with both, and the page logs no error.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type BrowserSession, openBrowser } from './helpers/browser.js'
import { type PageApp, startPageApp } from './helpers/page-app.js'
import { until } from './helpers/wait.js'

const QUERY = `query Last24h($from: String!) {
  metrics(from: $from, granularity: hour, groupBy: [event_type]) {
    rows { window_start event_type total_events }
    meta { sources { layer from to } }
  }
}`
const SUBSCRIPTION = 'subscription Live { windowUpdated(groupBy: [region]) { windows rows { window_start region total_events } } }'

/** the text of one of GraphiQL's CodeMirror editors */
async function editorText (browser: BrowserSession, selector: string): Promise<string> {
  return await browser.page.$eval(selector, (el) => (el as unknown as { CodeMirror: { getValue: () => string } }).CodeMirror.getValue())
}

/** GraphiQL opened on a ready query (the page reads query, variables and operationName from its URL), run with its button */
async function run (browser: BrowserSession, base: string, query: string, operationName: string, variables: Record<string, unknown> = {}): Promise<void> {
  const params = new URLSearchParams({ query, operationName, variables: JSON.stringify(variables) })
  await browser.page.goto(`${base}/graphiql?${params}`, { waitUntil: 'load' })
  const button = await browser.page.waitForSelector('.graphiql-execute-button', { visible: true, timeout: 30_000 })
  await button?.click()
}

const fromHoursAgo = (h: number): string => new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - h * 3600_000).toISOString()

describe('GraphiQL offline, in Chromium', () => {
  let pages: PageApp
  let browser: BrowserSession

  before(async () => {
    [pages, browser] = await Promise.all([startPageApp(), openBrowser()])
  })
  after(async () => {
    await browser?.close()
    await pages?.close()
  })

  test('the shell asks for a key before anything is asked of the server', async () => {
    const res = await browser.page.goto(`${pages.base}/graphiql`, { waitUntil: 'load' })
    assert.equal(res?.status(), 200)
    await browser.page.waitForSelector('.hg-key input[name=key]')
    assert.equal(await browser.page.$('.graphiql-container'), null)
    assert.ok(!browser.requests.some((u) => new URL(u).pathname === '/graphql'), browser.requests.join('\n'))
  })

  test('with the key entered once, the editor renders from local files only', async () => {
    await browser.page.type('.hg-key input[name=key]', pages.keys.all)
    await browser.page.click('.hg-key button[type=submit]')
    await browser.page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 })
    assert.match(await editorText(browser, '.graphiql-query-editor .CodeMirror'), /query Last24h/)
    const files = browser.requests.filter((u) => u.startsWith(pages.base)).map((u) => new URL(u).pathname)
    for (const f of ['/graphiql/react.production.min.js', '/graphiql/graphiql.min.js', '/graphiql/graphql-ws.min.js']) assert.ok(files.includes(f), f)
  })

  test('a query runs and shows data from both layers, the key kept for the tab', async () => {
    await run(browser, pages.base, QUERY, 'Last24h', { from: fromHoursAgo(24) })
    assert.equal(await browser.page.evaluate('sessionStorage.getItem("hourglass.apiKey")'), pages.keys.all)
    let text = ''
    await until(() => `a result with rows, last seen: ${text.slice(0, 300)}`, async () => {
      text = await editorText(browser, '.result-window .CodeMirror')
      return text.includes('"window_start"')
    }, 30_000)
    const result = JSON.parse(text) as { data: { metrics: { rows: unknown[], meta: { sources: Array<{ layer: string }> } } } }
    assert.ok(result.data.metrics.rows.length > 0)
    assert.deepEqual(result.data.metrics.meta.sources.map((s) => s.layer), ['batch', 'speed'])
    console.log(`# screenshot of GraphiQL: ${await browser.screenshot('graphiql-query')}`)
  })

  test('the windowUpdated subscription streams over the WebSocket, with the key in connection_init', async () => {
    await run(browser, pages.base, SUBSCRIPTION, 'Live')
    let text = ''
    await until(() => `a windowUpdated push, last seen: ${text.slice(0, 300)}`, async () => {
      text = await editorText(browser, '.result-window .CodeMirror')
      return text.includes('"windowUpdated"') && text.includes('"total_events"')
    }, 30_000)
    assert.doesNotMatch(text, /HG_ERR_/)
    const sockets = browser.requests.filter((u) => u.startsWith('ws'))
    assert.deepEqual(sockets.map((u) => new URL(u).host), [new URL(pages.base).host])
  })

  test('a server without keys: the editor opens at once, and a query runs without one', async () => {
    const open = await startPageApp({ seedDays: 1, auth: false })
    try {
      assert.deepEqual(await (await fetch(`${open.base}/graphiql/config.json`)).json(), { auth_required: false })
      const page = await browser.isolatedPage() // a new session: no key stored
      try {
        await page.goto(`${open.base}/graphiql?${new URLSearchParams({ query: '{ dimensions { event_types } }' })}`, { waitUntil: 'load' })
        const button = await page.waitForSelector('.graphiql-execute-button', { visible: true, timeout: 30_000 })
        await button?.click()
        await until('a result', async () => (await page.$eval('.result-window .CodeMirror', (el) =>
          (el as unknown as { CodeMirror: { getValue: () => string } }).CodeMirror.getValue())).includes('"event_types"'), 30_000)
        assert.equal(await page.evaluate('sessionStorage.getItem("hourglass.apiKey")'), null)
      } finally {
        await page.browserContext().close()
      }
    } finally {
      await open.close()
    }
  })

  test('nothing left 127.0.0.1, and the page logged no error', () => {
    assert.ok(browser.requests.length > 0)
    assert.deepEqual(browser.outside, [])
    assert.deepEqual(browser.consoleErrors, [])
    assert.deepEqual(browser.pageErrors, [])
  })
})
