// The speed store's reachability as the app watches it (src/app/store-watch.ts), over a memory store that can be made
// to fail like a Redis that does not answer: which errors mean "unreachable", the outage reported once and ended by
// the next answer, the answers' view holding nothing meanwhile without waiting, and writers getting the error.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StoreWatch, storeUnreachable, wrapCalls } from '../src/app/store-watch.js'
import { emptyPartials, MINUTE_MS, type SpeedStore } from '../src/model/index.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { STORE_DEFAULTS } from './helpers/settings.js'

const T = 60 * MINUTE_MS * 1000

/** A memory store whose every call fails with `failure` while it is set (and counts the calls that reached it). */
function flaky (): { store: SpeedStore, fail: (err: Error | null) => void, calls: () => number } {
  const inner = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => T })
  let failure: Error | null = null
  let calls = 0
  const store = wrapCalls(inner, (fn) => async (...a) => {
    calls++
    if (failure !== null) throw failure
    return await fn(...a)
  })
  return { store, fail: (err) => { failure = err }, calls: () => calls }
}

test('store watch: connection, timeout and cluster errors are unreachable; refusals and bugs are not', () => {
  for (const message of ['Command timed out', 'Connection is closed.', 'connect ECONNREFUSED 127.0.0.1:6379', 'CLUSTERDOWN The cluster is down',
    'Reached the max retries per request limit (which is 20). Refer to "maxRetriesPerRequest" option for details.']) {
    assert.equal(storeUnreachable(new Error(message)), true, message)
  }
  assert.equal(storeUnreachable(Object.assign(new Error('socket'), { code: 'ECONNRESET' })), true)
  assert.equal(storeUnreachable(Object.assign(new Error('Service Unavailable'), { code: 503 })), true)
  for (const err of [new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), new TypeError('events must be a safe integer'), 'Command timed out']) {
    assert.equal(storeUnreachable(err), false, String(err))
  }
})

test('store watch: an outage begins at the first unreachable error, is reported once, and ends at the next answer', async () => {
  const f = flaky()
  const events: Array<number | null> = []
  let now = T
  const watch = new StoreWatch(f.store, { now: () => now, onOutage: (since) => events.push(since) })
  await watch.store.setCoveredFrom(T - MINUTE_MS)
  f.fail(new Error('Command timed out'))
  await assert.rejects(watch.store.position('events', 0), /Command timed out/, 'writers get the error')
  now += 1000
  await assert.rejects(watch.store.seen(['k']), /Command timed out/)
  assert.deepEqual(events, [T])
  assert.equal(watch.outageSince, T)
  f.fail(null)
  assert.equal(await watch.store.position('events', 0), null)
  assert.deepEqual(events, [T, null])
  assert.equal(watch.outageSince, null)
  f.fail(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))
  await assert.rejects(watch.store.coverage(), /WRONGTYPE/)
  await assert.rejects(watch.served.coverage(), /WRONGTYPE/, 'a refusal is an error, not a gap')
  assert.deepEqual(events, [T, null], 'a refusal is no outage')
})

test('store watch: while the store does not answer, the answers\' view holds nothing at once, and one probe finds it back', async () => {
  const f = flaky()
  const events: Array<number | null> = []
  const watch = new StoreWatch(f.store, { now: () => T, onOutage: (since) => events.push(since) })
  const row = { window_start: T - MINUTE_MS, event_type: 'a', region: 'x', partials: { ...emptyPartials(), events: 2 } }
  assert.equal(await watch.store.apply({ deltas: [row], position: { topic: 'events', partition: 0, offset: '0' } }), true)
  await watch.store.setCoveredFrom(T - 10 * MINUTE_MS)
  const token = await watch.served.changeToken(T - 10 * MINUTE_MS, T)
  f.fail(new Error('Connection is closed.'))
  // the first read finds the outage and answers as an empty, uncovered store
  assert.deepEqual(await watch.served.coverage(), { oldest: null, newest: null, watermark: null, maxEventTime: null, coveredFrom: null })
  assert.deepEqual(events, [T])
  const before = f.calls()
  // meanwhile reads do not wait on the store: at most one probe at a time reaches it
  const reads = await Promise.all([watch.served.query(T - 10 * MINUTE_MS, T, {}), watch.served.coverage(), watch.served.query(0, T, {})])
  assert.deepEqual(reads[0], [])
  assert.equal(f.calls() - before, 1, 'one probe')
  const t1 = await watch.served.changeToken(T - 10 * MINUTE_MS, T)
  const t2 = await watch.served.changeToken(T - 10 * MINUTE_MS, T)
  assert.notEqual(t1, t2, 'no token repeats while the store is away, so nothing read meanwhile is kept')
  assert.notEqual(t1, token)
  f.fail(null)
  await watch.served.coverage() // still the outage view; starts a probe that succeeds
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(events, [T, null], 'the probe ended the outage')
  assert.equal((await watch.served.coverage()).coveredFrom, T - 10 * MINUTE_MS)
  assert.equal((await watch.served.query(T - 10 * MINUTE_MS, T, {}))[0]?.partials.events, 2)
  assert.equal(await watch.served.changeToken(T - 10 * MINUTE_MS, T), token)
})

test('store watch: with a deadline, a call the store never settles fails as unreachable, and answers hold nothing', async () => {
  const never = new Promise<never>(() => {})
  const store: SpeedStore = {
    kind: 'redis',
    keepsDedupKeys: true,
    apply: () => never,
    query: () => never,
    coverage: () => never,
    position: () => never,
    setCoveredFrom: () => never,
    seen: () => never,
    changeToken: () => never,
    close: async () => {}
  }
  const events: Array<number | null> = []
  const watch = new StoreWatch(store, { now: () => T, onOutage: (since) => events.push(since), deadlineMs: 50 })
  await assert.rejects(watch.store.position('events', 0), (err: Error) => storeUnreachable(err) && /did not answer in 50 ms/.test(err.message))
  assert.deepEqual(events, [T])
  assert.deepEqual(await watch.served.query(0, T, {}), [])
})
