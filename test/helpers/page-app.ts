// The real app for the browser tests, as `npm start` runs it (synthetic history seeded, gold built,
// the synthetic stream feeding the speed layer) on a loopback port, with API keys required (unless
// `auth: false`), on the wall clock (the page computes its ranges from the browser's clock).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type App, buildApp } from '../../src/app/index.js'
import { loadConfig } from '../../src/config.js'
import { makeTestKeys, type TestKeys } from './auth.js'

export interface PageApp {
  app: App
  /** http://127.0.0.1:PORT */
  base: string
  keys: TestKeys
  close (): Promise<void>
}

export async function startPageApp ({ seedDays = 2, auth = true }: { seedDays?: number, auth?: boolean } = {}): Promise<PageApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hourglass-pages-'))
  const keys = await makeTestKeys()
  const config = loadConfig({}, {
    dataDir, seedDays: String(seedDays), syntheticRate: '5', source: 'synthetic', logLevel: 'silent', port: '0', host: '127.0.0.1', ...(auth ? { apiKeysFile: keys.file } : {})
  })
  const cleanup = async (): Promise<void> => {
    await rm(dataDir, { recursive: true, force: true })
    await keys.close()
  }
  let app: App
  try {
    app = await buildApp(config)
  } catch (err) {
    await cleanup()
    throw err
  }
  const close = async (): Promise<void> => {
    await app.close()
    await cleanup()
  }
  try {
    const base = await app.server.listen({ port: config.port, host: config.host })
    await app.startSource()
    return { app, base, keys, close }
  } catch (err) {
    await close()
    throw err
  }
}
