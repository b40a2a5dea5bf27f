// The speed store contract against the in-memory store, plus what only the memory store does.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { emptyPartials } from '../src/model/index.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { speedStoreContract } from './contract/speed-store-contract.js'
import { sleep } from './helpers/wait.js'
import { STORE_DEFAULTS } from './helpers/settings.js'

speedStoreContract('memory', async ({ now, retentionMs }) => new MemorySpeedStore({ ...STORE_DEFAULTS, now, retentionMs }))

test('memory: a malformed offset is refused, not compared', async (t) => {
  const store = new MemorySpeedStore(STORE_DEFAULTS)
  t.after(() => store.close())
  await assert.rejects(store.apply({ deltas: [], position: { topic: 't', partition: 0, offset: '12a' } }), TypeError)
  await assert.rejects(store.apply({ deltas: [], position: { topic: 't', partition: 0, offset: '1.5' } }), TypeError)
  assert.equal(await store.position('t', 0), null)
})

test('memory: the background sweep drops expired windows without any access', async (t) => {
  const clock = { t: Date.UTC(2026, 0, 1, 12) }
  const store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => clock.t, retentionMs: 60_000, sweepIntervalMs: 5 })
  t.after(() => store.close())
  const partials = { ...emptyPartials(), events: 1 }
  await store.apply({ deltas: [{ window_start: clock.t, event_type: 'a', region: 'r', partials }], position: { topic: 't', partition: 0, offset: '0' } })
  assert.equal(store.rowCount, 1)
  clock.t += 2 * 60_000
  await sleep(30)
  assert.equal(store.rowCount, 0)
})
