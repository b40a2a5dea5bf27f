// Headless Chromium for browser tests: Debian's `chromium` package, installed with apt-get when
// missing (no browser download of its own). Tests drive it with puppeteer-core (test/helpers/browser.ts).
import fs from 'node:fs'
import { type Log, makeLog } from './common.js'
import { aptInstall } from './install.js'
import { which } from './process.js'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser']

function findChromium (): string | null {
  const fromEnv = process.env.SERVICES_CHROMIUM
  if (fromEnv) return fromEnv
  return which('chromium') ?? which('chromium-browser') ?? CANDIDATES.find((p) => fs.existsSync(p)) ?? null
}

/** Path of the Chromium binary (SERVICES_CHROMIUM, or Debian's, installed when missing). */
export async function ensureChromium ({ log }: { log?: Log } = {}): Promise<string> {
  const found = findChromium()
  if (found) return found
  const say = makeLog(log)
  say('chromium not found: installing the Debian package')
  await aptInstall(['chromium'], say)
  const p = findChromium()
  if (!p) throw new Error('chromium still missing after apt-get install chromium')
  return p
}
