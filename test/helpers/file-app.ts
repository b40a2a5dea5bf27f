// The app over a JSON Lines file (`--source file:PATH`) at a fixed clock, run until the file is read.
import { type App, buildApp } from '../../src/app/index.js'
import { loadConfig } from '../../src/config.js'

/** `settings`: more flags, as config keys (e.g. { enrichBudgetMs: '1m' }) */
export async function runFile (dataDir: string, path: string, now: number, settings: Record<string, string> = {}): Promise<App> {
  const config = loadConfig({}, { dataDir, source: `file:${path}`, logLevel: 'silent', seedDays: '0', ...settings })
  const app = await buildApp(config, { now: () => now, schedule: false })
  await app.startSource()
  await app.source?.done
  return app
}
