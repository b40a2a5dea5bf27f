// The speed consumer's per-partition lanes (src/ingest/kafka/lanes.ts): one batch in flight, and a batch fetched
// before its partition moved (a seek, a batch not applied) is dropped, never taken.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Lanes } from '../src/ingest/kafka/lanes.js'

test('a partition that did not move takes its next batch; one that moved drops one batch, then takes again', () => {
  const lanes = new Lanes()
  assert.deepEqual(lanes.next('t/0'), { take: true, failure: null })
  lanes.moved('t/0') // a seek: the batch fetched before it starts anywhere
  assert.deepEqual(lanes.next('t/0'), { take: false, failure: null })
  assert.deepEqual(lanes.next('t/0'), { take: true, failure: null }, 'fetched after the seek')
  assert.deepEqual(lanes.next('t/1'), { take: true, failure: null }, 'other partitions are not affected')
})

test('a handler that threw: the next batch of its partition gets the error (and is not taken), then batches are taken again', () => {
  const lanes = new Lanes()
  const err = new Error('apply failed')
  lanes.moved('t/0', err)
  assert.deepEqual(lanes.next('t/0'), { take: false, failure: { err } })
  assert.deepEqual(lanes.next('t/0'), { take: true, failure: null })
  lanes.moved('t/1', err)
  lanes.keepFailures((key) => key !== 't/1') // revoked: no next batch here to rethrow it
  assert.deepEqual(lanes.next('t/1'), { take: false, failure: null })
})

test('settled() waits for the batch in flight of its partition only; idle() for every one, those taken meanwhile too', async () => {
  const lanes = new Lanes()
  let finish0!: () => void
  let finish1!: () => void
  lanes.run('t/0', new Promise<void>((resolve) => { finish0 = resolve }))
  lanes.run('t/1', new Promise<void>((resolve) => { finish1 = resolve }))
  assert.equal(lanes.busy('t/0'), true)
  assert.equal(lanes.busy('t/2'), false)
  await lanes.settled('t/2')
  let settled0 = false
  const s0 = lanes.settled('t/0').then(() => { settled0 = true })
  let idle = false
  const all = lanes.idle().then(() => { idle = true })
  finish1()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled0, false)
  assert.equal(idle, false)
  // taken while idle() waits: it waits for that one too
  let finish2!: () => void
  lanes.run('t/2', new Promise<void>((resolve) => { finish2 = resolve }))
  finish0()
  await s0
  assert.equal(lanes.busy('t/0'), false)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(idle, false)
  finish2()
  await all
  assert.equal(idle, true)
})
