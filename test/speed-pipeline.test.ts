import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ApplyBatch, DeadLetter, SpeedStore } from '../src/model/index.js'
import { MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { PIPELINE_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'

const T = Date.UTC(2026, 0, 1, 12)
const M = 60_000
const NOW = T + 10 * M
const H = 60 * M

const wire = (id: string, ts: number, more: Record<string, unknown> = {}): string =>
  JSON.stringify({ event_id: id, timestamp: new Date(ts).toISOString(), event_type: 'click', region: 'us-east', processing_time: 5, response_time: 120, ...more })

const batchOf = (values: (string | Uint8Array)[], first = 0, topic = 'events', partition = 0) =>
  ({ topic, partition, records: values.map((value, i) => ({ value, offset: String(first + i) })) })

function setup (options: { deadLetterKeep?: number, store?: SpeedStore } = {}) {
  const store = options.store ?? new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW })
  const invalid: DeadLetter[] = []
  const applied: [number, number][] = []
  const pipeline = new SpeedPipeline({
    ...PIPELINE_DEFAULTS,
    store,
    deadLetterKeep: options.deadLetterKeep ?? 100,
    onInvalid: (d) => { invalid.push(d) },
    onApplied: (ms, n) => { applied.push([ms, n]) }
  })
  return { store, pipeline, invalid, applied }
}

/** A store that passes every call to `inner()` (looked up per call), but for `over`. */
function delegating (kind: string, inner: () => SpeedStore, over: Partial<SpeedStore> = {}): SpeedStore {
  return {
    kind,
    keepsDedupKeys: inner().keepsDedupKeys,
    apply: (b) => inner().apply(b),
    query: (...a) => inner().query(...a),
    coverage: () => inner().coverage(),
    position: (...a) => inner().position(...a),
    setCoveredFrom: (x) => inner().setCoveredFrom(x),
    seen: (keys) => inner().seen(keys),
    changeToken: (...a) => inner().changeToken(...a),
    close: () => inner().close(),
    ...over
  }
}

const totalEvents = async (store: SpeedStore) => (await store.query(0, Number.MAX_SAFE_INTEGER, {})).reduce((n, r) => n + r.partials.events, 0)

test('pipeline: valid → dedup → windows → one apply; duplicates and late events counted, returned for bronze', async (t) => {
  const { store, pipeline, applied } = setup()
  t.after(() => store.close())
  const values = [
    wire('a', T + 5 * M + 1_000),
    wire('b', T + 5 * M + 2_000, { event_type: 'purchase', revenue: 12.5 }),
    wire('a', T + 5 * M + 1_000), // duplicate: same bytes
    wire('c', T + 6 * M + 30_000), // moves the watermark to T+5m30s
    wire('late', T + 2 * M), // window [T+2m, T+3m) is closed: late
    wire('d', T + 5 * M + 10_000, { region: 'eu-west' })
  ]
  const r = await pipeline.process(batchOf(values, 100), NOW)
  assert.equal(r.applied, true)
  assert.deepEqual(r.valid.map((v) => v.event.event_id), ['a', 'b', 'a', 'c', 'late', 'd'], 'all valid events, duplicates and late included')
  assert.deepEqual(r.valid.map((v) => v.offset), ['100', '101', '102', '103', '104', '105'], 'with the offsets of their records')
  assert.equal(r.duplicates, 1)
  assert.equal(r.late, 1)
  assert.equal(r.watermark, T + 5 * M + 30_000)
  assert.equal(r.maxEventTime, T + 6 * M + 30_000)
  assert.deepEqual(pipeline.counts(), { received: 6, valid: 6, invalid: 0, invalid_by_reason: {}, duplicates: 1, late: 1 })

  assert.equal(await totalEvents(store), 4)
  const rows = await store.query(T + 5 * M, T + 6 * M, { event_type: ['purchase'] })
  assert.equal(rows[0]?.partials.revenue_cents, 1250)
  assert.equal(await store.position('events', 0), '105')
  const c = await store.coverage()
  assert.equal(c.watermark, T + 5 * M + 30_000)
  assert.equal(c.maxEventTime, T + 6 * M + 30_000)
  assert.equal(applied.length, 1)
  assert.equal(applied[0]?.[1], 4, 'four (window, type, region) deltas')
  assert.equal(pipeline.watermark, T + 5 * M + 30_000)
})

test('pipeline: duplicates across batches are caught; late is judged by the running watermark', async (t) => {
  const { store, pipeline } = setup()
  t.after(() => store.close())
  await pipeline.process(batchOf([wire('a', T + 5 * M), wire('b', T + 8 * M)], 0), NOW)
  const r = await pipeline.process(batchOf([wire('a', T + 5 * M), wire('c', T + 6 * M + 59_999), wire('d', T + 7 * M)], 2), NOW)
  assert.equal(r.duplicates, 1)
  assert.equal(r.late, 1, 'watermark T+7m closes [T+6m, T+7m)')
  assert.equal(await totalEvents(store), 3)
})

test('pipeline: invalid records are counted by reason, kept as dead letters (newest first) and handed to onInvalid', async (t) => {
  const { store, pipeline, invalid } = setup({ deadLetterKeep: 3 })
  t.after(() => store.close())
  const bad = [
    '{"event_id": "x", "timestamp": ',
    wire('neg', T + 5 * M, { revenue: -1 }),
    wire('three', T + 5 * M, { revenue: 1.005 }),
    wire('future', NOW + 6 * M),
    JSON.stringify({ event_id: 'nt', timestamp: new Date(T).toISOString(), region: 'us-east' }),
    '[1,2,3]'
  ]
  const r = await pipeline.process(batchOf([wire('ok', T + 5 * M), ...bad], 7), NOW)
  assert.equal(r.invalid, 6)
  assert.equal(r.valid.length, 1)
  const c = pipeline.counts()
  assert.equal(c.received, 7)
  assert.equal(c.valid, 1)
  assert.equal(c.invalid, 6)
  assert.deepEqual(c.invalid_by_reason, { not_json: 1, bad_revenue: 2, future_timestamp: 1, bad_event_type: 1, not_object: 1 })
  assert.equal(invalid.length, 6)
  assert.deepEqual(invalid.map((d) => d.source.offset), ['8', '9', '10', '11', '12', '13'])
  assert.equal(invalid[0]?.raw, bad[0], 'the original bytes')
  assert.equal(invalid[0]?.at, NOW)
  const kept = pipeline.deadLetters(10)
  assert.deepEqual(kept.map((d) => d.reason), ['not_object', 'bad_event_type', 'future_timestamp'], 'bounded, newest first')
  assert.deepEqual(pipeline.deadLetters(1).map((d) => d.source.offset), ['13'])
  assert.equal(await totalEvents(store), 1)
})

test('pipeline: byte values (Uint8Array) are decoded as UTF-8', async (t) => {
  const { store, pipeline } = setup()
  t.after(() => store.close())
  const r = await pipeline.process(batchOf([Buffer.from(wire('ü', T + 5 * M)), new TextEncoder().encode('nope')], 0), NOW)
  assert.equal(r.valid[0]?.event.event_id, 'ü')
  assert.equal(pipeline.deadLetters(1)[0]?.raw, 'nope')
})

test('pipeline: a replayed batch changes neither the store nor the counters, and returns no events', async (t) => {
  const { store, pipeline } = setup()
  t.after(() => store.close())
  const b = batchOf([wire('a', T + 5 * M), wire('b', T + 5 * M), 'bad'], 0)
  await pipeline.process(b, NOW)
  const counts = pipeline.counts()
  const rows = await store.query(0, Number.MAX_SAFE_INTEGER, {})
  const again = await pipeline.process(b, NOW)
  assert.equal(again.applied, false)
  assert.equal(again.skipped, 3)
  assert.deepEqual(again.valid, [])
  assert.deepEqual(pipeline.counts(), counts)
  assert.deepEqual(await store.query(0, Number.MAX_SAFE_INTEGER, {}), rows)
  assert.equal(pipeline.deadLetters(10).length, 1)

  // an overlapping batch: only the records after the processed offset count
  const r = await pipeline.process(batchOf([wire('a', T + 5 * M), wire('b', T + 5 * M), 'bad', wire('c', T + 5 * M)], 0), NOW)
  assert.equal(r.applied, true)
  assert.equal(r.skipped, 3)
  assert.deepEqual(r.valid.map((v) => v.event.event_id), ['c'])
  assert.equal(pipeline.counts().received, 4)
  assert.equal(await totalEvents(store), 3)
})

test('pipeline: a new pipeline on a store that holds a position skips what the store already has', async (t) => {
  const { store, pipeline } = setup()
  t.after(() => store.close())
  const values = [wire('a', T + 5 * M), wire('b', T + 5 * M), wire('c', T + 5 * M)]
  await pipeline.process(batchOf(values.slice(0, 2), 0), NOW)
  const restarted = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store })
  const r = await restarted.process(batchOf(values, 0), NOW)
  assert.deepEqual(r.valid.map((v) => v.event.event_id), ['c'])
  assert.equal(restarted.counts().received, 1)
  assert.equal(await totalEvents(store), 3)
  // partitions are independent
  const other = await restarted.process(batchOf([wire('p1a', T + 5 * M), wire('p1b', T + 5 * M)], 0, 'events', 1), NOW)
  assert.equal(other.applied, true)
  assert.equal(other.skipped, 0)
  assert.equal(other.valid.length, 2)
})

test('pipeline: an empty batch applies nothing', async (t) => {
  const { store, pipeline, applied } = setup()
  t.after(() => store.close())
  const r = await pipeline.process({ topic: 'events', partition: 0, records: [] }, NOW)
  assert.equal(r.applied, false)
  assert.equal(applied.length, 0)
  assert.equal(await store.position('events', 0), null)
})

test('pipeline: a batch whose events are all invalid still moves the position', async (t) => {
  const { store, pipeline } = setup()
  t.after(() => store.close())
  const r = await pipeline.process(batchOf(['x', 'y'], 40), NOW)
  assert.equal(r.applied, true)
  assert.equal(await store.position('events', 0), '41')
})

test('pipeline: when apply fails, nothing is counted and the retried batch counts once, not as duplicates', async (t) => {
  const inner = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW, keepsDedupKeys: true })
  t.after(() => inner.close())
  let fail = true
  const flaky = delegating('flaky', () => inner, {
    keepsDedupKeys: true,
    apply: async (b: ApplyBatch) => { if (fail) { fail = false; throw new Error('store down') } return inner.apply(b) }
  })
  const { pipeline } = setup({ store: flaky })
  const b = batchOf([wire('a', T + 5 * M), wire('b', T + 9 * M), 'bad'], 0)
  await assert.rejects(pipeline.process(b, NOW), /store down/)
  assert.deepEqual(pipeline.counts(), { received: 0, valid: 0, invalid: 0, invalid_by_reason: {}, duplicates: 0, late: 0 })
  assert.equal(pipeline.watermark, null)
  const r = await pipeline.process(b, NOW)
  assert.equal(r.applied, true)
  assert.equal(r.duplicates, 0)
  assert.deepEqual(pipeline.counts(), { received: 3, valid: 2, invalid: 1, invalid_by_reason: { not_json: 1 }, duplicates: 0, late: 0 })
  assert.equal(await totalEvents(inner), 2)
})

test('pipeline: an apply that ran but was not answered (store paused past its timeout) is counted once when the retry finds it applied', async (t) => {
  const inner = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW, keepsDedupKeys: true })
  t.after(() => inner.close())
  let unanswered = 0
  const paused = delegating('paused', () => inner, {
    keepsDedupKeys: true,
    apply: async (b: ApplyBatch) => {
      const applied = await inner.apply(b)
      if (unanswered-- > 0) throw new Error('Command timed out')
      return applied
    }
  })
  const { pipeline, invalid } = setup({ store: paused })
  await pipeline.process(batchOf([wire('x', T + 4 * M)], 0), NOW)
  const b = batchOf([wire('a', T + 5 * M), wire('b', T + 9 * M), 'bad'], 1)
  const before = pipeline.counts()
  unanswered = 1
  await assert.rejects(pipeline.process(b, NOW), /timed out/)
  assert.deepEqual(pipeline.counts(), before, 'nothing counted while the outcome is unknown')
  const r = await pipeline.process(b, NOW)
  assert.equal(r.applied, true, 'found applied: the caller acknowledges it')
  assert.deepEqual(r.valid.map((v) => v.offset), ['1', '2'], 'its valid events go to bronze (a local source)')
  assert.deepEqual(pipeline.counts(), { received: 4, valid: 3, invalid: 1, invalid_by_reason: { not_json: 1 }, duplicates: 0, late: 0 })
  assert.equal(pipeline.deadLetters(10).length, 1, 'its dead letter is kept once')
  assert.equal(invalid.length, 1, 'and sent once')
  assert.equal(await totalEvents(inner), 3, 'applied once')
  const again = await pipeline.process(b, NOW)
  assert.equal(again.skipped, 3, 'handed in once more: skipped')
  assert.deepEqual(pipeline.counts().received, 4)
  // a batch that another writer applied (a rebalance) is not taken for this pipeline's own: not counted here
  const other = setup({ store: inner })
  const next = batchOf([wire('y', T + 6 * M), wire('z', T + 7 * M)], 4)
  assert.equal((await other.pipeline.process(next, NOW)).applied, true)
  const mine = await pipeline.process(next, NOW)
  assert.equal(mine.applied, false)
  assert.equal(mine.skipped, 2)
  assert.equal(pipeline.counts().received, 4)
  assert.equal(await totalEvents(inner), 5)
})

test('pipeline: concurrent process calls are serialised', async (t) => {
  const { store, pipeline } = setup()
  t.after(() => store.close())
  const [a, b] = await Promise.all([
    pipeline.process(batchOf([wire('a', T + 5 * M)], 0), NOW),
    pipeline.process(batchOf([wire('a', T + 5 * M)], 1), NOW)
  ])
  assert.equal(a.duplicates + b.duplicates, 1)
  assert.equal(await totalEvents(store), 1)
})

test('pipeline: a duplicate of an event applied before a restart is still dropped (the store keeps dedup keys)', async (t) => {
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW, keepsDedupKeys: true }) // as a store that outlives the process
  t.after(() => store.close())
  const first = setup({ store }).pipeline
  await first.process(batchOf([wire('a', T + 5 * M), wire('b', T + 5 * M)], 0), NOW)
  // a new pipeline (the consumer restarted): its in-memory dedup is empty
  const second = setup({ store }).pipeline
  const r = await second.process(batchOf([wire('a', T + 5 * M), wire('c', T + 5 * M)], 2), NOW)
  assert.equal(r.duplicates, 1)
  const rows = await store.query(T, T + 60 * M, {})
  assert.equal(rows.reduce((n, row) => n + row.partials.events, 0), 3, 'a, b and c once each')
})

test('pipeline: two consumers that both held a partition during a rebalance count each record once', async (t) => {
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW })
  t.after(() => store.close())
  const a = setup({ store }).pipeline
  const b = setup({ store }).pipeline
  const ev = (i: number) => wire(`r${i}`, T + 5 * M + i * 1000)
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => ev(from + k))
  await a.process(batchOf(range(0, 5), 0), NOW) // a owns the partition: offsets 0-4
  await b.process(batchOf(range(5, 10), 5), NOW) // the partition moved to b: 5-9
  // a still believes it is at 4 and its fetch overlaps what b counted: 5-14
  const r = await a.process(batchOf(range(5, 15), 5), NOW)
  assert.equal(r.applied, true)
  assert.equal(r.skipped, 5, 'the records b counted are skipped after re-reading the position')
  assert.equal(await totalEvents(store), 15)
  assert.equal(await store.position('events', 0), '14')
})

test('pipeline: a store that lost its state is reported, not written to; after reset() the replay rebuilds it without counting twice', async (t) => {
  // a store that can be emptied under the pipeline, as Redis restarted without its data
  let inner = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW })
  t.after(() => inner.close())
  const wiped = delegating('wipeable', () => inner)
  const { pipeline, invalid } = setup({ store: wiped })
  const ev = (i: number) => wire(`w${i}`, T + 5 * M + i * 1000)
  const values = [ev(0), ev(1), 'bad', ev(3), ev(1), ev(5), ev(6), ev(7), 'bad too', ev(9)]
  assert.equal((await pipeline.process(batchOf(values.slice(0, 5), 0), NOW)).applied, true)
  const before = pipeline.counts()
  assert.deepEqual(before, { received: 5, valid: 4, invalid: 1, invalid_by_reason: { not_json: 1 }, duplicates: 1, late: 0 })

  await inner.close()
  inner = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW }) // emptied
  const lost = await pipeline.process(batchOf(values.slice(5), 5), NOW)
  assert.equal(lost.storeLost, true)
  assert.equal(lost.applied, false)
  assert.equal(await inner.position('events', 0), null, 'nothing written to the emptied store')
  assert.deepEqual(pipeline.counts(), before, 'nothing counted')

  await pipeline.reset()
  const replay = await pipeline.process(batchOf(values, 0), NOW) // the source rewound to the retention
  assert.equal(replay.applied, true)
  assert.equal(replay.storeLost, false)
  assert.equal(replay.handled, 10)
  assert.equal(replay.received, 5, 'only the records not counted before')
  assert.deepEqual(pipeline.counts(), { received: 10, valid: 8, invalid: 2, invalid_by_reason: { not_json: 2 }, duplicates: 1, late: 0 })
  assert.deepEqual(invalid.map((d) => d.raw), ['bad', 'bad too'], 'each dead letter sent once')
  assert.equal(await totalEvents(inner), 7, 'the rebuilt store holds every distinct valid event once')
  assert.equal(await inner.position('events', 0), '9')
})

test('pipeline: without collectValid the events are not returned, and the counters are the same', async (t) => {
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW })
  t.after(() => store.close())
  const pipeline = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store, collectValid: false })
  const r = await pipeline.process(batchOf([wire('a', T + 5 * M), wire('a', T + 5 * M), 'bad', wire('b', T + 6 * M)], 0), NOW)
  assert.equal(r.applied, true)
  assert.deepEqual(r.valid, [])
  assert.equal(r.validCount, 3)
  assert.deepEqual(pipeline.counts(), { received: 4, valid: 3, invalid: 1, invalid_by_reason: { not_json: 1 }, duplicates: 1, late: 0 })
})

test('pipeline: a rewound partition read after another one has reached now is not late (lateness per partition)', async (t) => {
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW + H, retentionMs: 2 * H })
  t.after(() => store.close())
  const pipeline = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store })
  const hour = (prefix: string) => Array.from({ length: 60 }, (_, i) => wire(`${prefix}${i}`, T + i * M))
  // one fetch of a rebuild at a low rate: each partition's whole hour in one batch, one after the other
  const a = await pipeline.process(batchOf(hour('a'), 0, 'events', 0), NOW + H)
  const b = await pipeline.process(batchOf(hour('b'), 0, 'events', 1), NOW + H)
  assert.equal(a.late + b.late, 0)
  assert.equal(await totalEvents(store), 120)
  // within one partition, lateness still holds
  const c = await pipeline.process(batchOf([wire('late', T + 10 * M)], 60, 'events', 1), NOW + H)
  assert.equal(c.late, 1)
})

test('pipeline: a store with applyUnseen checks the dedup keys within the apply; refused keys are left out and the batch made again', async (t) => {
  const mem = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW, keepsDedupKeys: true })
  t.after(() => mem.close())
  const calls: { keys: string[], result: string }[] = []
  const store = delegating('unseen', () => mem, {
    seen: () => { throw new Error('seen() is not asked when applyUnseen is there') },
    applyUnseen: async (b: ApplyBatch) => {
      const keys = b.dedupKeys ?? []
      const seen = (await mem.seen(keys)).flatMap((s, i) => s ? [i] : [])
      const r = seen.length > 0 ? { applied: false, seen } : { applied: await mem.apply(b), seen: [] }
      calls.push({ keys, result: r.applied ? 'applied' : `seen ${seen.join(',')}` })
      return r
    }
  })
  const first = setup({ store })
  await first.pipeline.process(batchOf([wire('a', T + 5 * M + 1_000), wire('b', T + 5 * M + 2_000)]), NOW)
  // another process (its own dedup), another partition: a is a duplicate only the store knows
  const second = setup({ store })
  const r = await second.pipeline.process(batchOf([wire('c', T + 5 * M + 3_000), wire('a', T + 5 * M + 1_000), wire('d', T + 5 * M + 4_000)], 0, 'events', 1), NOW)
  assert.equal(r.applied, true)
  assert.equal(r.duplicates, 1)
  assert.equal(r.late, 0)
  assert.deepEqual(calls.map((c) => c.result), ['applied', 'seen 1', 'applied'])
  assert.equal(calls[2]?.keys.length, 2, 'the second try sends only the fresh keys')
  assert.equal(await totalEvents(mem), 4)
  assert.equal(second.pipeline.counts().duplicates, 1)
  assert.equal(second.pipeline.counts().valid, 3)
})

test('pipeline: batches of two partitions overlap (one validates while the other applies); one that fails undoes only itself', async (t) => {
  const mem = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW })
  t.after(() => mem.close())
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let failP0 = true
  const store = delegating('gated', () => mem, {
    apply: async (b: ApplyBatch) => {
      if (b.position.partition === 0) {
        await gate
        if (failP0) { failP0 = false; throw new Error('store unreachable') }
      }
      return await mem.apply(b)
    }
  })
  const { pipeline } = setup({ store })
  const p0 = pipeline.process(batchOf([wire('a', T + 5 * M + 1_000), wire('b', T + 9 * M)], 0, 'events', 0), NOW)
  // partition 1 is validated, counted and applied while partition 0 waits for its apply
  const r1 = await pipeline.process(batchOf([wire('c', T + 5 * M + 2_000), wire('a', T + 5 * M + 1_000)], 0, 'events', 1), NOW)
  assert.equal(r1.applied, true)
  assert.equal(r1.duplicates, 1, 'a, admitted by partition 0 in flight')
  release()
  await assert.rejects(p0, /store unreachable/)
  // partition 0 failed: its keys and its newest time are undone, partition 1's stay
  assert.equal(pipeline.maxEventTime, T + 5 * M + 2_000)
  const again = await pipeline.process(batchOf([wire('a', T + 5 * M + 1_000), wire('b', T + 9 * M)], 0, 'events', 0), NOW)
  assert.equal(again.applied, true)
  assert.equal(again.duplicates, 0, 'a counts once: here, where it was dropped from partition 1 as a duplicate')
  assert.equal(await totalEvents(mem), 3)
  assert.deepEqual({ ...pipeline.counts(), invalid_by_reason: undefined }, { received: 4, valid: 4, invalid: 0, invalid_by_reason: undefined, duplicates: 1, late: 0 })
})

test('pipeline: reset() waits for the batches in flight, and a batch handed in meanwhile waits for the reset', async (t) => {
  const mem = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => NOW })
  t.after(() => mem.close())
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const order: string[] = []
  const store = delegating('gated', () => mem, {
    apply: async (b: ApplyBatch) => {
      if (b.position.partition === 0) await gate
      order.push(`apply p${b.position.partition}`)
      return await mem.apply(b)
    }
  })
  const { pipeline } = setup({ store })
  const p0 = pipeline.process(batchOf([wire('a', T + 5 * M)], 0, 'events', 0), NOW)
  const reset = pipeline.reset().then(() => { order.push('reset') })
  const p1 = pipeline.process(batchOf([wire('b', T + 5 * M)], 0, 'events', 1), NOW)
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve)) // turns of the event loop for p1 to run, if it could
  assert.deepEqual(order, [], 'nothing ends while partition 0 waits for its store')
  release()
  await Promise.all([p0, reset, p1])
  assert.deepEqual(order, ['apply p0', 'reset', 'apply p1'])
  assert.equal(await totalEvents(mem), 2)
})

test('a batch read before a reset it waits for is left alone when its source says it is stale; a fresh one is processed', async () => {
  const { pipeline, store } = setup()
  let losses = 0
  const seen = losses
  const resetting = pipeline.reset()
  losses++ // the loss was handled while the batch waited: its source rewinds and hands the records out again
  const stale = pipeline.process(batchOf([wire('a', T), wire('b', T + 1000)], 40), NOW, () => losses !== seen)
  await resetting
  const r = await stale
  assert.equal(r.stale, true)
  assert.equal(r.applied, false)
  assert.equal(r.handled, 0)
  assert.equal(await store.position('events', 0), null, 'nothing applied: positions stay behind the rewound records')
  const fresh = await pipeline.process(batchOf([wire('a', T), wire('b', T + 1000)], 0), NOW, () => false)
  assert.equal(fresh.stale, false)
  assert.equal(fresh.applied, true)
  assert.equal(fresh.received, 2)
  assert.equal(await store.position('events', 0), '1')
})
