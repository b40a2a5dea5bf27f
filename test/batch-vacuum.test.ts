// Retention on real Parquet. Failures this guards against: vacuum removing bronze whose events
// gold does not count yet (a late file not rebuilt, an hour not built); removing a gold file the
// tables hold, or one they removed less than the retention ago (a reader may still be on that
// version); touching `_delta_log`; the batch job rebuilding a date whose bronze vacuum removed
// (which would wipe that date's gold).
import assert from 'node:assert/strict'
import { access, readdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runBatch } from '../src/batch/batch-job.js'
import { listBronzeHours, readBronzeRetention } from '../src/batch/bronze-layout.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { hourlyTableDir } from '../src/batch/delta/own-layout.js'
import { tableRetention, vacuum } from '../src/batch/vacuum.js'
import { DAY_MS, HOUR_MS, MINUTE_MS, utcDate } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { goldState, listedFiles, logText } from './helpers/own-gold.js'
import { tempData } from './helpers/temp-data.js'
import { DEFAULTS, SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1)
const D = (n: number): number => T0 + n * DAY_MS
const LATENESS = MINUTE_MS

const tmp = tempData('hourglass-vacuum-')

async function assertListedExist (dataDir: string): Promise<void> {
  for (const f of listedFiles((await goldState(tmp.db, dataDir))!)) await access(join(dataDir, f))
}

async function goldEquals (dataDir: string, events: Parameters<typeof expected>[0], completeUntil: number): Promise<void> {
  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  try {
    assertRowsEqual(await reader.query(reader.snapshot()!, D(0), D(10), {}), expected(events, D(0), completeUntil))
    assertRowsEqual(await reader.query(reader.snapshot()!, D(0), D(10), {}, 'day'), expected(events, D(0), completeUntil, DAY_MS))
  } finally {
    await reader.close()
  }
}

test('vacuum: bronze past retention goes by whole settled dates; a late file or an unbuilt hour keeps it; gold files the tables removed stay for the retention, a killed run\'s files once older than it', async (t) => {
  const dataDir = join(tmp.dir, 'v')
  const maker = new EventMaker(21)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  t.after(() => sink.close())
  feed.add(maker.make(2000, D(0), D(3) + 6 * HOUR_MS))
  await sink.flush()
  const r1 = await runBatch({ dataDir, db: tmp.db, now: D(3) + 7 * HOUR_MS, allowedLatenessMs: LATENESS })
  const completeUntil = D(3) + 5 * HOUR_MS
  assert.equal(r1.completeUntil, completeUntil)
  // a run that fails before publishing leaves orphan gold files
  feed.add(maker.make(50, D(1) + 5 * HOUR_MS, D(1) + 6 * HOUR_MS)) // late file for date 2 of 4
  await sink.flush()
  let orphans: string[] = []
  await assert.rejects(runBatch({ dataDir, db: tmp.db, now: D(3) + 8 * HOUR_MS, allowedLatenessMs: LATENESS, beforePublish: (f) => { orphans = f; throw new Error('crash') } }))
  assert.ok(orphans.length > 0)
  // the failed run's files as written when it ran (the runs here keep a clock of their own)
  for (const f of orphans) await utimes(join(dataDir, f), new Date(D(3) + 8 * HOUR_MS), new Date(D(3) + 8 * HOUR_MS))
  const log = await logText(dataDir)

  // nothing at all is past retention yet; the failed run's files are younger than the gold retention
  const young = await vacuum({ dataDir, goldRetentionMs: 2 * HOUR_MS, retainMs: 10 * DAY_MS, now: D(3) + 9 * HOUR_MS })
  assert.deepEqual(young.goldFiles, [])
  for (const f of orphans) await access(join(dataDir, f))
  // an hour later they are older than it: they go; files in the tables stay
  const v0 = await vacuum({ dataDir, goldRetentionMs: 30 * MINUTE_MS, retainMs: 10 * DAY_MS, now: D(3) + 9 * HOUR_MS })
  assert.deepEqual(v0.bronzeDates, [])
  assert.deepEqual(v0.goldFiles.sort(), orphans.sort(), 'orphans of the failed run go; files in the tables stay')

  // dates 0..2 past retention: date 0 goes; date 1 has a late file not yet rebuilt, so it and
  // everything after stays
  const v1 = await vacuum({ dataDir, goldRetentionMs: DEFAULTS.goldRetentionMs, retainMs: 12 * HOUR_MS, now: D(3) + 12 * HOUR_MS })
  assert.deepEqual(v1.bronzeDates, [utcDate(D(0))])
  assert.equal(v1.bronzeKept?.date, utcDate(D(1)))
  assert.match(v1.bronzeKept!.reason, /late file/)
  assert.equal(await readBronzeRetention(dataDir), D(1))
  assert.deepEqual([...(await listBronzeHours(dataDir)).keys()].filter((h) => h < D(1)), [])
  await assertListedExist(dataDir)

  // the batch rebuilds date 1 only (date 0 is frozen: its bronze is gone, its gold stays)
  const r2 = await runBatch({ dataDir, db: tmp.db, now: D(3) + 13 * HOUR_MS, allowedLatenessMs: LATENESS })
  assert.deepEqual(r2.datesRebuilt, [utcDate(D(1))])
  await goldEquals(dataDir, feed.all, completeUntil)
  assert.ok(r2.superseded.every((f) => !f.includes(`date=${utcDate(D(0))}`)), 'the frozen date keeps its files')

  // superseded files stay while their removal is younger than the retention (a reader on the older version reads them)
  const v2 = await vacuum({ dataDir, retainMs: 10 * DAY_MS, goldRetentionMs: DEFAULTS.goldRetentionMs, now: D(3) + 14 * HOUR_MS })
  assert.deepEqual(v2.goldFiles, [])
  for (const f of r2.superseded) await access(join(dataDir, f))
  const v3 = await vacuum({ dataDir, retainMs: 10 * DAY_MS, goldRetentionMs: 30 * MINUTE_MS, now: D(3) + 14 * HOUR_MS })
  assert.deepEqual(v3.goldFiles.sort(), [...r2.superseded].sort())
  await assertListedExist(dataDir)
  assert.ok((await logText(dataDir)).startsWith(log.slice(0, log.indexOf('daily_metrics'))), 'the hourly log\'s earlier commits are untouched')
  assert.deepEqual((await readdir(join(hourlyTableDir(dataDir), '_delta_log'))).filter((n) => n.endsWith('.json')).length, 3, 'no commit removed')
  // a table's delta.deletedFileRetentionDuration wins over the setting
  const withRetention = (v: string): Parameters<typeof tableRetention>[0] =>
    ({ metadata: { schemaString: '', partitionColumns: [], configuration: { 'delta.deletedFileRetentionDuration': v } } }) as never
  assert.equal(tableRetention(withRetention('interval 2 hours'), DAY_MS), 2 * HOUR_MS)
  assert.equal(tableRetention(withRetention('interval 7 days'), HOUR_MS), 7 * DAY_MS)
  assert.equal(tableRetention(withRetention('soon'), HOUR_MS), HOUR_MS)
  assert.equal(tableRetention(null, HOUR_MS), HOUR_MS)

  // now dates 1 and 2 are settled; date 3 is not built to its end, whatever the retention
  const v4 = await vacuum({ dataDir, goldRetentionMs: DEFAULTS.goldRetentionMs, retainMs: 0, now: D(5) })
  assert.deepEqual(v4.bronzeDates, [utcDate(D(1)), utcDate(D(2))])
  assert.match(v4.bronzeKept?.reason ?? '', /not yet built/)
  assert.ok((await listBronzeHours(dataDir)).size > 0)
  assert.deepEqual((await readdir(join(dataDir, 'bronze', 'events'))).sort(), [`date=${utcDate(D(3))}`])
  const r3 = await runBatch({ dataDir, db: tmp.db, now: D(5), allowedLatenessMs: LATENESS })
  assert.equal(r3.published, false, 'no rebuild of dates whose bronze is gone')
  await goldEquals(dataDir, feed.all, completeUntil)
  await assertListedExist(dataDir)

  const dry = await vacuum({ dataDir, goldRetentionMs: DEFAULTS.goldRetentionMs, retainMs: 0, now: D(5), dryRun: true })
  assert.deepEqual(dry.bronzeDates, [])
})
