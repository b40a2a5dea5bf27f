// Delta log replay: which checkpoint and commits make the newest snapshot (classic and multi-part checkpoints, a
// part missing, a gap), action reconciliation through DuckDB (newest action per path; a commit that removes and
// re-adds a path keeps it), the protocol and contract checks, and data file paths.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { dataFilePath } from '../src/batch/delta/gold-table.js'
import { checkpoints, commitName, DeltaError, planReplay } from '../src/batch/delta/log-plan.js'
import { readDeltaSnapshot } from '../src/batch/delta/log-replay.js'
import { checkGoldMetadata, checkProtocol, type DeltaMetadata } from '../src/batch/delta/table-checks.js'
import { parseCli } from '../src/cli-args.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { tempData } from './helpers/temp-data.js'

const t = tempData('hourglass-delta-log-')

const c = (v: number): string => commitName(v)
const classic = (v: number): string => `${String(v).padStart(20, '0')}.checkpoint.parquet`
const part = (v: number, o: number, p: number): string => `${String(v).padStart(20, '0')}.checkpoint.${String(o).padStart(10, '0')}.${String(p).padStart(10, '0')}.parquet`

test('planReplay: the newest complete checkpoint and the commits after it; a multi-part checkpoint with a part missing is ignored', () => {
  const commits = [0, 1, 2, 3, 4, 5, 6].map(c)
  assert.deepEqual(planReplay(commits), { version: 6, checkpoint: null, commits })
  assert.deepEqual(planReplay([...commits, classic(3)]), { version: 6, checkpoint: { version: 3, files: [classic(3)] }, commits: [c(4), c(5), c(6)] })
  const parts = [part(5, 2, 2), part(5, 1, 2)]
  assert.deepEqual(planReplay([...commits, classic(3), ...parts]), { version: 6, checkpoint: { version: 5, files: [part(5, 1, 2), part(5, 2, 2)] }, commits: [c(6)] })
  assert.deepEqual(planReplay([...commits, classic(3), part(5, 1, 2)]).checkpoint, { version: 3, files: [classic(3)] })
  // commits before the checkpoint may be gone (log cleanup); a checkpoint of the newest version needs no commit after it
  assert.deepEqual(planReplay([classic(5), c(5), c(6), '_last_checkpoint', '00000000000000000006.crc']), { version: 6, checkpoint: { version: 5, files: [classic(5)] }, commits: [c(6)] })
  assert.deepEqual(planReplay([classic(6), c(6)]), { version: 6, checkpoint: { version: 6, files: [classic(6)] }, commits: [] })
  assert.equal(planReplay(commits, 4).version, 4)
  assert.deepEqual(checkpoints([part(7, 1, 3), part(7, 2, 3), part(7, 3, 3), classic(2)]).map((x) => x.version), [7, 2])
})

test('planReplay: no commit, or a missing commit after every checkpoint, is an error', () => {
  assert.throws(() => planReplay(['_last_checkpoint']), DeltaError)
  assert.throws(() => planReplay([c(0), c(1), c(3)]), /misses commits before version 3/)
  assert.throws(() => planReplay([c(2), c(3)]), DeltaError)
})

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [
    ['window_start', 'timestamp'], ['event_type', 'string'], ['region', 'string'], ['total_events', 'long'], ['latency_sum', 'double'],
    ['latency_count', 'long'], ['revenue_cents', 'long'],
    ['response_bins', { type: 'array', elementType: { type: 'struct', fields: [{ name: 'bin', type: 'integer' }, { name: 'n', type: 'long' }] }, containsNull: true }],
    ['date', 'string']
  ].map(([name, type]) => ({ name, type, nullable: true, metadata: {} }))
})

function metadata (configuration: Record<string, string>, partitionColumns = ['date']): DeltaMetadata {
  return { schemaString: SCHEMA, partitionColumns, configuration }
}

test('checks: reader features and versions we do not read are named; the contract and the boundary property are required', () => {
  assert.doesNotThrow(() => checkProtocol({ minReaderVersion: 3, readerFeatures: ['timestampNtz', 'variantType'] }, 'T'))
  assert.throws(() => checkProtocol({ minReaderVersion: 3, readerFeatures: ['timestampNtz', 'deletionVectors', 'columnMapping'] }, 'T'), /deletionVectors, columnMapping/)
  assert.throws(() => checkProtocol({ minReaderVersion: 4 }, 'T'), /reader version 4/)
  const ok = checkGoldMetadata(metadata({ 'hourglass.complete_until': '2026-01-02T00:00:00Z', 'hourglass.complete_from': '2025-12-01T00:00:00+00:00' }), 'T')
  assert.deepEqual(ok, { completeUntil: Date.parse('2026-01-02T00:00:00Z'), completeFrom: Date.parse('2025-12-01T00:00:00Z'), partitionColumns: ['date'] })
  assert.throws(() => checkGoldMetadata(metadata({}), 'T'), /hourglass\.complete_until is not set/)
  assert.throws(() => checkGoldMetadata(metadata({ 'hourglass.complete_until': '2026-01-02' }), 'T'), /not an ISO-8601 instant with a zone/)
  assert.throws(() => checkGoldMetadata(metadata({ 'hourglass.complete_until': '2026-01-02T00:00:00Z', 'delta.columnMapping.mode': 'id' }), 'T'), /columnMapping/)
  const noBins = { ...metadata({ 'hourglass.complete_until': '2026-01-02T00:00:00Z' }), schemaString: SCHEMA.replace('"response_bins"', '"bins"') }
  assert.throws(() => checkGoldMetadata(noBins, 'T'), /response_bins/)
})

test('dataFilePath: add paths are URIs relative to the table (percent-decoded), or absolute; none may leave the table', () => {
  assert.equal(dataFilePath('/t', 'date=2026-01-01/a%20b%3D.parquet'), '/t/date=2026-01-01/a b=.parquet')
  assert.equal(dataFilePath('/t', 'file:///data/x.parquet'), '/data/x.parquet')
  assert.throws(() => dataFilePath('/t', 's3://bucket/x.parquet'), /not on the local file system/)
  assert.throws(() => dataFilePath('/t', '../x.parquet'), /outside the table/)
})

async function writeLog (table: string, commits: Array<Array<Record<string, unknown>>>): Promise<void> {
  await mkdir(join(table, '_delta_log'), { recursive: true })
  for (const [v, actions] of commits.entries()) {
    await writeFile(join(table, '_delta_log', c(v)), actions.map((a) => JSON.stringify(a)).join('\n') + '\n')
  }
}

const add = (path: string, date: string): Record<string, unknown> => ({ add: { path, partitionValues: { date }, size: 1, modificationTime: 0, dataChange: true } })
const remove = (path: string, deletionTimestamp = 0): Record<string, unknown> => ({ remove: { path, deletionTimestamp, dataChange: true } })
const HEAD = [
  { commitInfo: { operation: 'WRITE' } },
  { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
  { metaData: { id: 'x', format: { provider: 'parquet', options: {} }, schemaString: SCHEMA, partitionColumns: ['date'], configuration: { 'hourglass.complete_until': '2026-01-01T00:00:00Z' } } }
]

test('replay: the newest action per path wins; a commit that removes and re-adds a path keeps it; the newest metaData wins', async () => {
  const table = join(t.dir, 'replay')
  await writeLog(table, [
    [...HEAD, add('a.parquet', '2026-01-01'), add('b.parquet', '2026-01-01')],
    [remove('a.parquet'), add('a.parquet', '2026-01-02'), { add: { ...add('c.parquet', '2026-01-03').add as object, tags: { note: 'x' } } }],
    [remove('b.parquet'), { metaData: { ...HEAD[2]?.metaData as object, configuration: { 'hourglass.complete_until': '2026-01-05T00:00:00Z' } } }],
    [add('b.parquet', '2026-01-04'), remove('c.parquet', 1_700_000_000_000), { commitInfo: { operation: 'WRITE' } }]
  ])
  const conn = await t.db.connect()
  try {
    const s = await readDeltaSnapshot(conn, table)
    assert.equal(s.version, 3)
    assert.deepEqual(s.files.map((f) => [f.path, f.partitionValues.date, f.deletionVector]).sort(), [['a.parquet', '2026-01-02', false], ['b.parquet', '2026-01-04', false]])
    assert.equal(s.metadata.configuration['hourglass.complete_until'], '2026-01-05T00:00:00Z')
    assert.equal(s.protocol.minReaderVersion, 1)
    // the removed files are tombstones, each with its newest remove action; the adds keep their whole action
    assert.deepEqual(s.tombstones.map((f) => [f.path, f.deletionTimestamp]), [['c.parquet', 1_700_000_000_000]])
    assert.deepEqual(s.files.find((f) => f.path === 'b.parquet')?.action, add('b.parquet', '2026-01-04').add)
  } finally {
    t.db.release(conn)
  }
})

test('replay: an add keeps its tags until a newer action of its path', async () => {
  const table = join(t.dir, 'tags')
  await writeLog(table, [
    [...HEAD, { add: { ...add('a.parquet', '2026-01-01').add as object, tags: { 'k': 'v1' } } }],
    [remove('a.parquet', 5), { add: { ...add('a.parquet', '2026-01-01').add as object, tags: { 'k': 'v2' } } }, add('b.parquet', '2026-01-01')]
  ])
  const conn = await t.db.connect()
  try {
    const s = await readDeltaSnapshot(conn, table)
    assert.deepEqual(s.files.map((f) => [f.path, f.tags]).sort(), [['a.parquet', { k: 'v2' }], ['b.parquet', {}]])
    assert.deepEqual(s.tombstones, [])
  } finally {
    t.db.release(conn)
  }
})

test('replay: a multi-part checkpoint (parts with different columns) plus the commits after it; the commits before it do not count', async () => {
  const table = join(t.dir, 'multipart')
  await writeLog(table, [[...HEAD, add('old.parquet', '2025-12-31')], [remove('old.parquet')], [], [add('late.parquet', '2026-01-03')]])
  // version 2 as a two-part checkpoint: the protocol and metaData in part 1, the files (and a tombstone) in part 2
  const conn = await t.db.connect()
  try {
    const log = join(table, '_delta_log')
    const meta = HEAD[2]?.metaData as { schemaString: string }
    await conn.run(`COPY (SELECT NULL::STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, dataChange BOOLEAN) AS add,
        NULL::STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN) AS remove,
        {'id': 'x', 'schemaString': $schema, 'partitionColumns': ['date'], 'configuration': MAP {'hourglass.complete_until': '2026-01-03T00:00:00Z'}} AS metaData,
        NULL::STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER) AS protocol
      UNION ALL SELECT NULL, NULL, NULL, {'minReaderVersion': 1, 'minWriterVersion': 2}) TO $file (FORMAT parquet)`,
    { schema: meta.schemaString, file: join(log, part(2, 1, 2)) })
    await conn.run(`COPY (SELECT {'path': 'x%20y.parquet', 'partitionValues': MAP {'date': '2026-01-01'}, 'size': 1, 'dataChange': true} AS add,
        NULL::STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN) AS remove
      UNION ALL SELECT NULL, {'path': 'old.parquet', 'deletionTimestamp': 0, 'dataChange': true}) TO $file (FORMAT parquet)`, { file: join(log, part(2, 2, 2)) })
    // the commits before the checkpoint no longer count: a wrong replay would bring old.parquet back
    await writeFile(join(log, c(0)), [...HEAD, add('gone.parquet', '2025-12-30')].map((a) => JSON.stringify(a)).join('\n') + '\n')
    const s = await readDeltaSnapshot(conn, table)
    assert.equal(s.version, 3)
    assert.deepEqual(s.files.map((f) => [f.path, f.partitionValues.date]).sort(), [['late.parquet', '2026-01-03'], ['x%20y.parquet', '2026-01-01']])
    assert.equal(s.metadata.configuration['hourglass.complete_until'], '2026-01-03T00:00:00Z')
    assert.deepEqual(s.metadata.partitionColumns, ['date'])
  } finally {
    t.db.release(conn)
  }
})

test('settings: --gold own|delta:PATH and --gold-daily delta:PATH (or HOURGLASS_GOLD, HOURGLASS_GOLD_DAILY); anything else names the setting', () => {
  const cli = parseCli(['serve', '--gold', 'delta:/lake/gold/hourly', '--gold-daily', 'delta:/lake/gold/daily'])
  const c = loadConfig({}, cli.overrides, cli.flags)
  assert.deepEqual([c.gold, c.goldDaily], ['delta:/lake/gold/hourly', 'delta:/lake/gold/daily'])
  assert.deepEqual([loadConfig({}).gold, loadConfig({}).goldDaily], ['own', ''])
  assert.equal(loadConfig({ HOURGLASS_GOLD: 'delta:./t' }).gold, 'delta:./t')
  assert.throws(() => loadConfig({ HOURGLASS_GOLD: 'parquet:/x' }), (err: Error) => err instanceof ConfigError && /HOURGLASS_GOLD="parquet:\/x".*own or delta:PATH/.test(err.message))
  const bad = parseCli(['serve', '--gold-daily', '/x'])
  assert.throws(() => loadConfig({}, bad.overrides, bad.flags), /--gold-daily="\/x"/)
})
