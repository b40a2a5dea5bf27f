// Bronze compaction on real Parquet. Failures this guards against: an event lost when small files
// are merged; a crash between writing the compacted file and removing the small ones leaving
// double counts in gold; compaction forcing a needless rebuild; a batch run failing or miscounting
// when compaction removes files under it.
import assert from 'node:assert/strict'
import { cp, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { listValue } from '@duckdb/node-api'
import { runBatch } from '../src/batch/batch-job.js'
import { bronzeFingerprint, compactedName, isCompactedName, packCompacted, parseBronzeName, unionRanges } from '../src/batch/bronze-coverage.js'
import { listBronzeHours } from '../src/batch/bronze-layout.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { compactBronze } from '../src/batch/compaction.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { HOUR_MS, MINUTE_MS } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { tempData } from './helpers/temp-data.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1)
const H = (n: number): number => T0 + n * HOUR_MS
const LATENESS = MINUTE_MS

const tmp = tempData('hourglass-compact-')

test('file names: coverage parses back, unions merge touching ranges, fingerprints ignore how files are cut', () => {
  assert.deepEqual(parseBronzeName('/x/events-p3-10-99.parquet'), [{ topic: 'events', partition: 3, first: '10', last: '99' }])
  assert.equal(parseBronzeName('/x/events-p3-10-99+events-p4-0-1.parquet'), null, 'only compacted names hold several ranges')
  assert.equal(parseBronzeName('/x/other.parquet'), null)
  const u = unionRanges([...parseBronzeName('events-p0-0-99.parquet')!, ...parseBronzeName('events-p0-100-150.parquet')!, ...parseBronzeName('events-p1-5-9.parquet')!, ...parseBronzeName('events-p0-300-400.parquet')!])
  const name = compactedName(u)
  assert.equal(name, 'events-p0-0-150+events-p0-300-400+events-p1-5-9.c.parquet')
  assert.ok(isCompactedName(name))
  assert.deepEqual(parseBronzeName(name), u)
  assert.equal(bronzeFingerprint([{ path: name }]), bronzeFingerprint(['events-p0-0-99.parquet', 'events-p0-100-150.parquet', 'events-p1-5-9.parquet', 'events-p0-300-400.parquet'].map((path) => ({ path }))))
  assert.notEqual(bronzeFingerprint([{ path: name }]), bronzeFingerprint([{ path: name }, { path: 'events-p0-500-501.parquet' }]))
  const many = Array.from({ length: 40 }, (_, i) => ({ topic: 'events', partition: i, first: '1000000', last: '2000000' }))
  const groups = packCompacted(many)
  assert.ok(groups.length > 1 && groups.every((g) => compactedName(g).length <= 200))
  assert.deepEqual(groups.flat(), many)
})

test('compaction keeps every event: gold before = after, also after a crash between write and delete, and a rerun cleans up', async () => {
  const dataDir = join(tmp.dir, 'a')
  const maker = new EventMaker(3)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  for (let k = 0; k < 4; k++) { // four flushes: several small files per hour and partition
    feed.add(maker.make(500, H(0), H(6) + 30 * MINUTE_MS))
    await sink.flush()
  }
  feed.add(feed.all.filter((_, k) => k % 25 === 0)) // a producer's resend: duplicates in other files
  await sink.close()
  const want = expected(feed.all, H(0), H(6))
  const r1 = await runBatch({ dataDir, db: tmp.db, now: H(7), allowedLatenessMs: LATENESS })
  assert.equal(r1.completeUntil, H(6))

  const before = await listBronzeHours(dataDir)
  const fps = new Map([...before].map(([h, f]) => [h, bronzeFingerprint(f.map((path) => ({ path })))]))
  const rawCount = async (d: string): Promise<number> => {
    const c = await tmp.db.connect()
    try {
      const files = [...(await listBronzeHours(d)).values()].flat()
      return Number((await c.rows('SELECT count(*) AS n FROM read_parquet($f::VARCHAR[])', { f: listValue(files) }))[0]!.n)
    } finally { tmp.db.release(c) }
  }
  const rawBefore = await rawCount(dataDir)

  // crash after the first compacted file is in place, before the small files go
  await assert.rejects(compactBronze({ dataDir, db: tmp.db, all: true, afterWrite: () => { throw new Error('crash') } }), /crash/)
  const hour0 = (await listBronzeHours(dataDir, H(0), H(1))).get(H(0))!
  assert.equal(hour0.filter((p) => isCompactedName(p)).length, 1)
  assert.equal(hour0.length, before.get(H(0))!.length + 1, 'compacted file beside the small ones: duplicates on disk')
  assert.ok(await rawCount(dataDir) > rawBefore)
  assert.equal((await runBatch({ dataDir, db: tmp.db, now: H(7) + 1, allowedLatenessMs: LATENESS })).published, false, 'same coverage: no rebuild')
  await goldFromScratch(dataDir, join(tmp.dir, 'a-crash'), want)

  // rerun: removes what the compacted file covers, compacts the other hours
  const c2 = await compactBronze({ dataDir, db: tmp.db, all: true })
  assert.ok(c2.removed > 0)
  const afterC = await listBronzeHours(dataDir)
  assert.deepEqual([...afterC.keys()], [...before.keys()])
  for (const [h, files] of afterC) {
    assert.equal(files.length, 1, `hour ${new Date(h).toISOString()} is one file`)
    assert.ok(isCompactedName(files[0]!))
    assert.equal(bronzeFingerprint(files.map((path) => ({ path }))), fps.get(h), 'fingerprint unchanged by compaction')
  }
  assert.ok(await rawCount(dataDir) < rawBefore, 'duplicates within an hour merged away')
  assert.equal((await runBatch({ dataDir, db: tmp.db, now: H(8), allowedLatenessMs: LATENESS })).published, false)
  await goldFromScratch(dataDir, join(tmp.dir, 'a-after'), want)
  const again = await compactBronze({ dataDir, db: tmp.db, all: true })
  assert.deepEqual([again.written.length, again.removed], [0, 0], 'nothing left to do')
  // sorted file
  const c = await tmp.db.connect()
  const keys = await c.rows('SELECT event_type AS t, region AS r, epoch_ms(event_time) AS ts FROM read_parquet($f)', { f: afterC.get(H(0))![0]! })
  tmp.db.release(c)
  for (let i = 1; i < keys.length; i++) {
    const a = keys[i - 1]!; const b = keys[i]!
    assert.ok(`${a.t as string}\u0000${a.r as string}` < `${b.t as string}\u0000${b.r as string}` || (a.t === b.t && a.r === b.r && Number(a.ts) <= Number(b.ts)))
  }
})

test('compaction running while the batch job reads: gold still equals brute force', async () => {
  const dataDir = join(tmp.dir, 'b')
  const maker = new EventMaker(9)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  for (let k = 0; k < 6; k++) {
    feed.add(maker.make(400, H(0), H(12) + 30 * MINUTE_MS))
    await sink.flush()
  }
  await runBatch({ dataDir, db: tmp.db, now: H(13), allowedLatenessMs: LATENESS })
  for (let round = 0; round < 3; round++) {
    feed.add(maker.make(300, H(0), H(12))) // late files for built hours: the batch rebuilds while compaction runs
    await sink.flush()
    const [b] = await Promise.all([runBatch({ dataDir, db: tmp.db, now: H(13) + round + 1, allowedLatenessMs: LATENESS }), compactBronze({ dataDir, db: tmp.db, all: true })])
    assert.equal(b.published, true)
  }
  // whatever the interleaving, one more run settles on the final bronze
  await runBatch({ dataDir, db: tmp.db, now: H(14), allowedLatenessMs: LATENESS })
  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  assertRowsEqual(await reader.query(reader.snapshot()!, H(0), H(24), {}), expected(feed.all, H(0), H(12)))
  await reader.close()
})

/** Copy a data folder without its gold, build gold there from bronze alone, compare with brute force. */
async function goldFromScratch (from: string, to: string, want: ReturnType<typeof expected>): Promise<void> {
  await cp(from, to, { recursive: true })
  await rm(join(to, 'gold'), { recursive: true, force: true })
  const r = await runBatch({ dataDir: to, db: tmp.db, now: H(7), allowedLatenessMs: LATENESS })
  assert.equal(r.published, true)
  const reader = await GoldReader.open({ dataDir: to, db: tmp.db, pollMs: 0 })
  try {
    assertRowsEqual(await reader.query(reader.snapshot()!, H(0), H(24), {}), want)
  } finally {
    await reader.close()
  }
  assert.ok((await readdir(to)).includes('bronze'))
}
