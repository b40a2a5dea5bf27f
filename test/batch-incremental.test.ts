// Incremental gold on real Parquet. Failures this guards against: a late bronze file for an hour
// already built never reaching gold (or counted twice next to the old file); daily gold that does
// not equal the sum of its hours; gold files whose row groups a time-range reader cannot skip.
import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { listValue } from '@duckdb/node-api'
import { runBatch } from '../src/batch/batch-job.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { GOLD_ROW_GROUP_SIZE } from '../src/batch/gold-build-sql.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { goldState } from './helpers/own-gold.js'
import { tempData } from './helpers/temp-data.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1)
const H = (n: number): number => T0 + n * HOUR_MS
const LATENESS = MINUTE_MS

const tmp = tempData('hourglass-incr-')

test('a late bronze file rebuilds its date: the new version holds the new files and removes the superseded ones; daily gold equals the sum of hours', async (t) => {
  const dataDir = join(tmp.dir, 'late')
  const maker = new EventMaker(11)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  t.after(() => sink.close())
  feed.add(maker.make(3000, H(0), H(30) + 30 * MINUTE_MS))
  await sink.flush()

  const r1 = await runBatch({ dataDir, db: tmp.db, now: H(31), allowedLatenessMs: LATENESS })
  assert.equal(r1.published, true)
  assert.equal(r1.completeUntil, H(30))
  assert.equal(r1.hoursRebuilt, 0)
  const m1 = (await goldState(tmp.db, dataDir))!
  assert.equal(m1.hourly.files.length, 2, 'one file per date')
  assert.deepEqual(m1.daily.files.map((f) => f.split('/')[2]), ['date=2024-05-01'], 'daily gold for the complete day only')
  assert.deepEqual(Object.keys(m1.built_from), ['2024-05-01', '2024-05-02'])
  assert.equal(Object.keys(m1.built_from!['2024-05-01']!).length, 24)

  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  t.after(() => reader.close())
  const s1 = reader.snapshot()!
  assertRowsEqual(await reader.query(s1, H(0), H(48), {}), expected(feed.all, H(0), H(30)))
  assertRowsEqual(await reader.query(s1, T0, T0 + 2 * DAY_MS, {}, 'day'), expected(feed.all, H(0), H(30), DAY_MS))
  assertRowsEqual(await reader.query(s1, H(3), H(27), {}, 'day'), expected(feed.all, H(3), H(27), DAY_MS))
  const f = { event_type: ['purchase'], region: ['eu-west', 'ap-south'] }
  assertRowsEqual(await reader.query(s1, T0, T0 + DAY_MS, f, 'day'), expected(feed.all, T0, T0 + DAY_MS, DAY_MS, f))

  // late: events for hour 2 (already built), plus a producer's resend of some hour-2 events
  const late = maker.make(60, H(2), H(3))
  feed.add([...late, ...feed.all.filter((e) => e.ts >= H(2) && e.ts < H(3)).slice(0, 10)])
  await sink.flush()
  const r2 = await runBatch({ dataDir, db: tmp.db, now: H(31) + 1000, allowedLatenessMs: LATENESS })
  assert.equal(r2.published, true)
  assert.equal(r2.hoursBuilt, 0)
  assert.deepEqual(r2.datesRebuilt, ['2024-05-01'])
  assert.equal(r2.hoursRebuilt, 24)
  assert.equal(r2.completeUntil, H(30), 'complete_until unchanged')
  const m2 = (await goldState(tmp.db, dataDir))!
  const old0501 = [...m1.hourly.files, ...m1.daily.files].filter((x) => x.includes('date=2024-05-01'))
  assert.deepEqual([...r2.superseded].sort(), old0501.sort())
  for (const x of old0501) {
    assert.ok(![...m2.hourly.files, ...m2.daily.files].includes(x), `${x} no longer in the table`)
    await access(join(dataDir, x)) // still on disk until vacuum
  }
  assert.ok(m2.hourly.files.includes(m1.hourly.files.find((x) => x.includes('2024-05-02'))!), 'the unchanged date keeps its file')
  assert.equal(m2.hourly.files.length, 2)
  assert.equal(m2.daily.files.length, 1)
  const rows = await (async () => { const c = await tmp.db.connect(); try { return await c.rows('SELECT count(*) AS n FROM read_parquet($f::VARCHAR[])', { f: listValue(m2.hourly.files.map((x) => join(dataDir, x))) }) } finally { tmp.db.release(c) } })()
  assert.equal(Number(rows[0]!.n), m2.hourly.rows, 'the row count (the adds\' stats) follows the rebuild')

  assert.equal(await reader.reload(), true)
  const s2 = reader.snapshot()!
  assertRowsEqual(await reader.query(s2, H(0), H(48), {}), expected(feed.all, H(0), H(30)))
  assertRowsEqual(await reader.query(s2, T0, T0 + 2 * DAY_MS, {}, 'day'), expected(feed.all, H(0), H(30), DAY_MS))
  assertRowsEqual(await reader.query(s1, H(0), H(48), {}), expected(feed.all.filter((e) => !late.includes(e)), H(0), H(30))) // the old snapshot still reads its own files

  const r3 = await runBatch({ dataDir, db: tmp.db, now: H(31) + 2000, allowedLatenessMs: LATENESS })
  assert.equal(r3.published, false, 'nothing changed: no rebuild')

  // the next day completes: daily gold for it appears, the first day's stays
  feed.add(maker.make(800, H(30) + 30 * MINUTE_MS, H(49)))
  await sink.flush()
  const r4 = await runBatch({ dataDir, db: tmp.db, now: H(50), allowedLatenessMs: LATENESS })
  assert.equal(r4.completeUntil, H(48))
  assert.equal(r4.dailyFiles.length, 1)
  assert.equal((await goldState(tmp.db, dataDir))!.daily.files.length, 2)
  await reader.reload()
  assertRowsEqual(await reader.query(reader.snapshot()!, T0, T0 + 3 * DAY_MS, {}, 'day'), expected(feed.all, H(0), H(48), DAY_MS))
})

test('gold files are sorted by (window_start, event_type, region) in row groups with non-overlapping time statistics', async () => {
  const dataDir = join(tmp.dir, 'rowgroups')
  const regions = Array.from({ length: 100 }, (_, i) => `r${String(i).padStart(3, '0')}`)
  const maker = new EventMaker(5, regions)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  feed.add(maker.make(40_000, H(0), H(24) + 10 * MINUTE_MS))
  await sink.close()
  const r = await runBatch({ dataDir, db: tmp.db, now: H(25), allowedLatenessMs: LATENESS })
  assert.ok(r.rows > 2 * GOLD_ROW_GROUP_SIZE, `rows ${r.rows}`)
  const m = (await goldState(tmp.db, dataDir))!
  const conn = await tmp.db.connect()
  try {
    const file = join(dataDir, m.hourly.files[0]!)
    const groups = await conn.rows(`SELECT row_group_id, row_group_num_rows AS n, stats_min_value AS lo, stats_max_value AS hi
      FROM parquet_metadata($f) WHERE path_in_schema = 'window_start' ORDER BY row_group_id`, { f: file })
    assert.ok(groups.length >= 2, `row groups: ${groups.length}`)
    assert.ok(groups.every((g) => Number(g.n) <= GOLD_ROW_GROUP_SIZE))
    for (let i = 1; i < groups.length; i++) assert.ok(String(groups[i - 1]!.hi) <= String(groups[i]!.lo), 'row groups cover ascending, non-overlapping hours')
    const keys = (await conn.rows('SELECT epoch_ms(window_start) AS w, event_type AS t, region AS g FROM read_parquet($f)', { f: file })).map((x) => [Number(x.w), String(x.t), String(x.g)] as const)
    for (let i = 1; i < keys.length; i++) {
      const [a, b] = [keys[i - 1]!, keys[i]!]
      assert.ok(a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2]))), `sorted at row ${i}`)
    }
  } finally {
    tmp.db.release(conn)
  }
  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  assertRowsEqual(await reader.query(reader.snapshot()!, H(0), H(24), {}), expected(feed.all, H(0), H(24)))
  await reader.close()
})
