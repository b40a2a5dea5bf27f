// Compaction of our own gold Delta tables: each final date's files merged into one, committed with dataChange=false
// and an OPTIMIZE commitInfo; the answers served from the tables, the rows delta-rs reads and the built-from
// fingerprints are the same before and after. A compaction that loses its version to another writer leaves nothing.
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { acquireLock, batchLockPath } from '../src/batch/lock.js'
import { compactGold, describeGoldCompaction } from '../src/batch/delta/compact-gold.js'
import { commitName } from '../src/batch/delta/log-plan.js'
import { readDeltaSnapshot } from '../src/batch/delta/log-replay.js'
import { builtFromOf, dailyTableDir, hourlyTableDir } from '../src/batch/delta/own-layout.js'
import { loadConfig } from '../src/config.js'
import { DeltaRs, type GoldRow, goldRow, sortRows } from './helpers/delta-rs.js'
import { DAY1, ownHistory, publishOwn } from './helpers/own-delta.js'
import { hourglass } from './helpers/cli.js'
import { tempData } from './helpers/temp-data.js'
import { until } from './helpers/wait.js'

const DAY = 86_400_000
const t = tempData('hourglass-delta-compact-')
let rs: DeltaRs
before(async () => { rs = await DeltaRs.open() }, { timeout: 900_000 })

/** Data files (Parquet outside _delta_log) in a table's folder, temp files included. */
async function dataFiles (table: string): Promise<string[]> {
  return (await readdir(table, { recursive: true })).filter((f) => f.includes('.parquet') && !f.startsWith('_delta_log')).sort()
}

/** Our layout in <data>/gold: 15 hourly publishes of 4 hours (dates 1 and 2 final, date 3 not), a daily table of 4 publishes. */
async function ownGold (data: string): Promise<{ hourly: GoldRow[], daily: GoldRow[], completeUntil: string }> {
  const conn = await t.db.connect()
  try {
    const h = await ownHistory(conn, hourlyTableDir(data), 15)
    const daily: GoldRow[] = []
    const dailyDir = dailyTableDir(data)
    for (let i = 0; i < 4; i++) {
      const day = DAY1 + (i % 2) * DAY
      const rows = ['click', 'purchase'].map((e) => goldRow(day, e, 'eu-west', i))
      daily.push(...rows)
      await publishOwn(conn, dailyDir, { files: [{ date: new Date(day).toISOString().slice(0, 10), rows }], properties: { completeUntil: h.completeUntil } })
    }
    return { hourly: h.rows, daily, completeUntil: h.completeUntil }
  } finally {
    t.db.release(conn)
  }
}

async function serve (data: string): Promise<App> {
  const config = loadConfig({
    HOURGLASS_DATA_DIR: join(data, 'reader'),
    HOURGLASS_SOURCE: 'none',
    HOURGLASS_SEED_DAYS: '0',
    HOURGLASS_GOLD: `delta:${hourlyTableDir(data)}`,
    HOURGLASS_GOLD_DAILY: `delta:${dailyTableDir(data)}`,
    HOURGLASS_GOLD_POLL: '100ms',
    HOURGLASS_LOG_LEVEL: 'silent',
    HOURGLASS_AUTH: 'none'
  })
  return await buildApp(config, { schedule: false, progress: () => {} })
}

async function answers (app: App, to: string): Promise<unknown[]> {
  const out: unknown[] = []
  for (const g of ['hour', 'day']) {
    const end = g === 'hour' ? to : new Date(Math.floor(Date.parse(to) / DAY) * DAY).toISOString()
    const res = await app.server.inject(`/v1/metrics?from=${new Date(DAY1).toISOString()}&to=${end}&granularity=${g}&group_by=event_type,region`)
    assert.equal(res.statusCode, 200, res.body)
    const { rows, meta } = res.json<{ rows: unknown[], meta: { sources: Array<{ layer: string }> } }>()
    assert.deepEqual(meta.sources.map((s) => s.layer), ['batch'])
    out.push(rows)
  }
  return out
}

test('compaction: every final date with several files becomes one file (dataChange=false, OPTIMIZE); answers, delta-rs rows and built-from unchanged',
  { timeout: 600_000 }, async () => {
    const data = join(t.dir, 'data')
    const { hourly, daily, completeUntil } = await ownGold(data)
    const hourlyDir = hourlyTableDir(data)
    const conn = await t.db.connect()
    const app = await serve(data)
    try {
      const beforeSnap = await readDeltaSnapshot(conn, hourlyDir)
      assert.equal(beforeSnap.version, 14)
      const beforeAnswers = await answers(app, completeUntil)
      const progress: string[] = []
      const s = await compactGold({ dataDir: data, db: t.db, checkpointInterval: 5, onProgress: (l) => progress.push(l) })
      const line = describeGoldCompaction(s)
      assert.match(line, /^compact gold: hourly_metrics: 2 dates, \d+ files merged into 2 \(version 15, checkpoint 15\); daily_metrics: 2 dates, 4 files merged into 2 \(version 4\)/)
      const [h, d] = s.tables
      assert.deepEqual(h?.dates, ['2026-01-01', '2026-01-02'], 'date 3 is not final: left as it is')
      assert.equal(d?.version, 4)

      const afterSnap = await readDeltaSnapshot(conn, hourlyDir)
      assert.equal(afterSnap.version, 15)
      for (const date of ['2026-01-01', '2026-01-02']) assert.equal(afterSnap.files.filter((f) => f.partitionValues.date === date).length, 1, date)
      assert.equal(afterSnap.files.filter((f) => f.partitionValues.date === '2026-01-03').length,
        beforeSnap.files.filter((f) => f.partitionValues.date === '2026-01-03').length)
      assert.deepEqual(builtFromOf(afterSnap.files), builtFromOf(beforeSnap.files), 'the built-from fingerprints carry over')
      assert.deepEqual(afterSnap.metadata, beforeSnap.metadata, 'the properties carry over')

      // the commit: OPTIMIZE, every action dataChange=false, removes with their size and partition values
      const actions = (await readFile(join(hourlyDir, '_delta_log', commitName(15)), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>)
      assert.equal(actions[0]?.commitInfo?.operation, 'OPTIMIZE')
      const files = actions.filter((a) => a.add !== undefined || a.remove !== undefined).map((a) => a.add ?? a.remove) as Array<Record<string, unknown>>
      assert.equal(files.length, (h?.removed ?? 0) + 2)
      for (const f of files) assert.equal(f.dataChange, false)
      for (const a of actions) if (a.remove !== undefined) assert.ok(typeof a.remove.size === 'number' && a.remove.extendedFileMetadata === true)
      assert.ok(actions.every((a) => a.metaData === undefined), 'no metaData')

      await until('the reader to load both compacted versions', () => app.gold.snapshot()?.version === 15, 30_000)
      assert.deepEqual(await answers(app, completeUntil), beforeAnswers)
      for (const [dir, rows, version] of [[hourlyDir, hourly, 15], [dailyTableDir(data), daily, 4]] as const) {
        const theirs = await rs.run({ op: 'read', path: dir, history: true })
        assert.equal(theirs.version, version)
        assert.equal(theirs.operation, 'OPTIMIZE')
        assert.deepEqual(sortRows(theirs.rows ?? []), sortRows(rows))
      }

      // nothing more to merge: a second run commits nothing
      const again = await compactGold({ dataDir: data, db: t.db, checkpointInterval: 5 })
      assert.match(describeGoldCompaction(again), /hourly_metrics: nothing to merge; daily_metrics: nothing to merge/)
      assert.equal((await readDeltaSnapshot(conn, hourlyDir)).version, 15)
    } finally {
      await app.close()
      t.db.release(conn)
    }
  })

test('compaction racing a commit of the same version loses cleanly: nothing committed, its files deleted, said in the line', async () => {
  const data = join(t.dir, 'race')
  const { completeUntil } = await ownGold(data)
  const hourlyDir = hourlyTableDir(data)
  const conn = await t.db.connect()
  try {
    const rival = goldRow(DAY1, 'click', 'us-east', 9)
    let rivalVersion = -1
    const beforeFiles = await dataFiles(hourlyDir)
    const s = await compactGold({
      dataDir: data,
      db: t.db,
      checkpointInterval: 10,
      lock: false,
      beforeCommit: async (table, version) => {
        if (table !== hourlyDir) return
        // another writer publishes the version the compaction is about to commit
        rivalVersion = await publishOwn(conn, table, { files: [{ date: '2026-01-03', rows: [rival] }], properties: { completeUntil } })
        assert.equal(rivalVersion, version)
      }
    })
    const [h] = s.tables
    assert.equal(h?.version, null)
    assert.match(describeGoldCompaction(s), /hourly_metrics: version 15 was committed by another writer; nothing committed/)
    const snap = await readDeltaSnapshot(conn, hourlyDir)
    assert.equal(snap.version, 15)
    assert.deepEqual((await readFile(join(hourlyDir, '_delta_log', commitName(15)), 'utf8')).includes('OPTIMIZE'), false, 'the rival\'s commit stands')
    const after = await dataFiles(hourlyDir)
    assert.deepEqual(after.filter((f) => !beforeFiles.includes(f)).length, 1, 'only the rival\'s file is new: the merged ones were deleted')
    assert.ok(after.every((f) => !f.includes('compacted')))
  } finally {
    t.db.release(conn)
  }
})

test('compaction holds the batch lock: while a batch run holds it, nothing is done', async () => {
  const data = join(t.dir, 'locked')
  await ownGold(data)
  const r = await acquireLock(batchLockPath(data), { purpose: 'batch' })
  assert.ok(r.acquired)
  try {
    const s = await compactGold({ dataDir: data, db: t.db, checkpointInterval: 10 })
    assert.ok(s.busy !== undefined)
    assert.match(describeGoldCompaction(s), /^compact gold: .*; nothing done$/)
    const conn = await t.db.connect()
    try {
      assert.equal((await readDeltaSnapshot(conn, hourlyTableDir(data))).version, 14)
    } finally {
      t.db.release(conn)
    }
  } finally {
    await r.lock.release()
  }
})

test('`hourglass compact` and serve\'s compaction compact our gold after bronze, one progress line each; with --hour only bronze', { timeout: 180_000 }, async () => {
  const data = join(t.dir, 'cli')
  await ownGold(data)
  const env = { HOURGLASS_DELTA_CHECKPOINT_INTERVAL: '3' }
  const one = await hourglass(['compact', '--hour', '2026-01-01T00:00:00Z', '--data', data], env)
  assert.equal(one.code, 0, one.stderr)
  assert.doesNotMatch(one.stdout, /compact gold/)
  const run = await hourglass(['compact', '--data', data], env)
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /^compact: /m)
  assert.match(run.stdout, /^compact gold: hourly_metrics: 2 dates, 11 files merged into 2 \(version 15, checkpoint 15\); daily_metrics: 2 dates, 4 files merged into 2 \(version 4\)/m)
  const help = await hourglass(['compact', '--help'])
  assert.match(help.stdout, /then of each final date of gold/)

  // serve (own gold): the upkeep's compaction, after bronze, on a table with something new to merge
  const conn = await t.db.connect()
  try {
    await publishOwn(conn, hourlyTableDir(data), {
      files: [{ date: '2026-01-02', rows: [goldRow(DAY1 + DAY, 'view', 'eu-west')], hours: { '00': 'late' } }],
      properties: { completeUntil: '2026-01-03T12:00:00.000Z' }
    })
  } finally {
    t.db.release(conn)
  }
  const progress: string[] = []
  const config = loadConfig({
    HOURGLASS_DATA_DIR: data, HOURGLASS_SOURCE: 'none', HOURGLASS_SEED_DAYS: '0', HOURGLASS_LOG_LEVEL: 'silent', HOURGLASS_AUTH: 'none', ...env
  })
  const app = await buildApp(config, { schedule: false, progress: (l) => progress.push(l) })
  try {
    await app.compactNow()
  } finally {
    await app.close()
  }
  const lines = progress.filter((l) => l.startsWith('compact'))
  assert.equal(lines.length, 2, lines.join('\n'))
  assert.match(lines[0] ?? '', /^compact: /)
  assert.match(lines[1] ?? '', /^compact gold: hourly_metrics: 1 date, 2 files merged into 1 \(version 17\); daily_metrics: nothing to merge/)
})
