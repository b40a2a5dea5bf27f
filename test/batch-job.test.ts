// The batch layer end to end on real Parquet files: bronze sink → batch job → gold reader.
// Failures this guards against: a duplicate resent by a producer counted twice in gold; an hour
// published before its late events could arrive; a crashed run leaving a half-published version;
// a reload pulling the files from under a query that is still running.
import assert from 'node:assert/strict'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { writeFileAtomic } from '../src/batch/atomic-file.js'
import { runBatch } from '../src/batch/batch-job.js'
import { bronzeFileName, bronzeWatermark, listBronzeHours, topicSafe } from '../src/batch/bronze-layout.js'
import { readBronzeEvents } from '../src/batch/bronze-reader.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { commitName } from '../src/batch/delta/log-plan.js'
import { hourlyTableDir } from '../src/batch/delta/own-layout.js'
import type { HourglassEvent } from '../src/model/event.js'
import type { Partials } from '../src/model/partials.js'
import { finalise, roundLatency } from '../src/model/partials.js'
import type { Filters } from '../src/model/query.js'
import { HOUR_MS, MINUTE_MS } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected as expectedBuckets, Feed } from './helpers/bronze.js'
import { goldState, logText } from './helpers/own-gold.js'
import { tempData } from './helpers/temp-data.js'
import { until } from './helpers/wait.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1, 0, 0, 0)
const H = (n: number): number => T0 + n * HOUR_MS
const LATENESS = MINUTE_MS
const maker = new EventMaker(7)
const makeEvents = (n: number, from: number, to: number): HourglassEvent[] => maker.make(n, from, to)
/** Brute force over hours. */
const expected = (events: HourglassEvent[], from: number, to: number, filters: Filters = {}): Map<string, Partials> =>
  expectedBuckets(events, from, to, HOUR_MS, filters)

const tmp = tempData('hourglass-batch-')

/** The logs' text, after checking that they replay (always a valid state). */
async function manifestText (dataDir: string): Promise<string> {
  await goldState(tmp.db, dataDir)
  return await logText(dataDir)
}

test('bronze → batch → gold reader: dedup, complete hours only, incremental versions, failed run publishes nothing, reload keeps old snapshots working', async (t) => {
  const dataDir = join(tmp.dir, 'pipeline')
  const progress: string[] = []
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  t.after(() => sink.close())

  assert.equal(await bronzeWatermark(dataDir), null)
  assert.deepEqual(await sink.flush(), { events: 0, files: [], elapsedMs: 0 })
  assert.deepEqual((await runBatch({ dataDir, db: tmp.db, now: H(10), allowedLatenessMs: LATENESS })).published, false)

  // hours 0..3 full, hour 4 until 04:30; then resent duplicates in a second flush (other files)
  const first = makeEvents(2400, H(0), H(4))
  feed.add(first)
  feed.add(makeEvents(300, H(4), H(4) + 30 * MINUTE_MS))
  const f1 = await sink.flush()
  assert.equal(f1.events, 2700)
  const dups = first.filter((_, k) => k % 40 === 0)
  feed.add(dups)
  feed.add(dups.slice(0, 5).map((e) => ({ ...e, ts: e.ts + 1 }))) // same id, other time: not a duplicate
  await sink.flush()
  const hours = await listBronzeHours(dataDir)
  assert.deepEqual([...hours.keys()], [H(0), H(1), H(2), H(3), H(4)])
  assert.ok([0, 1, 2, 3].every((h) => hours.get(H(h))!.length >= 3), 'two partitions, and a second flush with duplicates')
  const wm = await bronzeWatermark(dataDir)
  assert.ok(wm !== null && wm < H(4) + 30 * MINUTE_MS && wm > H(4) + 25 * MINUTE_MS)

  // run 1: hours 0..3 complete (04:00 + 1 min lateness ≤ watermark only for hours before 04:00)
  const r1 = await runBatch({ dataDir, db: tmp.db, now: H(5), allowedLatenessMs: LATENESS, onProgress: (l) => progress.push(l) })
  assert.equal(r1.published, true)
  assert.equal(r1.version, 1)
  assert.equal(r1.hoursBuilt, 4)
  assert.equal(r1.completeUntil, H(4))
  const want1 = expected(feed.all, H(0), H(4))
  assert.equal(r1.rows, want1.size)
  assert.equal(r1.events, [...want1.values()].reduce((s, p) => s + p.events, 0))
  assert.ok(progress.some((l) => /^batch: 2024-05-01 4\/24 hours, [\d,]+ events$/.test(l)), progress.join('\n'))
  const m1 = (await goldState(tmp.db, dataDir))!
  assert.equal(m1.version, 1)
  assert.equal(m1.complete_until, new Date(H(4)).toISOString())
  assert.equal(m1.complete_from, new Date(H(0)).toISOString())
  assert.equal(m1.hourly.rows, want1.size)

  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  t.after(() => reader.close())
  const snap1 = reader.snapshot()
  assert.ok(snap1 !== null)
  assert.equal(snap1.version, 1)
  assert.equal(snap1.completeUntil, H(4))
  assertRowsEqual(await reader.query(snap1, H(0), H(10), {}), want1)
  assert.ok((await reader.query(snap1, H(0), H(10), {})).every((r) => r.window_start < H(4)), 'the incomplete hour is not built')
  const filters = { event_type: ['purchase', 'click'], region: ['eu-west'] }
  assertRowsEqual(await reader.query(snap1, H(1), H(3), filters), expected(feed.all, H(1), H(3), filters))
  assert.deepEqual(await reader.query(snap1, H(2), H(2), {}), [])
  assert.deepEqual(await reader.query(snap1, H(0), H(10), { event_type: ["nope' OR 1=1 --"] }), [])
  assert.deepEqual(await reader.dimensions(snap1), { event_types: ['click', 'purchase', 'search', 'view'], regions: ['ap-south', 'eu-west', 'us-east'] })

  // run 2: no new complete hour → nothing published, the tables untouched
  const before2 = await manifestText(dataDir)
  const r2 = await runBatch({ dataDir, db: tmp.db, now: H(5) + 1000, allowedLatenessMs: LATENESS })
  assert.equal(r2.published, false)
  assert.equal(r2.version, 1)
  assert.equal(await manifestText(dataDir), before2)

  // more bronze: rest of hour 4, nothing in hour 5, hours 6 and 7 until 07:30
  feed.add(makeEvents(200, H(4) + 30 * MINUTE_MS, H(5)))
  feed.add(makeEvents(500, H(6), H(7) + 30 * MINUTE_MS))
  await sink.flush()
  const inFlight = reader.query(snap1, H(0), H(10), {}) // started before the new version exists
  const r3 = await runBatch({ dataDir, db: tmp.db, now: H(8), allowedLatenessMs: LATENESS })
  assert.equal(r3.published, true)
  assert.equal(r3.version, 2)
  assert.equal(r3.hoursBuilt, 3, 'hours 4, 5 (empty) and 6')
  assert.equal(r3.completeUntil, H(7))
  const m2 = (await goldState(tmp.db, dataDir))!
  assert.ok(m1.hourly.files.every((f) => m2.hourly.files.includes(f)), 'earlier files still in the table')
  assert.equal(m2.hourly.files.length, m1.hourly.files.length + 1)

  // reader: still v1 until reload; a query on the old snapshot started during the reload works
  assert.equal(reader.snapshot()?.version, 1)
  const during = reader.query(snap1, H(0), H(10), {})
  assert.equal(await reader.reload(), true)
  assertRowsEqual(await inFlight, want1)
  assertRowsEqual(await during, want1)
  const snap2 = reader.snapshot()
  assert.ok(snap2 !== null && snap2.version === 2 && snap2.completeUntil === H(7))
  assertRowsEqual(await reader.query(snap2, H(0), H(10), {}), expected(feed.all, H(0), H(7)))
  assertRowsEqual(await reader.query(snap1, H(0), H(10), {}), want1)
  assert.equal(await reader.reload(), false, 'same version: no swap')

  // run 4 fails after writing its gold files: the previous version stays in force
  feed.add(makeEvents(300, H(7) + 30 * MINUTE_MS, H(9) + 30 * MINUTE_MS))
  await sink.flush()
  const before4 = await manifestText(dataDir)
  let orphans: string[] = []
  await assert.rejects(runBatch({ dataDir, db: tmp.db, now: H(10), allowedLatenessMs: LATENESS, beforePublish: (files) => { orphans = files; throw new Error('injected failure') } }), /injected failure/)
  assert.equal(orphans.length, 1)
  assert.equal(await manifestText(dataDir), before4)
  assert.equal(await reader.reload(), false)
  assert.equal(reader.snapshot()?.version, 2)

  // run 5 succeeds; the failed run's file is written but in no version
  const r5 = await runBatch({ dataDir, db: tmp.db, now: H(10), allowedLatenessMs: LATENESS })
  assert.equal(r5.version, 3)
  assert.equal(r5.completeUntil, H(9))
  const m3 = (await goldState(tmp.db, dataDir))!
  assert.ok(!m3.hourly.files.includes(orphans[0] as string))
  assert.equal(await reader.reload(), true)
  assertRowsEqual(await reader.query(reader.snapshot()!, H(0), H(24), {}), expected(feed.all, H(0), H(9)))
  // no temp files left behind in gold
  const goldFiles = await readdir(join(dataDir, 'gold'), { recursive: true })
  assert.ok(goldFiles.every((f) => !/(^|\/)\.[^/]*tmp/.test(f)), goldFiles.join(', '))
})

test('gold files follow the contract: column types, sort order, and direct-reader columns equal model finalise', async () => {
  const dataDir = join(tmp.dir, 'contract')
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  feed.add(makeEvents(1500, H(0), H(3) + 10 * MINUTE_MS))
  await sink.close()
  const r = await runBatch({ dataDir, db: tmp.db, now: H(4), allowedLatenessMs: LATENESS })
  assert.equal(r.hoursBuilt, 3)
  const m = await goldState(tmp.db, dataDir)
  const file = join(dataDir, m!.hourly.files[0]!)
  assert.match(m!.hourly.files[0]!, /^gold\/hourly_metrics\/date=2024-05-01\/[^/]+\.parquet$/)
  const conn = await tmp.db.connect()
  const types = await conn.rows('SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($f, hive_partitioning = false))', { f: file })
  assert.deepEqual(types.map((t) => `${t.column_name as string} ${t.column_type as string}`), [
    'window_start TIMESTAMP WITH TIME ZONE', 'event_type VARCHAR', 'region VARCHAR', 'total_events BIGINT', 'latency_sum DOUBLE',
    'latency_count BIGINT', 'revenue_cents BIGINT', 'response_bins STRUCT(bin INTEGER, n BIGINT)[]', 'avg_latency DOUBLE',
    'p95_response DOUBLE', 'total_revenue DECIMAL(18,2)', 'sentiment_sum DOUBLE', 'sentiment_count BIGINT', 'sentiment_positive BIGINT',
    'sentiment_neutral BIGINT', 'sentiment_negative BIGINT', 'avg_sentiment DOUBLE', 'top_entities STRUCT(entity VARCHAR, n BIGINT)[]'
  ])
  const rows = await conn.rows(`SELECT CAST(epoch_ms(window_start) AS DOUBLE) AS ws, event_type, region, avg_latency, p95_response,
    latency_sum, CAST(latency_count AS DOUBLE) AS latency_count,
    CAST(total_revenue AS VARCHAR) AS revenue FROM read_parquet($f, hive_partitioning = false)`, { f: file })
  const keys = rows.map((x) => `${x.ws as number}|${x.event_type as string}|${x.region as string}`)
  assert.deepEqual(keys, [...keys].sort((a, b) => {
    const [wa, ...ra] = a.split('|'); const [wb, ...rb] = b.split('|')
    return Number(wa) - Number(wb) || (ra.join('|') < rb.join('|') ? -1 : 1)
  }), 'sorted by (window_start, event_type, region)')
  const want = expected(feed.all, H(0), H(3))
  for (const x of rows) {
    const p = want.get(`${x.ws as number}|${x.event_type as string}|${x.region as string}`)!
    const f = finalise(p)
    // the sum's order differs between DuckDB and JS; the division and the rounding to 0.1 ms are the same
    assert.equal(x.avg_latency, p.latency_count === 0 ? null : roundLatency((x.latency_sum as number) / (x.latency_count as number)))
    if (f.avg_latency !== null) assert.ok(Math.abs((x.avg_latency as number) - f.avg_latency) <= 1e-9 * f.avg_latency)
    assert.equal(x.p95_response, f.p95_response, 'p95 from the bins, the same rule, value and rounding as finalise')
    for (const v of [x.avg_latency, x.p95_response]) if (v !== null) assert.equal(Math.round((v as number) * 10) / 10, v, `${String(v)} is rounded to 0.1 ms`)
    assert.equal(x.revenue, (p.revenue_cents / 100).toFixed(2))
  }
  const bronze = await conn.rows('SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($f, hive_partitioning = false))',
    { f: (await listBronzeHours(dataDir)).get(H(0))![0]! })
  assert.deepEqual(bronze.map((t) => `${t.column_name as string} ${t.column_type as string}`), [
    'event_id VARCHAR', 'event_time TIMESTAMP WITH TIME ZONE', 'event_type VARCHAR', 'region VARCHAR', 'processing_time DOUBLE',
    'response_time DOUBLE', 'revenue_cents BIGINT', 'user_id VARCHAR', 'src_topic VARCHAR', 'src_partition INTEGER', 'src_offset BIGINT',
    'text VARCHAR', 'sentiment_score DOUBLE', 'sentiment_label VARCHAR', 'entities VARCHAR[]'
  ])
  tmp.db.release(conn)
})

test('bronze: a replay rewrites the same files; the watermark is the min over partitions; topics become safe file names', async () => {
  const dataDir = join(tmp.dir, 'replay')
  const events = makeEvents(400, H(0), H(2))
  const write = async (): Promise<string[]> => {
    const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
    events.forEach((e, k) => sink.add(e, { topic: 'file:/data/my events.jsonl', partition: 0, offset: String(k) }))
    const f = await sink.flush()
    await sink.close()
    return f.files.sort()
  }
  const a = await write()
  const b = await write()
  assert.deepEqual(a, b)
  const all = [...(await listBronzeHours(dataDir)).values()].flat().sort()
  assert.deepEqual(all, a, 'no duplicate files after the replay')
  assert.match(topicSafe('file:/data/my events.jsonl'), /^[A-Za-z0-9._~]+$/)
  assert.notEqual(topicSafe('a/b'), topicSafe('a_b'))
  assert.equal(bronzeFileName('events', 3, '10', '99'), 'events-p3-10-99.parquet')

  const sink = new BronzeSink({ dataDir, db: tmp.db, maxBuffered: 3, flushMs: 60_000 })
  sink.add({ event_id: 'x1', ts: H(5), event_type: 'view', region: 'eu' }, { topic: 'other', partition: 1, offset: '0' }, 0)
  assert.equal(await sink.flushIfDue(1000), null)
  sink.add({ event_id: 'x2', ts: H(6), event_type: 'view', region: 'eu' }, { topic: 'other', partition: 2, offset: '0' }, 1000)
  assert.notEqual(await sink.flushIfDue(60_000), null, 'due by time')
  const maxTs = Math.max(...events.map((e) => e.ts))
  assert.equal(await bronzeWatermark(dataDir), Math.min(maxTs, H(5), H(6)))
  assert.throws(() => sink.add(events[0]!, { topic: 't', partition: 0, offset: '1; DROP' }), /offset/)
  await sink.close()
})

test('bronze reads back as written; the reader polls, and refuses a corrupt commit or one adding missing files', async (t) => {
  const dataDir = join(tmp.dir, 'poll')
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  feed.add(makeEvents(600, H(0), H(2) + 30 * MINUTE_MS))
  await sink.close()
  const back = await readBronzeEvents({ dataDir, db: tmp.db, from: H(1), to: H(2) })
  const want = feed.all.filter((e) => e.ts >= H(1) && e.ts < H(2)).sort((a, b) => a.ts - b.ts)
  assert.deepEqual(new Set(back.map((e) => JSON.stringify(e))), new Set(want.map((e) => JSON.stringify(e))))
  assert.equal(back.length, want.length)
  assert.ok(back.every((e, i) => i === 0 || (back[i - 1] as HourglassEvent).ts <= e.ts))
  // files listed for the range but no event inside it (a restart more than the replay range after the last event)
  assert.deepEqual(await readBronzeEvents({ dataDir, db: tmp.db, from: H(2) + 40 * MINUTE_MS, to: H(3) }), [])

  const errors: Error[] = []
  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 20, onError: (e) => errors.push(e) })
  t.after(() => reader.close())
  assert.equal(reader.snapshot(), null)
  await runBatch({ dataDir, db: tmp.db, now: H(3), allowedLatenessMs: LATENESS })
  await until('the reader to poll the new version', () => reader.snapshot() !== null)
  const snap = reader.snapshot()
  assert.equal(snap?.version, 1, 'picked up by polling')
  assertRowsEqual(await reader.query(snap!, H(0), H(2), {}), expected(feed.all, H(0), H(2)))

  // a second version written by hand: torn, adding a file outside the table, adding a file that does not exist
  // (each written whole, as a Delta writer does; a poll may be under way meanwhile: the reload after it reads the commit)
  const reloadNow = async (): Promise<boolean> => { await reader.reload(); return await reader.reload() }
  const v2 = join(hourlyTableDir(dataDir), '_delta_log', commitName(2))
  const add = (path: string): string => JSON.stringify({ add: { path, partitionValues: { date: '2024-05-01' }, size: 1, modificationTime: 0, dataChange: true } })
  await writeFileAtomic(v2, '{"add": {"path": "date=2024-05-01/x.parquet", "partitionValues": ')
  assert.equal(await reloadNow(), false)
  assert.match(String(reader.lastError), /json/i)
  await writeFileAtomic(v2, add('../outside.parquet') + '\n')
  assert.equal(await reloadNow(), false)
  assert.match(String(reader.lastError), /outside the table/)
  await writeFileAtomic(v2, add('date=2024-05-01/missing.parquet') + '\n')
  assert.equal(await reloadNow(), false)
  assert.match(String(reader.lastError), /missing file/)
  assert.equal(reader.snapshot()?.version, 1, 'the last good version stays in force')
  assertRowsEqual(await reader.query(reader.snapshot()!, H(0), H(2), {}), expected(feed.all, H(0), H(2)))
  assert.ok(errors.length >= 3)
  await rm(v2)
  assert.equal(await reloadNow(), false, 'version 1 again: nothing new')
})
