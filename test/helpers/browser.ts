// A headless Chromium for the page tests: Debian's chromium (installed by scripts/services when
// missing), driven by puppeteer-core. Every request the page makes is recorded; one to a host other
// than the allowed ones is recorded as outside and aborted, so a test can assert nothing left the
// machine. WebSockets (which request interception does not see) are recorded through CDP. Console
// errors and uncaught page errors are collected.
import fs from 'node:fs'
import path from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { ensureChromium } from '../../scripts/services/index.js'

export interface BrowserSession {
  browser: Browser
  page: Page
  /** every URL the page asked for (HTTP and WebSocket), in order */
  requests: string[]
  /** the ones to a host not allowed (aborted) */
  outside: string[]
  /** console messages of type error, and failed requests we did not abort */
  consoleErrors: string[]
  /** exceptions the page did not catch */
  pageErrors: string[]
  /** another page, in a context of its own (a new session: empty sessionStorage), recorded into the same lists */
  isolatedPage (): Promise<Page>
  /** a screenshot of the whole page under .tmp/screenshots/; returns its path */
  screenshot (name: string): Promise<string>
  close (): Promise<void>
}

const LOCAL_SCHEMES = new Set(['data:', 'blob:', 'about:'])
const SCREENSHOTS = path.resolve(import.meta.dirname, '../../.tmp/screenshots')

function isAllowed (url: string, hosts: ReadonlySet<string>): boolean {
  const u = new URL(url)
  return LOCAL_SCHEMES.has(u.protocol) || hosts.has(u.hostname)
}

/** Record what `page` asks for and logs into `session`, aborting requests to hosts not allowed. */
async function watch (page: Page, session: BrowserSession, hosts: ReadonlySet<string>): Promise<void> {
  await page.setRequestInterception(true)
  page.on('request', (request) => {
    const url = request.url()
    session.requests.push(url)
    if (isAllowed(url, hosts)) {
      void request.continue()
    } else {
      session.outside.push(url)
      void request.abort('blockedbyclient')
    }
  })
  page.on('requestfailed', (request) => {
    const url = request.url()
    if (!session.outside.includes(url)) session.consoleErrors.push(`request failed: ${url} ${request.failure()?.errorText ?? ''}`)
  })
  page.on('console', (message) => {
    if (message.type() === 'error') session.consoleErrors.push(`${message.text()} (${message.location().url ?? ''})`)
  })
  page.on('pageerror', (err) => { session.pageErrors.push(err instanceof Error ? err.stack ?? err.message : String(err)) })
  const cdp = await page.createCDPSession()
  await cdp.send('Network.enable')
  cdp.on('Network.webSocketCreated', ({ url }) => {
    session.requests.push(url)
    if (!isAllowed(url, hosts)) session.outside.push(url)
  })
}

/** Start Chromium headless with one page (1280×900) that records what it does. */
export async function openBrowser ({ allowedHosts = ['127.0.0.1'] }: { allowedHosts?: string[] } = {}): Promise<BrowserSession> {
  const executablePath = await ensureChromium()
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // no sandbox as root; nothing of Chromium's own calling home (updates, sync, safe browsing)
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-default-apps', '--no-first-run', '--disable-features=Translate,OptimizationHints,MediaRouter'],
    defaultViewport: { width: 1280, height: 900 }
  })
  try {
    const page = await browser.newPage()
    const hosts = new Set(allowedHosts)
    const session: BrowserSession = {
      browser,
      page,
      requests: [],
      outside: [],
      consoleErrors: [],
      pageErrors: [],
      async isolatedPage () {
        const context = await browser.createBrowserContext()
        const other = await context.newPage()
        await watch(other, session, hosts)
        return other
      },
      async screenshot (name) {
        fs.mkdirSync(SCREENSHOTS, { recursive: true })
        const file = path.join(SCREENSHOTS, `${name}.png`)
        await page.screenshot({ path: file, fullPage: true })
        return file
      },
      close: () => browser.close()
    }
    await watch(page, session, hosts)
    return session
  } catch (err) {
    await browser.close()
    throw err
  }
}
