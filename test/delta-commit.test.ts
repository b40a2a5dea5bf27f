// The Delta commit writer: a commit appears whole under its version's name, and of writers racing for one version
// exactly one wins (the others get CommitConflictError and leave nothing behind); the log replay reads what it wrote.
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { CommitConflictError, type DeltaAction, writeCommit } from '../src/batch/delta/commit.js'
import { commitName } from '../src/batch/delta/log-plan.js'
import { BUILT_FROM_TAG, builtFromOf, builtFromTags } from '../src/batch/delta/own-layout.js'
import { readDeltaSnapshot } from '../src/batch/delta/log-replay.js'
import { tempData } from './helpers/temp-data.js'

const t = tempData('hourglass-delta-commit-')

const create: DeltaAction[] = [
  { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
  {
    metaData: {
      id: 'c0ffee00-0000-4000-8000-000000000000',
      format: { provider: 'parquet', options: {} },
      schemaString: JSON.stringify({ type: 'struct', fields: [{ name: 'x', type: 'long', nullable: true, metadata: {} }] }),
      partitionColumns: [],
      configuration: {},
      createdTime: 0
    }
  }
]
const add = (path: string): DeltaAction => ({ add: { path, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true } })

test('writeCommit: racing writers of one version, exactly one wins and the log holds its actions only', async () => {
  const table = await mkdtemp(join(t.dir, 'table-'))
  await writeCommit(table, 0, create)
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => writeCommit(table, 1, [add(`w${i}.parquet`)])))
  const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
  assert.equal(won.length, 1, 'one writer wins version 1')
  for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof CommitConflictError, String(r.reason))
  const text = await readFile(join(table, '_delta_log', commitName(1)), 'utf8')
  assert.deepEqual(text.trim().split('\n').map((l) => JSON.parse(l)), [add(`w${won[0] as number}.parquet`)])
  assert.deepEqual((await readdir(join(table, '_delta_log'))).sort(), [commitName(0), commitName(1)], 'no temp file left behind')
  const conn = await t.db.connect()
  try {
    const snap = await readDeltaSnapshot(conn, table)
    assert.equal(snap.version, 1)
    assert.deepEqual(snap.files.map((f) => f.path), [`w${won[0] as number}.parquet`])
  } finally {
    t.db.release(conn)
  }
})

test('writeCommit: a version that exists is refused and left as it was', async () => {
  const table = await mkdtemp(join(t.dir, 'table-'))
  await writeCommit(table, 0, create)
  const before = await readFile(join(table, '_delta_log', commitName(0)), 'utf8')
  await assert.rejects(writeCommit(table, 0, [add('late.parquet')]), CommitConflictError)
  assert.equal(await readFile(join(table, '_delta_log', commitName(0)), 'utf8'), before)
  await assert.rejects(writeCommit(table, -1, create), /integer ≥ 0/)
})

test('own layout: the built-from tags of a date\'s files unite; a file without them or with a bad tag records nothing', () => {
  const f = (date: string | null, tags: Record<string, string>): { partitionValues: Record<string, string | null>, tags: Record<string, string> } => ({ partitionValues: { date }, tags })
  assert.deepEqual(builtFromTags({ 10: 'b', '09': 'a' }), { [BUILT_FROM_TAG]: '{"09":"a","10":"b"}' })
  assert.deepEqual(builtFromOf([
    f('2026-01-01', builtFromTags({ '00': 'x', '01': 'y' })),
    f('2026-01-01', builtFromTags({ '02': 'z' })),
    f('2026-01-02', {}),
    f('2026-01-03', { [BUILT_FROM_TAG]: 'not json' }),
    f('2026-01-04', { [BUILT_FROM_TAG]: '{"7":"short hour","08":1}' }),
    f(null, builtFromTags({ '00': 'no date' }))
  ]), { '2026-01-01': { '00': 'x', '01': 'y', '02': 'z' }, '2026-01-04': {} })
})
