// Checkpoints of our own gold Delta tables: every N commits (the table's delta.checkpointInterval, else the setting),
// a classic checkpoint in the protocol's column types plus _last_checkpoint. With the commits before it deleted, our
// replay reads the same snapshot from it, and delta-rs (from PyPI) reads the same files and rows, so it reads our
// checkpoint.
import assert from 'node:assert/strict'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { checkpointIfDue, checkpointName, deletedFileRetentionMs, readLastCheckpoint, writeCheckpoint } from '../src/batch/delta/checkpoint.js'
import { commitName, planReplay } from '../src/batch/delta/log-plan.js'
import { type DeltaSnapshot, listDeltaLog, readDeltaSnapshot, replayDeltaLog } from '../src/batch/delta/log-replay.js'
import { builtFromOf } from '../src/batch/delta/own-layout.js'
import { DeltaRs, sortRows } from './helpers/delta-rs.js'
import { ownHistory } from './helpers/own-delta.js'
import { tempData } from './helpers/temp-data.js'

const t = tempData('hourglass-delta-checkpoint-')
let rs: DeltaRs
before(async () => { rs = await DeltaRs.open() }, { timeout: 900_000 })

/** A value without its null fields (a checkpoint's struct columns read back with every field, absent ones null). */
function noNulls (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(noNulls)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, noNulls(x)]))
}

/** What a snapshot says, comparable between a replay from commits and one from a checkpoint. */
function comparable (s: DeltaSnapshot): unknown {
  const byPath = <T extends { path: string }>(a: T[]): T[] => [...a].sort((x, y) => (x.path < y.path ? -1 : 1))
  return noNulls({
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    metaDataAction: s.metaDataAction,
    files: byPath(s.files),
    // a tombstone in a checkpoint carries no stats or tags
    tombstones: byPath(s.tombstones).map(({ action: { stats: _s, tags: _t, ...action }, ...rest }) => ({ ...rest, action }))
  })
}

test('checkpoint: due every 10 commits; the replay from it alone equals the replay from the commits; delta-rs reads it', { timeout: 600_000 }, async () => {
  const table = join(t.dir, 'hourly')
  const conn = await t.db.connect()
  try {
    const { rows, version } = await ownHistory(conn, table, 12)
    assert.equal(version, 11)
    for (let v = 0; v <= 9; v++) assert.equal(await checkpointIfDue(conn, table, v, 10), null, `no checkpoint at version ${v}`)
    assert.equal(await checkpointIfDue(conn, table, 11, 10), null, 'version 11 is not due')
    const before = await readDeltaSnapshot(conn, table)
    assert.ok(before.tombstones.length > 0, 'the rebuilt date left tombstones')
    assert.ok(before.files.some((f) => Object.keys(f.tags).length > 0), 'hourly files carry built-from tags')

    const cp = await checkpointIfDue(conn, table, 10, 10)
    assert.ok(cp !== null, 'version 10 is due')
    assert.equal(cp.version, 10)
    assert.equal(await checkpointIfDue(conn, table, 10, 10), null, 'written once')
    assert.deepEqual(await readLastCheckpoint(table), { version: 10, size: cp.size })
    const last = JSON.parse(await readFile(join(table, '_delta_log', '_last_checkpoint'), 'utf8')) as Record<string, unknown>
    assert.equal(last.numOfAddFiles, cp.numOfAddFiles)
    // the protocol's types: longs are BIGINT, maps MAP(VARCHAR, VARCHAR), format a struct with an options map
    const types = Object.fromEntries((await conn.rows('DESCRIBE SELECT * FROM read_parquet($f)', { f: cp.path })).map((r) => [r.column_name, r.column_type]))
    assert.match(String(types.add), /^STRUCT\(path VARCHAR, partitionValues MAP\(VARCHAR, VARCHAR\), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP\(VARCHAR, VARCHAR\)\)$/)
    assert.match(String(types.metaData), /format STRUCT\(provider VARCHAR, "options" MAP\(VARCHAR, VARCHAR\)\).*partitionColumns VARCHAR\[\].*createdTime BIGINT/)
    assert.match(String(types.protocol), /minReaderVersion INTEGER, minWriterVersion INTEGER/)
    assert.match(String(types.remove), /deletionTimestamp BIGINT/)

    // the commits up to the checkpoint gone: our replay reads the checkpoint and commit 11
    for (let v = 0; v <= 10; v++) await rm(join(table, '_delta_log', commitName(v)))
    assert.deepEqual((await readdir(join(table, '_delta_log'))).sort(), [commitName(11), checkpointName(10), '_last_checkpoint'].sort())
    const after = await readDeltaSnapshot(conn, table)
    assert.deepEqual(comparable(after), comparable(before))
    assert.deepEqual(builtFromOf(after.files), builtFromOf(before.files))

    // delta-rs can only read this table through our checkpoint
    const theirs = await rs.run({ op: 'read', path: table })
    assert.equal(theirs.version, 11)
    assert.equal(theirs.files, before.files.length)
    assert.deepEqual(sortRows(theirs.rows ?? []), sortRows(rows))
  } finally {
    t.db.release(conn)
  }
})

test('checkpoint: the table property delta.checkpointInterval wins over the setting; never at version 0', async () => {
  const table = join(t.dir, 'interval')
  const conn = await t.db.connect()
  try {
    await ownHistory(conn, table, 7, 4, { 'delta.checkpointInterval': '3' })
    assert.equal(await checkpointIfDue(conn, table, 0, 1), null)
    assert.equal(await checkpointIfDue(conn, table, 4, 2), null, 'the property (3) wins over the setting (2)')
    assert.equal((await checkpointIfDue(conn, table, 3, 2))?.version, 3)
    assert.equal((await checkpointIfDue(conn, table, 6, 2))?.version, 6)
    // an older checkpoint written later leaves _last_checkpoint naming the newer one
    await writeCheckpoint(conn, table, await replayDeltaLog(conn, table, planReplay(await listDeltaLog(table), 5)))
    assert.equal((await readLastCheckpoint(table))?.version, 6)
    await assert.rejects(checkpointIfDue(conn, table, 9, 3), /version 9 is not in the log/)
  } finally {
    t.db.release(conn)
  }
})

test('checkpoint: tombstones past the table\'s deleted-file retention are left out; the retention property is parsed', async () => {
  assert.equal(deletedFileRetentionMs({}), 7 * 86_400_000)
  assert.equal(deletedFileRetentionMs({ 'delta.deletedFileRetentionDuration': 'interval 2 days' }), 2 * 86_400_000)
  assert.equal(deletedFileRetentionMs({ 'delta.deletedFileRetentionDuration': 'interval 1 week' }), 7 * 86_400_000)
  assert.throws(() => deletedFileRetentionMs({ 'delta.deletedFileRetentionDuration': 'two days' }), /interval N unit/)
  const table = join(t.dir, 'retention')
  const conn = await t.db.connect()
  try {
    await ownHistory(conn, table, 3)
    const s = await readDeltaSnapshot(conn, table)
    assert.ok(s.tombstones.length > 0)
    const deleted = s.tombstones[0]?.deletionTimestamp ?? 0
    const kept = await writeCheckpoint(conn, table, s, deleted + 86_400_000)
    const dropped = await writeCheckpoint(conn, table, s, deleted + 8 * 86_400_000)
    assert.equal(kept.size - dropped.size, s.tombstones.length)
    const back = await readDeltaSnapshot(conn, table)
    assert.deepEqual(back.tombstones, [], 'the checkpoint of version 2 replaced the one with tombstones')
    // a field the checkpoint would lose is refused, naming it; a derived copy (stats_parsed) is dropped
    const [f0, ...rest] = s.files
    assert.ok(f0 !== undefined)
    const withDv = { ...f0, action: { ...f0.action, deletionVector: { storageType: 'u', pathOrInlineDv: 'x', sizeInBytes: 1, cardinality: 1 } } }
    await assert.rejects(writeCheckpoint(conn, table, { ...s, files: [withDv, ...rest] }), /holds deletionVector, which the checkpoint does not keep/)
    const parsed = { ...f0, action: { ...f0.action, stats_parsed: { numRecords: 1 } } }
    assert.equal((await writeCheckpoint(conn, table, { ...s, files: [parsed, ...rest] })).numOfAddFiles, s.files.length)
  } finally {
    t.db.release(conn)
  }
})
