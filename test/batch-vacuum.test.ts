// Retention on real Parquet. Failures this guards against: vacuum removing bronze whose events
// gold does not count yet (a late file not rebuilt, an hour not built); removing a gold file a
// live or recent manifest lists; the batch job rebuilding a date whose bronze vacuum removed
// (which would wipe that date's gold).
import assert from 'node:assert/strict'
import { access, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runBatch } from '../src/batch/batch-job.js'
import { listBronzeHours, readBronzeRetention } from '../src/batch/bronze-layout.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { listedFiles, listManifestHistory, readManifest } from '../src/batch/manifest.js'
import { vacuum } from '../src/batch/vacuum.js'
import { DAY_MS, HOUR_MS, MINUTE_MS, utcDate } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { tempData } from './helpers/temp-data.js'
import { DEFAULTS, SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1)
const D = (n: number): number => T0 + n * DAY_MS
const LATENESS = MINUTE_MS

const tmp = tempData('hourglass-vacuum-')

async function assertListedExist (dataDir: string): Promise<void> {
  for (const f of listedFiles((await readManifest(dataDir))!)) await access(join(dataDir, f))
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

test('vacuum: bronze past retention goes by whole settled dates; a late file or an unbuilt hour keeps it; gold files of the last N versions stay', async (t) => {
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

  // nothing at all is past retention yet
  const v0 = await vacuum({ dataDir, keepVersions: DEFAULTS.goldKeepVersions, retainMs: 10 * DAY_MS, now: D(3) + 9 * HOUR_MS })
  assert.deepEqual(v0.bronzeDates, [])
  assert.deepEqual(v0.goldFiles.sort(), orphans.sort(), 'orphans of the failed run go; listed files stay')

  // dates 0..2 past retention: date 0 goes; date 1 has a late file not yet rebuilt, so it and
  // everything after stays
  const v1 = await vacuum({ dataDir, keepVersions: DEFAULTS.goldKeepVersions, retainMs: 12 * HOUR_MS, now: D(3) + 12 * HOUR_MS })
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
  const m2 = (await readManifest(dataDir))!
  assert.ok(!Object.keys(m2.built_from ?? {}).includes(utcDate(D(0))), 'no fingerprints kept for frozen dates')

  // superseded files stay while a kept version lists them; with keepVersions 1 they go
  const v2 = await vacuum({ dataDir, retainMs: 10 * DAY_MS, keepVersions: 10, now: D(3) + 14 * HOUR_MS })
  assert.deepEqual(v2.goldFiles, [])
  for (const f of r2.superseded) await access(join(dataDir, f))
  const v3 = await vacuum({ dataDir, retainMs: 10 * DAY_MS, keepVersions: 1, now: D(3) + 14 * HOUR_MS })
  assert.deepEqual(v3.goldFiles.sort(), [...r2.superseded].sort())
  assert.deepEqual(v3.manifests, [1])
  assert.deepEqual(await listManifestHistory(dataDir), [2])
  await assertListedExist(dataDir)

  // now dates 1 and 2 are settled; date 3 is not built to its end, whatever the retention
  const v4 = await vacuum({ dataDir, keepVersions: DEFAULTS.goldKeepVersions, retainMs: 0, now: D(5) })
  assert.deepEqual(v4.bronzeDates, [utcDate(D(1)), utcDate(D(2))])
  assert.match(v4.bronzeKept?.reason ?? '', /not yet built/)
  assert.ok((await listBronzeHours(dataDir)).size > 0)
  assert.deepEqual((await readdir(join(dataDir, 'bronze', 'events'))).sort(), [`date=${utcDate(D(3))}`])
  const r3 = await runBatch({ dataDir, db: tmp.db, now: D(5), allowedLatenessMs: LATENESS })
  assert.equal(r3.published, false, 'no rebuild of dates whose bronze is gone')
  await goldEquals(dataDir, feed.all, completeUntil)
  await assertListedExist(dataDir)

  const dry = await vacuum({ dataDir, keepVersions: DEFAULTS.goldKeepVersions, retainMs: 0, now: D(5), dryRun: true })
  assert.deepEqual(dry.bronzeDates, [])
})
