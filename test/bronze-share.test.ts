// The speed path's validations handed to the bronze feed (src/app/bronze-share.ts), without Kafka: what a bronze batch
// takes for its offsets however the two consumers cut their batches, when it waits for the speed path and when it
// parses at once, and that nothing is held without a feed attached or beyond the bounds.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BronzeShare, type ProcessedBatch } from '../src/app/bronze-share.js'
import type { HourglassEvent } from '../src/model/index.js'

const ev = (o: number): HourglassEvent => ({ event_id: `e${o}`, ts: 1_000_000 + o, event_type: 'view', region: 'eu' })
const recs = (from: number, to: number): Array<{ offset: string }> => Array.from({ length: to - from + 1 }, (_, i) => ({ offset: String(from + i) }))
/** a processed batch of offsets from..to where every offset in `invalid` was invalid and the first `again` were counted before */
function processed (from: number, to: number, invalid: number[] = [], again = 0): ProcessedBatch {
  const valid = recs(from + again, to).filter((r) => !invalid.includes(Number(r.offset))).map((r) => ({ event: ev(Number(r.offset)), offset: r.offset }))
  return { received: to - from + 1 - again, valid }
}
const ids = (xs: Array<HourglassEvent | null | undefined>): Array<string | null | undefined> => xs.map((x) => x === null || x === undefined ? x : x.event_id)

function clock (): { now: () => number, at: number } {
  const c = { at: 0, now: () => c.at }
  return c
}

test('a bronze batch takes the speed path\'s events and invalid marks by offset, whatever the cuts; the rest is its own to parse', async () => {
  const c = clock()
  const share = new BronzeShare({ waitMs: 1000, now: c.now })
  share.attach()
  share.offer('t', 0, recs(0, 4), processed(0, 4, [2]))
  share.offer('t', 0, recs(5, 9), processed(5, 9))
  share.offer('t', 1, recs(0, 9), processed(0, 9))
  // offset 2 was invalid
  assert.deepEqual(ids(await share.take('t', 0, recs(0, 2))), ['e0', 'e1', null])
  // cut differently: 3..6 spans both of partition 0's offers
  assert.deepEqual(ids(await share.take('t', 0, recs(3, 6))), ['e3', 'e4', 'e5', 'e6'])
  assert.equal(share.held, 15, 'what a batch took up to its last offset is dropped')
  // past what was offered, and not just behind (14 - 1 - 9 > 3 records): nothing to take, no wait; what lies before it is dropped
  assert.deepEqual(ids(await share.take('t', 0, recs(14, 16))), [undefined, undefined, undefined])
  assert.deepEqual(ids(await share.take('t', 0, recs(7, 9))), [undefined, undefined, undefined])
  assert.equal(share.held, 10)
  assert.deepEqual(ids(await share.take('t', 1, recs(8, 9))), ['e8', 'e9'])
  assert.equal(share.held, 0)
})

test('records the speed path had counted before (after a reset) and offsets with gaps are not offered as invalid', async () => {
  const share = new BronzeShare({ waitMs: 1000 })
  share.attach()
  // 10..14 handed to the pipeline, of which 10..11 were counted before: only 12..14 are offered
  share.offer('t', 0, recs(10, 14), processed(10, 14, [13], 2))
  assert.deepEqual(ids(await share.take('t', 0, recs(10, 14))), [undefined, undefined, 'e12', null, 'e14'])
  // offsets with a gap (a compacted topic, transaction markers)
  const gappy = [{ offset: '20' }, { offset: '22' }, { offset: '25' }]
  share.offer('t', 0, gappy, { received: 3, valid: [{ event: ev(20), offset: '20' }, { event: ev(25), offset: '25' }] })
  assert.deepEqual(ids(await share.take('t', 0, [{ offset: '20' }, { offset: '21' }, { offset: '22' }, { offset: '25' }])), ['e20', undefined, null, 'e25'])
})

test('a bronze batch waits for a speed consumer just behind it, not for one further behind', async () => {
  const share = new BronzeShare({ waitMs: 60_000 })
  share.attach()
  share.offer('t', 0, recs(0, 99), processed(0, 99))
  // the speed consumer has offered up to 99: a batch 100..199 waits until it offers them
  const taking = share.take('t', 0, recs(100, 199))
  let settled = false
  void taking.then(() => { settled = true })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled, false, 'waits for the speed path')
  share.offer('t', 0, recs(100, 149), processed(100, 149))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled, false, 'waits until its last offset is offered')
  share.offer('t', 0, recs(150, 220), processed(150, 220))
  const got = await taking
  assert.equal(got.filter((x) => x !== undefined).length, 100)
  // far behind (more than one batch length before the batch): parse at once
  const far = await share.take('t', 0, recs(500, 509))
  assert.deepEqual(far.filter((x) => x !== undefined), [])
  // a partition this process's speed consumer does not read: at once
  assert.deepEqual((await share.take('t', 7, recs(0, 3))).filter((x) => x !== undefined), [])
})

test('the wait ends after waitMs without the speed path (stalled: the next batch does not wait), and at once when the feed detaches', async () => {
  const share = new BronzeShare({ waitMs: 50 })
  const detach = share.attach()
  share.offer('t', 0, recs(0, 9), processed(0, 9))
  const started = performance.now()
  assert.deepEqual((await share.take('t', 0, recs(10, 19))).filter((x) => x !== undefined), [])
  assert.ok(performance.now() - started >= 45, 'waited about waitMs')
  let settled = false
  const next = share.take('t', 0, recs(20, 29)).then((got) => { settled = true; return got })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled, true, 'the speed path is now more than a batch behind: no wait')
  assert.deepEqual((await next).filter((x) => x !== undefined), [])
  const long = new BronzeShare({ waitMs: 600_000 })
  const off = long.attach()
  long.offer('t', 0, recs(0, 9), processed(0, 9))
  const taking = long.take('t', 0, recs(10, 19))
  off()
  assert.deepEqual((await taking).filter((x) => x !== undefined), [], 'a detach ends the wait')
  assert.equal(long.held, 0, 'and drops what was held')
  detach()
  assert.equal(share.held, 0)
})

test('nothing is held without a feed attached or with sharing off, nor beyond maxHeld and keepMs', async () => {
  const c = clock()
  const idle = new BronzeShare({ waitMs: 1000, now: c.now })
  idle.offer('t', 0, recs(0, 9), processed(0, 9))
  assert.equal(idle.held, 0, 'no feed attached (a follower)')
  const off = new BronzeShare({ waitMs: 0, now: c.now })
  off.attach()
  off.offer('t', 0, recs(0, 9), processed(0, 9))
  assert.equal(off.held, 0, 'waitMs 0: bronze parses everything itself')
  assert.deepEqual((await off.take('t', 0, recs(0, 9))).filter((x) => x !== undefined), [])

  const bounded = new BronzeShare({ waitMs: 1000, maxHeld: 25, keepMs: 5000, now: c.now })
  bounded.attach()
  for (let i = 0; i < 5; i++) bounded.offer('t', 0, recs(i * 10, i * 10 + 9), processed(i * 10, i * 10 + 9))
  assert.ok(bounded.held <= 25, `held ${bounded.held}`)
  assert.deepEqual(ids(await bounded.take('t', 0, recs(48, 49))), ['e48', 'e49'], 'the newest are kept')
  bounded.offer('t', 1, recs(0, 9), processed(0, 9))
  c.at += 5001
  bounded.offer('t', 2, recs(0, 0), processed(0, 0))
  assert.equal(bounded.held, 1, 'older than keepMs: dropped')
})
