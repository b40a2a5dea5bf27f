import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { test } from 'node:test'
import {
  advanceBronzeState, bronzeHourDir, bronzeStatePath, emptyBronzeState, readBronzeState, setPending, settlePending, watermarkOf
} from '../src/batch/bronze-layout.js'
import { removeUnrecordedBronze } from '../src/batch/bronze-recovery.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { Db } from '../src/batch/duckdb.js'
import { HOUR_MS } from '../src/model/time.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const t = (s: string): number => Date.parse(s)

test('the bronze watermark is the slowest partition still sending; a finished source stops holding it back', () => {
  let state = advanceBronzeState(emptyBronzeState(), [
    { topic: 'synthetic-history', partition: 0, maxEventTime: t('2026-01-01T10:00:00Z'), lastOffset: '99' },
    { topic: 'synthetic', partition: 0, maxEventTime: t('2026-01-01T12:00:00Z'), lastOffset: '5' }
  ])
  assert.equal(watermarkOf(state), t('2026-01-01T10:00:00Z'))
  const history = state.partitions.find((p) => p.topic === 'synthetic-history')
  assert.ok(history !== undefined)
  history.finished = true
  assert.equal(watermarkOf(state), t('2026-01-01T12:00:00Z'))
  // every source finished: everything they will ever send is in bronze
  for (const p of state.partitions) p.finished = true
  assert.equal(watermarkOf(state), t('2026-01-01T12:00:00Z'))
  // a finished source that sends again holds the watermark again
  state = advanceBronzeState(state, [{ topic: 'synthetic-history', partition: 0, maxEventTime: t('2026-01-01T11:00:00Z'), lastOffset: '120' }])
  assert.equal(watermarkOf(state), t('2026-01-01T11:00:00Z'))
  assert.equal(watermarkOf(emptyBronzeState()), null)
})

test('a partition being read that bronze holds nothing of yet (pending) holds the watermark back until it flushes or is settled', () => {
  let state = advanceBronzeState(emptyBronzeState(), [{ topic: 'events', partition: 0, maxEventTime: t('2026-01-01T12:00:00Z'), lastOffset: '9' }])
  // partition 0 is known: only 1 and 2 can be pending; pending of other topics is kept
  state = setPending({ ...state, pending: [{ topic: 'other', partition: 4 }, { topic: 'events', partition: 7 }] }, ['events'],
    [{ topic: 'events', partition: 2 }, { topic: 'events', partition: 0 }, { topic: 'events', partition: 1 }])
  assert.deepEqual(state.pending, [{ topic: 'events', partition: 1 }, { topic: 'events', partition: 2 }, { topic: 'other', partition: 4 }])
  assert.equal(watermarkOf(state), null, 'complete up to no event time while a partition is pending')
  state = advanceBronzeState(state, [{ topic: 'events', partition: 1, maxEventTime: t('2026-01-01T11:00:00Z'), lastOffset: '3' }])
  state = settlePending(state, { topic: 'events', partition: 2 }) // read to its end, nothing valid
  assert.deepEqual(state.pending, [{ topic: 'other', partition: 4 }])
  state = settlePending(state, { topic: 'other', partition: 4 })
  assert.equal(state.pending, undefined, 'an empty list is left out of the file')
  assert.equal(watermarkOf(state), t('2026-01-01T11:00:00Z'))
})

test('a failed flush removes the files it renamed; removeUnrecordedBronze removes what a killed flush left, nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-bronze-state-'))
  const db = await Db.open()
  t.after(async () => { db.close(); await rm(dir, { recursive: true, force: true }) })
  const H1 = Date.UTC(2026, 0, 1, 10)
  const H2 = H1 + HOUR_MS
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir: dir, db })
  const add = (partition: number, from: number, to: number, hour: number, topic = 'events'): void => {
    for (let o = from; o <= to; o++) sink.add({ event_id: `e${partition}-${o}`, ts: hour + o * 1000, event_type: 'view', region: 'eu' }, { topic, partition, offset: String(o) })
  }
  const names = async (hour: number): Promise<string[]> => (await readdir(bronzeHourDir(dir, hour)).catch(() => [] as string[])).sort()
  const flushed: string[] = []
  sink.onFlushed((f) => flushed.push(...f.map((x) => `${x.topic}/${x.partition}@${x.lastOffset}`)))

  add(0, 0, 9, H1)
  await sink.flush()
  assert.deepEqual(flushed, ['events/0@9'], 'listeners hear of the flush')
  // the second slice of the next flush cannot be written (its hour folder is a file): the first
  // slice was already renamed into place, and must not stay beside what the retry writes
  await mkdir(join(bronzeHourDir(dir, H2), '..'), { recursive: true })
  await writeFile(bronzeHourDir(dir, H2), 'in the way')
  add(0, 10, 14, H1)
  add(0, 15, 19, H2)
  await assert.rejects(sink.flush())
  assert.deepEqual(await names(H1), ['events-p0-0-9.parquet'])
  assert.equal((await readBronzeState(dir)).partitions[0]?.last_offset, '9')
  await rm(bronzeHourDir(dir, H2))
  add(0, 20, 21, H1) // arrived meanwhile: the retry is cut differently
  await sink.flush()
  assert.deepEqual(await names(H1), ['events-p0-0-9.parquet', 'events-p0-10-21.parquet'])
  assert.deepEqual(await names(H2), ['events-p0-15-19.parquet'])
  assert.deepEqual(flushed, ['events/0@9', 'events/0@21'])

  // a flush killed between its renames and the state write: the state is the one before it
  const before = await readFile(bronzeStatePath(dir), 'utf8')
  add(0, 22, 30, H2)
  add(5, 0, 3, H2) // a partition the state knew nothing of, not pending: kept
  add(6, 0, 3, H2) // …pending: its first flush died, removed
  add(0, 40, 41, H2, 'other') // another topic: not ours to judge
  await sink.flush()
  await writeFile(bronzeStatePath(dir), before)
  await sink.updateState((s) => setPending(s, ['events'], [{ topic: 'events', partition: 6 }]))
  const h2 = bronzeHourDir(dir, H2)
  await writeFile(join(h2, '.events-p0-31-35.parquet.tmp-1-abcd'), 'half written')
  await writeFile(join(h2, '.events-p0-0-9+events-p0-10-21.c.parquet.tmp-1-abcd'), 'a compaction of another process')
  await writeFile(join(dir, 'bronze', '._state.json.tmp-1-abcd'), '{')
  const r = await removeUnrecordedBronze(dir, ['events'])
  assert.deepEqual(r.unrecorded.map((p) => basename(p)).sort(), ['events-p0-22-30.parquet', 'events-p6-0-3.parquet'])
  assert.deepEqual(r.temps.map((p) => basename(p)).sort(), ['._state.json.tmp-1-abcd', '.events-p0-31-35.parquet.tmp-1-abcd'])
  assert.deepEqual(await names(H2), ['.events-p0-0-9+events-p0-10-21.c.parquet.tmp-1-abcd', 'events-p0-15-19.parquet', 'events-p5-0-3.parquet', 'other-p0-40-41.parquet'])
  assert.deepEqual(await names(H1), ['events-p0-0-9.parquet', 'events-p0-10-21.parquet'])
  await sink.close()
})
