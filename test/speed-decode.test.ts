// The decode step: columns that cross threads give what parseEvent gives; records over the size limit
// are too_large; the pool (real worker threads) survives a thread killed mid-batch and a record whose
// decoding kills its thread (decode_failed), and the pipeline counts every record exactly once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type InputBatch, MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { decodeColumns, packRecords, unpackColumns } from '../src/speed/decode-columns.js'
import { DecodePool, InThreadDecoder } from '../src/speed/decode-pool.js'
import { parseEvent } from '../src/model/index.js'
import { H, M } from './helpers/events.js'

const NOW = Date.UTC(2026, 0, 5, 12)

function good (i: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ event_id: `e${i}`, timestamp: NOW - 60_000 + i, event_type: `t${i % 3}`, region: `r${i % 2}`, ...extra })
}

/** valid and invalid records of every kind, multi-byte text and bytes that are not UTF-8 */
const MIXED: (string | Uint8Array)[] = [
  good(1),
  good(2, { processing_time: 3.5, response_time: 0, revenue: 12.34, user_id: 'ü-😀' }),
  good(3, { user_id: '', text: 'Schön 😀 and a new line\n' }),
  good(8, { text: '' }),
  good(9, { text: 42 }),
  good(4, { revenue: null, user_id: null, processing_time: null }),
  JSON.stringify({ event_id: 'ë'.repeat(40), timestamp: new Date(NOW).toISOString(), event_type: 'κλικ', region: '東京' }),
  'not json',
  '[1,2]',
  JSON.stringify({ event_id: '', timestamp: NOW, event_type: 'a', region: 'b' }),
  JSON.stringify({ event_id: 'f', timestamp: NOW + H, event_type: 'a', region: 'b' }),
  good(5, { revenue: 1.234 }),
  good(6, { user_id: 7 }),
  Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
  Buffer.from(good(7), 'utf8'),
  ''
]

test('columns packed, decoded and unpacked equal parseEvent record by record', () => {
  const packed = packRecords(MIXED)
  assert.equal(packed.ends.length, MIXED.length)
  const got = unpackColumns(structuredClone(decodeColumns(packed, NOW)))
  assert.deepEqual(got, MIXED.map((v) => parseEvent(v, NOW)))
  assert.deepEqual(unpackColumns(decodeColumns(packRecords([]), NOW)), [])
})

test('in this thread: a record over the limit (in bytes, not characters) is too_large and not parsed', async () => {
  const d = new InThreadDecoder(100)
  const at = good(1).padEnd(100, ' ')
  const multi = JSON.stringify({ event_id: 'é'.repeat(20), timestamp: NOW, event_type: 'a', region: 'b' }) // < 100 characters, > 100 bytes
  assert.ok(multi.length < 100 && Buffer.byteLength(multi) > 100)
  const [atLimit, over, overBytes, overBuffer] = await d.decode([at, at + ' ', multi, Buffer.from(at + ' ')], NOW)
  assert.equal(atLimit?.ok, true)
  for (const v of [over, overBytes, overBuffer]) {
    assert.equal(v?.ok, false)
    assert.equal(v.ok === false && v.reason, 'too_large')
  }
  assert.match(over?.ok === false ? over.detail : '', /101 bytes, more than the limit of 100/)
  await d.close()
})

test('the pool gives what this thread gives, in order, with too_large decided before the threads', { timeout: 120_000 }, async (t) => {
  const pool = new DecodePool({ threads: 2, maxRecordBytes: 200 })
  t.after(() => pool.close())
  const values = [...MIXED, 'x'.repeat(201), ...Array.from({ length: 3000 }, (_, i) => good(100 + i, { user_id: i % 2 === 0 ? `u${i}` : undefined }))]
  const expected = await new InThreadDecoder(200).decode(values, NOW)
  assert.deepEqual(await pool.decode(values, NOW), expected)
  assert.equal(pool.failedTasks, 0)
  assert.deepEqual(await pool.decode([], NOW), [])
})

test('a thread killed mid-batch is replaced and its records decoded again: nothing lost or doubled', { timeout: 120_000 }, async (t) => {
  const pool = new DecodePool({ threads: 2, maxRecordBytes: 1 << 20 })
  t.after(() => pool.close())
  const values = Array.from({ length: 20_000 }, (_, i) => good(i))
  const expected = await new InThreadDecoder(1 << 20).decode(values, NOW)
  const decoding = pool.decode(values, NOW)
  // both chunks are with a thread now: kill them
  await Promise.all(pool.threads.map((w) => w.terminate()))
  assert.deepEqual(await decoding, expected)
  assert.ok(pool.failedTasks >= 1, `failed tasks ${pool.failedTasks}`)
  assert.equal(pool.threads.length, 2, 'the threads are replaced')
  assert.deepEqual(await pool.decode(values.slice(0, 10), NOW), expected.slice(0, 10))
})

/** 800 kB of nesting: harmless in a thread with the default heap, more than a 16 MB heap can parse */
const POISON = '['.repeat(400_000) + ']'.repeat(400_000)

test('a record whose decoding kills its thread is decode_failed; the rest of the batch is decoded once, the pool goes on', { timeout: 240_000 }, async (t) => {
  const pool = new DecodePool({ threads: 1, maxRecordBytes: 1 << 20, heapMb: 16 })
  t.after(() => pool.close())
  const values = [...Array.from({ length: 20 }, (_, i) => good(i)), POISON, ...Array.from({ length: 20 }, (_, i) => good(20 + i))]
  const got = await pool.decode(values, NOW)
  const expected = await new InThreadDecoder(1 << 20).decode(values, NOW)
  assert.equal(expected[20]?.ok === false && expected[20].reason, 'not_object', 'in a thread with a big enough heap it is merely invalid')
  const failed = got[20]
  assert.equal(failed?.ok === false && failed.reason, 'decode_failed')
  assert.match(failed?.ok === false ? failed.detail : '', /memory/)
  assert.deepEqual(got.filter((_, i) => i !== 20), expected.filter((_, i) => i !== 20))
  assert.ok(pool.failedTasks >= 2)
  assert.deepEqual(await pool.decode([good(99)], NOW), [parseEvent(good(99), NOW)])
})

test('the pipeline on the pool counts each record once through a killed thread, a poison record and a too large one', { timeout: 240_000 }, async (t) => {
  const pool = new DecodePool({ threads: 1, maxRecordBytes: 850_000, heapMb: 16 })
  t.after(() => pool.close())
  const options = { dedupWindowMs: 15 * M, allowedLatenessMs: 10 * M, deadLetterKeep: 10 }
  const store = new MemorySpeedStore({ retentionMs: H, dedupWindowMs: 15 * M, now: () => NOW })
  const reference = new MemorySpeedStore({ retentionMs: H, dedupWindowMs: 15 * M, now: () => NOW })
  const pipeline = new SpeedPipeline({ ...options, store, decode: (values, now) => pool.decode(values, now) })
  const plain = new SpeedPipeline({ ...options, store: reference })
  const batch = (from: number, values: string[]): InputBatch => ({ topic: 't', partition: 0, records: values.map((value, i) => ({ value, offset: String(from + i) })) })
  const first = batch(0, Array.from({ length: 5000 }, (_, i) => good(i)))
  const during = pipeline.process(first, NOW)
  await Promise.all(pool.threads.map((w) => w.terminate()))
  const r1 = await during
  assert.equal(r1.applied, true)
  assert.ok(pool.failedTasks >= 1)
  await plain.process(first, NOW)
  const tooLarge = JSON.stringify({ event_id: 'big', timestamp: NOW, event_type: 'a', region: 'b', pad: 'x'.repeat(900_000) })
  const second = batch(5000, [good(9000), POISON, tooLarge, good(9001), good(1) /* a duplicate */])
  const r2 = await pipeline.process(second, NOW)
  assert.equal(r2.invalid, 2)
  await plain.process(batch(5000, [good(9000), good(9001), good(1)]), NOW)
  const c = pipeline.counts()
  assert.deepEqual({ ...c, invalid_by_reason: {} }, { ...plain.counts(), received: 5005, invalid: 2, invalid_by_reason: {} })
  assert.deepEqual(c.invalid_by_reason, { decode_failed: 1, too_large: 1 })
  assert.deepEqual(pipeline.deadLetters(10).map((d) => [d.reason, d.source.offset]).sort(), [['decode_failed', '5001'], ['too_large', '5002']])
  const rows = await store.query(NOW - H, NOW + M, {})
  assert.ok(rows.length > 0)
  assert.deepEqual(rows, await reference.query(NOW - H, NOW + M, {}))
})

test('a pool whose threads cannot decode fails the batch instead of declaring its records decode_failed', { timeout: 120_000 }, async (t) => {
  const pool = new DecodePool({ threads: 1, maxRecordBytes: 1 << 20, filename: new URL('./no-such-decode-worker.js', import.meta.url) })
  t.after(() => pool.close())
  await assert.rejects(pool.decode(Array.from({ length: 8 }, (_, i) => good(i)), NOW), /decode pool: the threads do not work/)
  assert.ok(pool.failedTasks >= 2)
})
