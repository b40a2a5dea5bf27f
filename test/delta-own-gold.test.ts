// Hourglass's own gold as Delta tables. Failures this guards against: tables another engine cannot read, or reads
// with other rows than Hourglass serves (delta-rs, from PyPI, reads both tables); a run that dies between its daily
// and its hourly commit changing what is served; two writers of one version both winning; a data folder with the
// manifest-based gold of older versions served differently, or rebuilt, after `hourglass migrate`.
import assert from 'node:assert/strict'
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { buildApp } from '../src/app/index.js'
import { runBatch } from '../src/batch/batch-job.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { CommitConflictError, writeCommit } from '../src/batch/delta/commit.js'
import { dailyTableDir, hourlyTableDir } from '../src/batch/delta/own-layout.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { loadConfig } from '../src/config.js'
import type { PartialRow } from '../src/model/partials.js'
import { RELATIVE_ACCURACY, ZERO_BIN } from '../src/model/sketch.js'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { hourglass } from './helpers/cli.js'
import { DeltaRs, type GoldRow, sortRows } from './helpers/delta-rs.js'
import { goldState, type GoldState } from './helpers/own-gold.js'
import { SINK_DEFAULTS } from './helpers/settings.js'
import { tempData } from './helpers/temp-data.js'

const T0 = Date.UTC(2024, 4, 1)
const H = (n: number): number => T0 + n * HOUR_MS
const LATENESS = MINUTE_MS
const tmp = tempData('hourglass-own-delta-')
let rs: DeltaRs
before(async () => { rs = await DeltaRs.open() }, { timeout: 900_000 })

/** Gold rows as the contract's columns, from partial rows (what Hourglass serves). */
function asGoldRows (rows: readonly PartialRow[]): GoldRow[] {
  return rows.map((r) => ({
    window_start: new Date(r.window_start).toISOString(),
    event_type: r.event_type,
    region: r.region,
    total_events: r.partials.events,
    latency_sum: r.partials.latency_sum,
    latency_count: r.partials.latency_count,
    revenue_cents: r.partials.revenue_cents,
    response_bins: [...r.partials.response].sort((a, b) => a[0] - b[0])
  }))
}

/** The contract's columns of every row of the files, read by DuckDB. */
async function fileRows (dataDir: string, files: string[]): Promise<GoldRow[]> {
  const conn = await tmp.db.connect()
  try {
    const out: GoldRow[] = []
    for (const f of files) {
      const rows = await conn.rows(`SELECT strftime(window_start, '%Y-%m-%dT%H:%M:%S.000Z') AS ws, event_type, region, total_events, latency_sum,
        latency_count, revenue_cents, response_bins FROM read_parquet($f, hive_partitioning = false)`, { f: join(dataDir, f) })
      for (const r of rows) {
        out.push({
          window_start: r.ws as string,
          event_type: r.event_type as string,
          region: r.region as string,
          total_events: Number(r.total_events),
          latency_sum: r.latency_sum as number,
          latency_count: Number(r.latency_count),
          revenue_cents: Number(r.revenue_cents),
          response_bins: (r.response_bins as Array<{ bin: number, n: bigint }>).map((b) => [b.bin, Number(b.n)])
        })
      }
    }
    return out
  } finally {
    tmp.db.release(conn)
  }
}

/** Bronze over [H(0), H(hours)) in a new data folder. */
async function bronze (name: string, hours: number): Promise<{ dataDir: string, feed: Feed, sink: BronzeSink, maker: EventMaker }> {
  const dataDir = join(tmp.dir, name)
  const maker = new EventMaker(17)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  feed.add(maker.make(3000, H(0), H(hours) + 30 * MINUTE_MS))
  await sink.flush()
  return { dataDir, feed, sink, maker }
}

async function served (dataDir: string, granularity: 'hour' | 'day'): Promise<{ version: number, rows: PartialRow[] }> {
  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  try {
    const snap = reader.snapshot()
    assert.ok(snap !== null, 'gold is served')
    return { version: snap.version, rows: await reader.query(snap, T0 - DAY_MS, T0 + 10 * DAY_MS, {}, granularity) }
  } finally {
    await reader.close()
  }
}

test('delta-rs reads our hourly and daily tables: the rows Hourglass serves and our files hold, after a rebuild too', { timeout: 900_000 }, async (t) => {
  const { dataDir, feed, sink, maker } = await bronze('delta-rs', 50)
  t.after(() => sink.close())
  assert.equal((await runBatch({ dataDir, db: tmp.db, now: H(51), allowedLatenessMs: LATENESS })).version, 1)
  feed.add(maker.make(40, H(5), H(6))) // late: the first date is rebuilt (removes in the next commit)
  await sink.flush()
  const r2 = await runBatch({ dataDir, db: tmp.db, now: H(52), allowedLatenessMs: LATENESS })
  assert.deepEqual(r2.datesRebuilt, ['2024-05-01'])
  const state = (await goldState(tmp.db, dataDir))!
  assert.equal(state.version, 2)

  const hourly = await rs.read(hourlyTableDir(dataDir))
  const daily = await rs.read(dailyTableDir(dataDir))
  assert.equal(hourly.length, state.hourly.rows)
  assert.equal(daily.length, state.daily.rows)
  assert.deepEqual(sortRows(hourly), sortRows(await fileRows(dataDir, state.hourly.files)), 'delta-rs reads the rows of the files our version holds')
  assert.deepEqual(sortRows(daily), sortRows(await fileRows(dataDir, state.daily.files)))
  const h = await served(dataDir, 'hour')
  assert.equal(h.version, 2)
  assert.deepEqual(sortRows(hourly), sortRows(asGoldRows(h.rows)), 'delta-rs reads what Hourglass serves')
  const d = await served(dataDir, 'day')
  assert.deepEqual(sortRows(daily), sortRows(asGoldRows(d.rows.filter((r) => r.window_start + DAY_MS <= H(48)))), 'daily: the complete days')
  assertRowsEqual(h.rows, expected(feed.all, H(0), H(50)))
})

test('a run that dies between its daily and its hourly commit publishes nothing; the next run publishes normally', async (t) => {
  const { dataDir, feed, sink, maker } = await bronze('between-commits', 30)
  t.after(() => sink.close())
  await runBatch({ dataDir, db: tmp.db, now: H(31), allowedLatenessMs: LATENESS })
  const before = { hour: await served(dataDir, 'hour'), day: await served(dataDir, 'day') }
  feed.add(maker.make(500, H(30) + 30 * MINUTE_MS, H(49)))
  feed.add(maker.make(30, H(2), H(3))) // late: the first date's daily file is replaced too
  await sink.flush()
  // the hourly commit cannot be written (its log folder is a file for a moment): the daily commit is made, then the run dies
  const log = join(hourlyTableDir(dataDir), '_delta_log')
  await assert.rejects(runBatch({
    dataDir,
    db: tmp.db,
    now: H(50),
    allowedLatenessMs: LATENESS,
    beforePublish: async () => { await rename(log, log + '.away'); await writeFile(log, '') }
  }), /EEXIST|ENOTDIR|exists|not a directory/)
  await rm(log)
  await rename(log + '.away', log)
  const dailyLog = (await readdir(join(dailyTableDir(dataDir), '_delta_log'))).filter((n) => n.endsWith('.json'))
  assert.equal(dailyLog.length, 3, 'the daily table holds the dead run\'s commit')
  assert.deepEqual({ hour: await served(dataDir, 'hour'), day: await served(dataDir, 'day') }, before, 'what is served is unchanged')
  assert.equal((await goldState(tmp.db, dataDir))!.daily_version, 1, 'the daily table is read at the version the hourly one names')

  const r = await runBatch({ dataDir, db: tmp.db, now: H(51), allowedLatenessMs: LATENESS })
  assert.equal(r.version, 2)
  const s = (await goldState(tmp.db, dataDir))!
  assert.equal(s.daily_version, 3)
  assert.deepEqual(s.daily.files.map((f) => f.split('/')[2]), ['date=2024-05-01', 'date=2024-05-02'], 'one daily file per complete date')
  assert.deepEqual(sortRows(await rs.read(dailyTableDir(dataDir))), sortRows(await fileRows(dataDir, s.daily.files)))
  assertRowsEqual((await served(dataDir, 'day')).rows, expected(feed.all, H(0), H(48), DAY_MS))
  assertRowsEqual((await served(dataDir, 'hour')).rows, expected(feed.all, H(0), H(48)))
})

test('two writers of one version: the other writer wins, this run publishes nothing and says so; the next run publishes', async (t) => {
  const { dataDir, feed, sink, maker } = await bronze('race', 10)
  t.after(() => sink.close())
  await runBatch({ dataDir, db: tmp.db, now: H(11), allowedLatenessMs: LATENESS })
  const before = await served(dataDir, 'hour')
  feed.add(maker.make(300, H(10) + 30 * MINUTE_MS, H(14)))
  await sink.flush()
  const other = { commitInfo: { timestamp: H(12), operation: 'OPTIMIZE', engineInfo: 'another writer' } }
  await assert.rejects(runBatch({
    dataDir,
    db: tmp.db,
    now: H(14),
    allowedLatenessMs: LATENESS,
    // the other writer commits the hourly table's next version while this run builds
    beforePublish: async () => { await writeCommit(hourlyTableDir(dataDir), 2, [other]) }
  }), (err: Error) => err instanceof CommitConflictError && /version 2 was committed by another writer during this run; nothing published/.test(err.message))
  const after = await served(dataDir, 'hour')
  assert.equal(after.version, 2, 'the other writer\'s version')
  assert.deepEqual(after.rows, before.rows, 'its commit changed no data; this run\'s is not there')
  const r = await runBatch({ dataDir, db: tmp.db, now: H(15), allowedLatenessMs: LATENESS })
  assert.equal(r.version, 3)
  assertRowsEqual((await served(dataDir, 'hour')).rows, expected(feed.all, H(0), H(13)))
})

/** The fixture: the files of our gold published the way older versions did, by gold/_manifest.json (v7) and its history. */
async function toManifestGold (dataDir: string, state: GoldState): Promise<void> {
  const manifest = {
    format: 'hourglass-gold/1',
    version: 7,
    published_at: new Date(H(41)).toISOString(),
    complete_until: state.complete_until,
    complete_from: state.complete_from,
    sketch: { kind: 'ddsketch-log', relative_accuracy: RELATIVE_ACCURACY, zero_bin: ZERO_BIN },
    tables: { hourly_metrics: state.hourly, daily_metrics: state.daily },
    built_from: state.built_from
  }
  for (const table of [hourlyTableDir(dataDir), dailyTableDir(dataDir)]) await rm(join(table, '_delta_log'), { recursive: true })
  await mkdir(join(dataDir, 'gold'), { recursive: true })
  await writeFile(join(dataDir, 'gold', '_manifest.json'), JSON.stringify(manifest, null, 2))
  await writeFile(join(dataDir, 'gold', '_manifest.v7.json'), JSON.stringify(manifest, null, 2))
}

test('hourglass migrate: manifest-based gold becomes the Delta tables (once), served the same, built on by the next run', async (t) => {
  const { dataDir, feed, sink, maker } = await bronze('migrate', 40)
  t.after(() => sink.close())
  await runBatch({ dataDir, db: tmp.db, now: H(41), allowedLatenessMs: LATENESS })
  const before = { hour: await served(dataDir, 'hour'), day: await served(dataDir, 'day') }
  const state = (await goldState(tmp.db, dataDir))!
  await toManifestGold(dataDir, state)
  assert.equal(await goldState(tmp.db, dataDir), null, 'no Delta gold before the migration')

  const m = await hourglass(['migrate', '--data', dataDir])
  assert.equal(m.code, 0, m.stderr)
  assert.match(m.stdout, /^migrate: gold manifest v7: 2 hourly and 1 daily files to the Delta tables$/m)
  assert.match(m.stdout, /^migrate: committed hourly_metrics v1 and daily_metrics v1$/m)
  assert.match(m.stdout, /^migrate: gold\/_manifest\.json renamed to gold\/_manifest\.migrated\.json/m)
  assert.deepEqual((await readdir(join(dataDir, 'gold'))).filter((n) => n.startsWith('_manifest')), ['_manifest.migrated.json'])
  assert.equal(JSON.parse(await readFile(join(dataDir, 'gold', '_manifest.migrated.json'), 'utf8')).version, 7)
  const again = await hourglass(['migrate', '--data', dataDir])
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /^migrate: no gold\/_manifest\.json: nothing to migrate$/m, 'a second migration does nothing')

  const migrated = (await goldState(tmp.db, dataDir))!
  assert.deepEqual({ ...migrated, version: 0, daily_version: 0 }, { ...state, version: 0, daily_version: 0 }, 'the same files, rows, boundary and built-from')
  assert.deepEqual({ hour: await served(dataDir, 'hour'), day: await served(dataDir, 'day') }, before, 'served the same')
  assert.deepEqual(sortRows(await rs.read(hourlyTableDir(dataDir))), sortRows(asGoldRows(before.hour.rows)))

  // the next run: nothing to rebuild (the fingerprints came along); new hours and a late file then build on it
  assert.equal((await runBatch({ dataDir, db: tmp.db, now: H(41) + 1000, allowedLatenessMs: LATENESS })).published, false)
  feed.add(maker.make(400, H(40) + 30 * MINUTE_MS, H(50)))
  feed.add(maker.make(20, H(1), H(2)))
  await sink.flush()
  const r = await runBatch({ dataDir, db: tmp.db, now: H(51), allowedLatenessMs: LATENESS })
  assert.equal(r.version, 2)
  assert.deepEqual(r.datesRebuilt, ['2024-05-01'])
  assertRowsEqual((await served(dataDir, 'hour')).rows, expected(feed.all, H(0), H(49)))
  assertRowsEqual((await served(dataDir, 'day')).rows, expected(feed.all, H(0), H(49), DAY_MS))
})

test('serve migrates manifest-based gold at start and serves it', async (t) => {
  const { dataDir, feed, sink } = await bronze('migrate-at-start', 30)
  await sink.close()
  await runBatch({ dataDir, db: tmp.db, now: H(31), allowedLatenessMs: LATENESS })
  await toManifestGold(dataDir, (await goldState(tmp.db, dataDir))!)
  const progress: string[] = []
  const config = loadConfig({}, { dataDir, source: 'none', seedDays: '0', logLevel: 'silent', port: '0' })
  const app = await buildApp(config, { now: () => H(31), schedule: false, progress: (l) => progress.push(l) })
  t.after(() => app.close())
  assert.ok(progress.some((l) => /^migrate: committed hourly_metrics v1 and daily_metrics v1$/.test(l)), progress.join('\n'))
  const res = await app.server.inject(`/v1/metrics?from=${new Date(H(0)).toISOString()}&to=${new Date(H(30)).toISOString()}&granularity=hour`)
  assert.equal(res.statusCode, 200, res.body)
  const body = res.json<{ rows: Array<{ total_events: number }>, meta: { batch_version: number } }>()
  assert.equal(body.meta.batch_version, 1)
  assert.equal(body.rows.reduce((n, r) => n + r.total_events, 0), [...expected(feed.all, H(0), H(30)).values()].reduce((n, p) => n + p.events, 0))
})

test('a daily commit after the pinned version that changes no data (compaction) is built on; a killed run\'s is not', async (t) => {
  const { dataDir, feed, sink, maker } = await bronze('daily-compacted', 50)
  t.after(() => sink.close())
  await runBatch({ dataDir, db: tmp.db, now: H(51), allowedLatenessMs: LATENESS })
  const s1 = (await goldState(tmp.db, dataDir))!
  const first = s1.daily.files[0]!
  assert.match(first, /date=2024-05-01/)
  // another writer rewrites the first date's daily file under a new name, as compaction does (dataChange false)
  const table = dailyTableDir(dataDir)
  const inTable = first.slice('gold/daily_metrics/'.length)
  const moved = inTable.replace(/[^/]+\.parquet$/, 'part-compacted.parquet')
  await copyFile(join(table, inTable), join(table, moved))
  const size = (await stat(join(table, moved))).size
  await writeCommit(table, (s1.daily_version ?? 0) + 1, [
    { commitInfo: { timestamp: H(51), operation: 'OPTIMIZE' } },
    { remove: { path: inTable, deletionTimestamp: H(51), dataChange: false, partitionValues: { date: '2024-05-01' }, size } },
    { add: { path: moved, partitionValues: { date: '2024-05-01' }, size, modificationTime: H(51), dataChange: false, stats: '{"numRecords": 1}' } }
  ])
  feed.add(maker.make(300, H(50) + 30 * MINUTE_MS, H(73)))
  await sink.flush()
  await runBatch({ dataDir, db: tmp.db, now: H(74), allowedLatenessMs: LATENESS })
  const s2 = (await goldState(tmp.db, dataDir))!
  assert.deepEqual(s2.daily.files.map((f) => f.split('/').slice(2).join('/')).filter((f) => f.startsWith('date=2024-05-01')), [moved],
    'the compacted file stays in the daily table')
  assertRowsEqual((await served(dataDir, 'day')).rows, expected(feed.all, H(0), H(72), DAY_MS))
})

test('the batch job checkpoints each table every N commits; with the JSON commits before it gone, Hourglass and delta-rs read the same', { timeout: 900_000 }, async (t) => {
  const { dataDir, feed, sink, maker } = await bronze('checkpointed', 6)
  t.after(() => sink.close())
  const lines: string[] = []
  const run = async (now: number): Promise<void> => {
    await runBatch({ dataDir, db: tmp.db, now, allowedLatenessMs: LATENESS, checkpointInterval: 2, onProgress: (l) => lines.push(l) })
  }
  await run(H(7)) // hourly v1, daily v1
  feed.add(maker.make(200, H(6) + 30 * MINUTE_MS, H(9)))
  await sink.flush()
  await run(H(10)) // v2: due
  const log = join(hourlyTableDir(dataDir), '_delta_log')
  const names = await readdir(log)
  assert.ok(names.includes('00000000000000000002.checkpoint.parquet'), names.join(', '))
  assert.ok(names.includes('_last_checkpoint'))
  assert.ok(lines.some((l) => /published gold v2 \(hourly checkpoint v2, daily checkpoint v2\)/.test(l)), lines.join('\n'))
  const before = await served(dataDir, 'hour')
  const viaRs = sortRows(await rs.read(hourlyTableDir(dataDir)))
  // the commits the checkpoint replaces are gone (log cleanup): the readers must use our checkpoint
  for (const v of [0, 1, 2]) await rm(join(log, `0000000000000000000${v}.json`))
  assert.deepEqual(await served(dataDir, 'hour'), before)
  assert.deepEqual(sortRows(await rs.read(hourlyTableDir(dataDir))), viaRs)
  assert.deepEqual(viaRs, sortRows(asGoldRows(before.rows)))
  // and the batch job goes on from it
  feed.add(maker.make(200, H(9), H(12)))
  await sink.flush()
  await run(H(13))
  const after = await served(dataDir, 'hour')
  assert.equal(after.version, 3)
  assertRowsEqual(after.rows, expected(feed.all, H(0), H(11))) // complete to H(11): the newest event is in H(11), less the lateness
})
