// Compaction and vacuum on timers inside `serve`. A data folder holds four days of bronze
// in many small files per hour, gold built from it, and a late file that makes the app's first
// batch run rebuild a date (so an older gold file is superseded). A serve with one-second
// intervals must merge the small files of each finished hour, remove the bronze dates past the
// retention and the superseded gold file, never overlap the batch job (which holds the same
// lock: an overlap would say "another run is in progress"), and leave every query answer as it
// was, also for a fresh process reading the folder afterwards, with no rebuild caused.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { runBatch } from '../src/batch/batch-job.js'
import { isCompactedName } from '../src/batch/bronze-coverage.js'
import { bronzeWatermark, listBronzeHours } from '../src/batch/bronze-layout.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { loadConfig } from '../src/config.js'
import { DAY_MS, HOUR_MS, iso, MINUTE_MS, utcDate } from '../src/model/time.js'
import { EventMaker, expected, Feed } from './helpers/bronze.js'
import { goldState, listedFiles } from './helpers/own-gold.js'
import { tempData } from './helpers/temp-data.js'
import { until } from './helpers/wait.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1)
const D = (n: number): number => T0 + n * DAY_MS
// the clock: half past noon on the fourth day, moving with the wall clock
const realStart = Date.now()
const now = (): number => D(3) + 12 * HOUR_MS + 30 * MINUTE_MS + (Date.now() - realStart)

const QUERIES = [
  `/v1/metrics?from=${iso(D(0))}&to=${iso(D(3))}&granularity=hour&group_by=event_type,region`,
  `/v1/metrics?from=${iso(D(0))}&to=${iso(D(3))}&granularity=day&group_by=region`,
  `/v1/metrics?from=${iso(D(1) + 5 * HOUR_MS)}&to=${iso(D(3) + 5 * HOUR_MS)}&granularity=hour&event_type=purchase,view`
]

const tmp = tempData('hourglass-upkeep-')

async function startApp (dataDir: string, schedule: boolean, progress: string[]): Promise<App> {
  const config = loadConfig({}, {
    dataDir,
    source: 'none',
    seedDays: '0',
    logLevel: 'silent',
    port: '0',
    compactIntervalMs: '1s',
    vacuumIntervalMs: '1s',
    bronzeRetentionMs: '24h',
    goldRetentionMs: '0s'
  })
  return await buildApp(config, { now, schedule, progress: (line) => progress.push(line) })
}

async function answers (app: App): Promise<string[]> {
  const out: string[] = []
  for (const url of QUERIES) {
    const res = await app.server.inject(url)
    assert.equal(res.statusCode, 200, res.body)
    const { rows, meta } = res.json<{ rows: unknown[], meta: { boundary: string, batch_version: number, complete: boolean, gaps: unknown[], sources: unknown[] } }>()
    out.push(JSON.stringify({ rows, boundary: meta.boundary, batch_version: meta.batch_version, complete: meta.complete, gaps: meta.gaps, sources: meta.sources }))
  }
  return out
}

test('serve compacts small bronze files and vacuums old ones on its timers, in turn with the batch job, without changing any answer', { timeout: 180_000 }, async () => {
  const dataDir = join(tmp.dir, 'data')
  const maker = new EventMaker(17)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  for (let k = 0; k < 3; k++) { // three flushes: several small files per hour and partition
    feed.add(maker.make(4000, D(0), D(3) + 6 * HOUR_MS))
    await sink.flush()
  }
  const v1 = await runBatch({ dataDir, db: tmp.db, now: D(3) + 7 * HOUR_MS, allowedLatenessMs: MINUTE_MS })
  assert.equal(v1.completeUntil, D(3) + 5 * HOUR_MS)
  feed.add(maker.make(20, D(2), D(2) + HOUR_MS)) // late: the app's first batch run rebuilds that date
  await sink.close()
  const supersededByStart = (await goldState(tmp.db, dataDir))!.hourly.files.filter((f) => f.includes(`date=${utcDate(D(2))}`))
  assert.equal(supersededByStart.length, 1)
  const smallBefore = await listBronzeHours(dataDir)
  const wmHour = Math.floor((await bronzeWatermark(dataDir))! / HOUR_MS) * HOUR_MS

  // before: the answers with nothing scheduled
  let progress: string[] = []
  let app = await startApp(dataDir, false, progress)
  let want: string[]
  try {
    assert.ok(progress.some((l) => /^batch: published gold v2: .*rebuilt \(2024-05-03\)/.test(l)), progress.join('\n'))
    want = await answers(app)
  } finally {
    await app.close()
  }
  // the answers are those of the events: every unique event of [D0, D3) counted once
  const total = [...expected(feed.all, D(0), D(3)).values()].reduce((n, p) => n + p.events, 0)
  const rows = (JSON.parse(want[0]!) as { rows: Array<{ total_events: number }> }).rows
  assert.equal(rows.reduce((n, r) => n + r.total_events, 0), total)

  // serve with one-second intervals; the batch job asked to run again and again meanwhile
  progress = []
  app = await startApp(dataDir, true, progress)
  try {
    let batches = 0
    let hammering = true
    const hammer = (async () => {
      while (hammering) {
        await app.runBatchNow()
        batches++
      }
    })()
    await until('a compaction that merged files and a vacuum that removed bronze', () =>
      progress.some((l) => /^compact: \d+ hours, [1-9]\d* files merged into [1-9]/.test(l)) &&
      progress.some((l) => /^vacuum: bronze [1-9]\d* dates/.test(l)))
    await until('a second compaction (the timer goes on)', () => progress.filter((l) => /^compact: /.test(l)).length >= 2)
    hammering = false
    await hammer
    assert.ok(batches > 0)
    assert.deepEqual(progress.filter((l) => /another run is in progress|failed/.test(l)), [], 'batch, compaction and vacuum never overlapped')
    assert.deepEqual(await answers(app), want, 'the answers of the serving process are unchanged')
  } finally {
    await app.close()
  }
  const vacuumLine = progress.find((l) => /^vacuum: bronze /.test(l))!
  assert.match(vacuumLine, /^vacuum: bronze 2 dates \(\d+ files\), gold 2 files removed/) // the hourly and daily files of the rebuilt date

  // on disk: D0 and D1 gone from bronze; every finished hour of D2 on is one compacted file
  const afterHours = await listBronzeHours(dataDir)
  assert.deepEqual([...afterHours.keys()], [...smallBefore.keys()].filter((h) => h >= D(2)))
  for (const [h, files] of afterHours) {
    if (h >= wmHour) continue // the hour still being written is not compacted
    assert.equal(files.length, 1, `${iso(h)}: ${files.join(', ')}`)
    assert.ok(isCompactedName(files[0]!))
    assert.ok(smallBefore.get(h)!.length >= 6, 'there were small files to merge')
  }
  const m = (await goldState(tmp.db, dataDir))!
  assert.equal(m.version, 2)
  const goldOnDisk = (await readdir(join(dataDir, 'gold'), { recursive: true })).filter((f) => f.endsWith('.parquet')).map((f) => 'gold/' + f.split('\\').join('/'))
  assert.deepEqual(goldOnDisk.sort(), listedFiles(m).sort(), 'only files the tables hold stay (gold retention 0)')
  assert.ok(supersededByStart.every((f) => !goldOnDisk.includes(f)))

  // a fresh process on the folder: the same answers, read from disk; no rebuild is caused
  progress = []
  app = await startApp(dataDir, false, progress)
  try {
    assert.deepEqual(await answers(app), want, 'the answers read afresh are unchanged')
    const r = await app.runBatchNow()
    assert.equal(r.published, false, 'compaction and vacuum cause no rebuild')
  } finally {
    await app.close()
  }
})
