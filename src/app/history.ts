// History, before anything serves: an empty data folder seeded with synthetic history
// (`--source synthetic`), gold from before the Delta tables migrated to them and gold built for every
// complete hour (both by the data folder's leader only), and the gold reader that follows the versions
// published later (by this process or another).
// With `--gold delta:PATH` gold is a Delta table another engine writes: no batch job runs, and the
// reader follows the table's versions (a table Hourglass cannot read stops the start).
import { resolve } from 'node:path'
import { DeltaGoldSource, GoldReader, migrateManifestGold, runBatch } from '../batch/index.js'
import type { Config } from '../config.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'
import { seedHistory } from './seed.js'

export interface History extends Part {
  readonly gold: GoldReader
}

/** The folder of a `delta:PATH` setting (null: not a Delta table setting). */
export function deltaPath (setting: string): string | null {
  return setting.startsWith('delta:') ? resolve(setting.slice('delta:'.length)) : null
}

/** Whether this configuration's gold is built by Hourglass's own batch job. */
export function ownGold (config: Config): boolean {
  return deltaPath(config.gold) === null
}

/** `leading`: whether this process leads its data folder (only the leader builds gold) */
export async function openHistory (ctx: AppContext, leading: boolean): Promise<History> {
  const { config, dataDir, db, now, progress, log } = ctx
  if (config.source === 'synthetic' && config.seedDays > 0) {
    ctx.stage('seeding history')
    await seedHistory({ config, dataDir, db, now: now(), progress, onlyIfEmpty: true })
  }
  const hourly = deltaPath(config.gold)
  if (hourly === null) {
    if (leading) {
      ctx.stage('migrating gold')
      await migrateManifestGold({ dataDir, db, now: now(), onProgress: progress })
      ctx.stage('building gold')
      await runBatch({ dataDir, db, now: now(), allowedLatenessMs: config.allowedLatenessMs,
        onProgress: progress, checkpointInterval: config.deltaCheckpointInterval })
    }
    const gold = await GoldReader.open({ dataDir, db, pollMs: config.goldPollMs, onError: (err) => log.error({ err }, 'gold could not be loaded') })
    return { name: 'gold reader', gold, close: () => gold.close() }
  }
  ctx.stage('reading the gold Delta table')
  const listing = new DeltaGoldSource({ db, hourly, daily: deltaPath(config.goldDaily) })
  try {
    // at start a table Hourglass cannot read is refused with the reason; later versions are checked as they come
    const first = await listing.latest()
    if (first !== null) {
      progress(`gold: Delta table ${hourly} version ${first.snapshot.version}, complete until ${new Date(first.snapshot.completeUntil ?? 0).toISOString()}`)
    }
  } catch (err) {
    await listing.close()
    throw err
  }
  const gold = await GoldReader.open({
    dataDir, db, pollMs: config.goldPollMs, listing, onError: (err) => log.error({ err }, 'gold Delta table could not be read')
  })
  return { name: 'gold reader', gold, close: async () => { await gold.close(); await listing.close() } }
}
