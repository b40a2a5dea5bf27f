// The bronze sink's DuckDB memory stays flat across flushes (rows deleted from an in-memory table kept their memory:
// the service's RSS grew by about 6 MB each 50,000 events flushed).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { num } from '../src/batch/duckdb.js'
import { EventMaker } from './helpers/bronze.js'
import { SINK_DEFAULTS } from './helpers/settings.js'
import { tempData } from './helpers/temp-data.js'

const tmp = tempData('hg-bronze-memory-')
const T = Date.UTC(2026, 0, 1, 12)

test('bronze sink: DuckDB holds no more table memory after 12 flushes than after 2', { timeout: 120_000 }, async () => {
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir: tmp.dir, db: tmp.db })
  const conn = await tmp.db.connect()
  const tableBytes = async (): Promise<number> =>
    num((await conn.rows("SELECT coalesce(sum(memory_usage_bytes), 0) AS b FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'"))[0]?.b)
  const maker = new EventMaker(7)
  let offset = 0
  const flushes: number[] = []
  for (let f = 0; f < 12; f++) {
    for (const e of maker.make(20_000, T + f * 60_000, T + (f + 1) * 60_000)) sink.add(e, { topic: 'events', partition: 0, offset: String(offset++) })
    assert.equal((await sink.flush()).events, 20_000)
    flushes.push(await tableBytes())
  }
  await sink.close()
  tmp.db.release(conn)
  assert.ok((flushes[1] as number) > 0, 'the buffer table is measured')
  assert.ok((flushes[11] as number) <= (flushes[1] as number), `table memory after each flush: ${flushes.join(', ')}`)
})
