import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Deduplicator } from '../src/speed/dedup.js'
import { DEFAULTS } from './helpers/settings.js'

const T = Date.UTC(2026, 0, 1, 12)
const M = 60_000

test('dedup: the same (event_id, timestamp) is a duplicate; another id or another time is not', () => {
  const d = new Deduplicator({ windowMs: DEFAULTS.dedupWindowMs })
  assert.equal(d.admit('a', T), true)
  assert.equal(d.admit('a', T), false)
  assert.equal(d.admit('a', T + 1), true)
  assert.equal(d.admit('b', T), true)
  assert.equal(d.admit('b', T), false)
  assert.equal(d.size, 3)
})

test('dedup: ids that would collide when concatenated stay apart', () => {
  const d = new Deduplicator({ windowMs: DEFAULTS.dedupWindowMs })
  assert.equal(d.admit('a1', 23), true)
  assert.equal(d.admit('a', 123), true)
})

test('dedup: within the window duplicates are caught even out of order', () => {
  const d = new Deduplicator({ windowMs: 5 * M })
  assert.equal(d.admit('x', T), true)
  assert.equal(d.admit('y', T + 4 * M), true)
  assert.equal(d.admit('x', T), false, 'still within 5 minutes of the newest event time')
  assert.equal(d.admit('z', T - M), true)
  assert.equal(d.admit('z', T - M), false)
})

test('dedup: memory is bounded; keys older than max − window are evicted', () => {
  const d = new Deduplicator({ windowMs: 5 * M })
  for (let i = 0; i < 100_000; i++) d.admit('e' + i, T + i * 100) // 10 000 s of event time, 10 per second
  // kept: the keys of the last 5 minutes plus at most the one minute bucket straddling the horizon
  assert.ok(d.size <= 6 * 60 * 10 + 10, `size ${d.size}`)
  assert.ok(d.size >= 5 * 60 * 10, `size ${d.size}`)
  assert.equal(d.maxEventTime, T + 99_999 * 100)
})

test('dedup: an event older than the horizon is admitted but not remembered', () => {
  const d = new Deduplicator({ windowMs: 5 * M })
  d.admit('new', T + 20 * M)
  assert.equal(d.admit('old', T), true)
  assert.equal(d.admit('old', T), true)
  assert.equal(d.size, 1)
})

test('dedup: rollback forgets the keys of the batch and the newest time; commit keeps them', () => {
  const d = new Deduplicator({ windowMs: DEFAULTS.dedupWindowMs })
  d.admit('a', T)
  d.begin()
  assert.equal(d.admit('b', T + M), true)
  assert.equal(d.admit('a', T), false)
  d.rollback()
  assert.equal(d.maxEventTime, T)
  assert.equal(d.admit('b', T + M), true, 'b was forgotten')
  d.begin()
  d.admit('c', T + 2 * M)
  d.commit()
  d.rollback() // no batch open: nothing happens
  assert.equal(d.admit('c', T + 2 * M), false)
})

test('dedup: many distinct keys in one minute are all new, and all of them again are duplicates', () => {
  const d = new Deduplicator({ windowMs: DEFAULTS.dedupWindowMs })
  const n = 200_000
  for (let i = 0; i < n; i++) assert.equal(d.admit('evt-' + i, T + (i % 60_000)), true)
  assert.equal(d.size, n)
  let dups = 0
  for (let i = 0; i < n; i++) if (!d.admit('evt-' + i, T + (i % 60_000))) dups++
  assert.equal(dups, n)
  // same ids, other timestamps: new
  for (let i = 0; i < 1000; i++) assert.equal(d.admit('evt-' + i, T + 60_000 + i), true)
})

test('dedup: rollback of many keys, then the same keys again are new', () => {
  const d = new Deduplicator({ windowMs: DEFAULTS.dedupWindowMs })
  d.begin()
  for (let i = 0; i < 5000; i++) d.admit('k' + i, T + i)
  d.rollback()
  assert.equal(d.size, 0)
  for (let i = 0; i < 5000; i++) assert.equal(d.admit('k' + i, T + i), true)
  assert.equal(d.size, 5000)
})

test('dedup: a detached batch is undone after others began: only its keys go, theirs stay, the newest time stays too', () => {
  const d = new Deduplicator({ windowMs: DEFAULTS.dedupWindowMs })
  d.begin()
  d.admit('a', T + M)
  const first = d.detach()
  d.begin()
  d.admit('b', T + 2 * M)
  assert.equal(d.admit('a', T + M), false)
  const second = d.detach()
  d.undo(first)
  assert.equal(d.admit('a', T + M), true, 'a was forgotten')
  assert.equal(d.admit('b', T + 2 * M), false, 'b, of the later batch, stays')
  assert.equal(d.maxEventTime, T + 2 * M)
  d.undo(second)
  assert.equal(d.admit('b', T + 2 * M), true)
  // the last batch begun, undone: its newest time goes back as with rollback
  d.begin()
  d.admit('c', T + 9 * M)
  const third = d.detach()
  d.undo(third)
  assert.equal(d.maxEventTime, T + 2 * M)
  d.undo(null) // nothing detached: nothing happens
})

test('dedup: past minutes are compacted step by step; duplicates and undo hold before, during and after the move', () => {
  const d = new Deduplicator({ windowMs: 5 * M })
  const perMinute = 20_000
  for (let m = 0; m < 2; m++) for (let i = 0; i < perMinute; i++) assert.equal(d.admit(`m${m}-${i}`, T + m * M + i), true)
  const before = d.bytes
  assert.ok(before >= 2 * perMinute * 16, `current minutes hold ${before} bytes`)
  d.begin()
  assert.equal(d.admit('late-in-0', T + 59_999), true) // a batch whose key lands in a minute about to be moved
  const batch = d.detach()
  // minute 4 begins: minutes 0 and 1 are 2 minutes or more behind it and move, a few slots per admit
  for (let i = 0; i < 100; i++) assert.equal(d.admit(`m4-${i}`, T + 4 * M + i), true)
  for (let i = 0; i < perMinute; i += 97) assert.equal(d.admit(`m0-${i}`, T + i), false, `m0-${i} during the move`)
  d.undo(batch)
  assert.equal(d.admit('late-in-0', T + 59_999), true, 'undone during the move: new again')
  // enough admits to finish the move (two tables of 65,536 slots, 64 a step)
  for (let i = 100; i < 3000; i++) assert.equal(d.admit(`m4-${i}`, T + 4 * M + i), true)
  for (let m = 0; m < 2; m++) for (let i = 0; i < perMinute; i++) assert.equal(d.admit(`m${m}-${i}`, T + m * M + i), false, `m${m}-${i}`)
  assert.equal(d.admit('late-in-0', T + 59_999), false)
  assert.equal(d.admit('another-in-1', T + M + 7), true, 'a compacted minute still takes new keys')
  assert.equal(d.admit('another-in-1', T + M + 7), false)
  assert.equal(d.size, 2 * perMinute + 3000 + 2)
  // past minutes at most 10 bytes a key (80 % full), the current one's table (3,000 keys) at most 64 KiB
  assert.ok(d.bytes <= (2 * perMinute + 2) * 10 + 2 * 16 + 65_536, `${d.bytes} bytes, from ${before}`)
})
