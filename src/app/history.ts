// History, before anything serves: an empty data folder seeded with synthetic history
// (`--source synthetic`), gold built for every complete hour (by the data folder's leader only),
// and the gold reader that follows the versions published later (by this process or another).
import { GoldReader, runBatch } from '../batch/index.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'
import { seedHistory } from './seed.js'

export interface History extends Part {
  readonly gold: GoldReader
}

/** `leading`: whether this process leads its data folder (only the leader builds gold) */
export async function openHistory (ctx: AppContext, leading: boolean): Promise<History> {
  const { config, dataDir, db, now, progress, log } = ctx
  if (config.source === 'synthetic' && config.seedDays > 0) {
    ctx.stage('seeding history')
    await seedHistory({ config, dataDir, db, now: now(), progress, onlyIfEmpty: true })
  }
  if (leading) {
    ctx.stage('building gold')
    await runBatch({ dataDir, db, now: now(), allowedLatenessMs: config.allowedLatenessMs, onProgress: progress })
  }
  const gold = await GoldReader.open({ dataDir, db, pollMs: config.goldPollMs, onError: (err) => log.error({ err }, 'gold manifest could not be loaded') })
  return { name: 'gold reader', gold, close: () => gold.close() }
}
