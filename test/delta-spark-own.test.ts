// Spark (PySpark 4.2.0 with delta-spark 4.4.0 from PyPI, on local[2]) reads Hourglass's own gold Delta tables: one
// whose commits before our checkpoint are deleted (so Spark must read the checkpoint, which it checks strictly
// against the protocol's schema) and one compacted by us (an OPTIMIZE commit with dataChange=false, then a
// checkpoint). One Spark session reads both: the same rows, files and version as our replay, and the operation.
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { checkpointIfDue } from '../src/batch/delta/checkpoint.js'
import { compactGold } from '../src/batch/delta/compact-gold.js'
import { commitName } from '../src/batch/delta/log-plan.js'
import { readDeltaSnapshot } from '../src/batch/delta/log-replay.js'
import { hourlyTableDir } from '../src/batch/delta/own-layout.js'
import { type GoldRow, sortRows } from './helpers/delta-rs.js'
import { ownHistory } from './helpers/own-delta.js'
import { sparkEnv, sparkVenv } from './helpers/spark.js'
import { tempData } from './helpers/temp-data.js'

const READ = fileURLToPath(new URL('./helpers/spark-read.py', import.meta.url))
const t = tempData('hourglass-delta-spark-own-')

interface SparkRead { path: string, version: number, operation: string, files: number, properties: Record<string, string>, rows: GoldRow[] }

test('Spark reads our gold: through our checkpoint alone, and after our compaction (OPTIMIZE), the rows and files our replay has',
  { timeout: 2_400_000 }, async (t2) => {
    const venv = await sparkVenv((line) => t2.diagnostic(line))
    const conn = await t.db.connect()
    const checkpointed = join(t.dir, 'checkpointed')
    const data = join(t.dir, 'data')
    const compacted = hourlyTableDir(data)
    const expect = new Map<string, { rows: GoldRow[], version: number, files: number, operation: string }>()
    try {
      const a = await ownHistory(conn, checkpointed, 12)
      assert.equal((await checkpointIfDue(conn, checkpointed, 10, 10))?.version, 10)
      for (let v = 0; v <= 10; v++) await rm(join(checkpointed, '_delta_log', commitName(v)))
      expect.set(checkpointed, { rows: a.rows, version: 11, files: (await readDeltaSnapshot(conn, checkpointed)).files.length, operation: 'WRITE' })

      const b = await ownHistory(conn, compacted, 15)
      const s = await compactGold({ dataDir: data, db: t.db, checkpointInterval: 5 })
      assert.equal(s.tables[0]?.checkpoint, 15)
      expect.set(compacted, { rows: b.rows, version: 15, files: (await readDeltaSnapshot(conn, compacted)).files.length, operation: 'OPTIMIZE' })
    } finally {
      t.db.release(conn)
    }

    const started = Date.now()
    const out = await venv.exec([READ, checkpointed, compacted], { timeoutMs: 1_800_000, env: sparkEnv() })
    t2.diagnostic(`spark read: ${((Date.now() - started) / 1000).toFixed(0)} s`)
    const line = out.trim().split('\n').filter((l) => l.startsWith('RESULT ')).at(-1) ?? ''
    const read = JSON.parse(line.slice('RESULT '.length)) as SparkRead[]
    assert.equal(read.length, 2)
    for (const r of read) {
      const e = expect.get(r.path)
      assert.ok(e !== undefined, r.path)
      assert.equal(r.version, e.version, r.path)
      assert.equal(r.operation, e.operation, r.path)
      assert.equal(r.files, e.files, r.path)
      assert.ok(r.properties['hourglass.complete_until'] !== undefined, 'the properties are read')
      // spark-read.py adds `date` from the partition values: it names the day of window_start
      assert.ok(r.rows.every((x) => (x as GoldRow & { date?: string }).date === x.window_start.slice(0, 10)), 'date from the partition values')
      const contract = r.rows.map((x) => { const { date: _date, ...rest } = x as GoldRow & { date?: string }; return rest })
      assert.deepEqual(sortRows(contract), sortRows(e.rows), r.path)
    }
  })
