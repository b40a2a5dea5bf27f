// The speed store contract against Cosmos DB (a Cosmos DB API server, @vercel/cosmosdb-server,
// started in this process on a loopback port with its self-signed certificate; only these tests
// trust it), plus what only the Cosmos DB store does: concurrent writers on one window resolved
// by ETags, a stale ETag retried, throttling retried after retry-after, expired windows hidden
// before the server removes them, and a crash between the claim and the commit of a batch.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import https from 'node:https'
import { after, before, test } from 'node:test'
import { CosmosClient, type CosmosClientOptions } from '@azure/cosmos'
import { createHttpsServer } from '@vercel/cosmosdb-server'
import { type ApplyBatch, emptyPartials, MINUTE_MS, type PartialRow } from '../src/model/index.js'
import { CosmosSpeedStore, type CosmosSpeedStoreOptions } from '../src/speed/index.js'
import { retryThrottled } from '../src/speed/stores/cosmos.js'
import { speedStoreContract } from './contract/speed-store-contract.js'
import { STORE_DEFAULTS } from './helpers/settings.js'

const H = 3_600_000
const DATABASE = 'hourglass-test'
const server = createHttpsServer({ keepAlive: true })
let endpoint = ''
const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true })
const clientOptions: Partial<CosmosClientOptions> = { agent, connectionPolicy: { enableEndpointDiscovery: false } }
let containers = 0

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => {
  agent.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

function options (more: Partial<CosmosSpeedStoreOptions> = {}): CosmosSpeedStoreOptions {
  return { endpoint, key: 'test-key', database: DATABASE, container: `c${++containers}-${process.pid}`, clientOptions, ...STORE_DEFAULTS, ...more }
}

speedStoreContract('cosmos', async ({ now, retentionMs }) => await CosmosSpeedStore.open(options({ now, retentionMs })))

const row = (windowStart: number, events: number, eventType = 'click', region = 'eu-west'): PartialRow => {
  const partials = emptyPartials()
  partials.events = events
  partials.latency_sum = events * 1.5
  partials.latency_count = events
  partials.revenue_cents = events * 7
  partials.response.set(300 + (events % 3), events)
  return { window_start: windowStart, event_type: eventType, region, partials }
}
const batchOf = (deltas: PartialRow[], partition: number, offset: number, previous?: number | null): ApplyBatch => ({
  deltas,
  position: { topic: 'events', partition, offset: String(offset) },
  ...(previous === undefined ? {} : { previous: previous === null ? null : String(previous) })
})
const total = (rows: PartialRow[]): number => rows.reduce((n, r) => n + r.partials.events, 0)

/** a raw client on the same server, to look at or change documents behind a store's back */
function rawContainer (container: string) {
  const client = new CosmosClient({ endpoint, key: 'test-key', ...clientOptions })
  return { client, container: client.database(DATABASE).container(container) }
}

test('cosmos: two writers adding to the same window concurrently end with the exact sum', async (t) => {
  // The failure this guards against: two consumers (Kafka partitions 0 and 1) read the same
  // window document, each adds its delta and writes it back: without an ETag condition, one
  // write silently replaces the other and its events are lost.
  const clock = { t: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS }
  const opts = options({ now: () => clock.t })
  const a = await CosmosSpeedStore.open(opts)
  const b = await CosmosSpeedStore.open({ ...opts })
  t.after(async () => { await a.close(); await b.close() })
  const w = clock.t - 2 * MINUTE_MS
  const BATCHES = 40
  const run = async (store: CosmosSpeedStore, partition: number): Promise<void> => {
    let previous: number | null = null
    for (let i = 1; i <= BATCHES; i++) {
      // each batch: the shared window, plus a second window every other batch
      const deltas = [row(w, i), ...(i % 2 === 0 ? [row(w + MINUTE_MS, 1, 'view')] : [])]
      assert.equal(await store.apply({ ...batchOf(deltas, partition, i * 10, previous), dedupKeys: [`p${partition}-${i}`] }), true)
      previous = i * 10
    }
  }
  await Promise.all([run(a, 0), run(b, 1)])
  const sum = (BATCHES * (BATCHES + 1)) / 2
  const rows = await a.query(w, w + MINUTE_MS, {})
  assert.equal(rows.length, 1)
  assert.equal(rows[0]?.partials.events, 2 * sum)
  assert.equal(rows[0]?.partials.latency_count, 2 * sum)
  assert.equal(rows[0]?.partials.revenue_cents, 2 * sum * 7)
  assert.equal(total(await b.query(w + MINUTE_MS, w + 2 * MINUTE_MS, {})), BATCHES)
  assert.equal(await a.position('events', 0), String(BATCHES * 10))
  assert.equal(await a.position('events', 1), String(BATCHES * 10))
  assert.deepEqual(await b.seen(['p0-1', 'p1-40', 'p2-1']), [true, true, false])
  assert.ok(a.stats.conflicts + b.stats.conflicts > 0, 'the writers did collide (412) and retried')
})

test('cosmos: two owners of one partition with the same `previous`: exactly one batch counts', async (t) => {
  // During a rebalance two consumers briefly both own partition 0, both read position 10 and
  // apply different batches after it. The claim on the position document lets exactly one win.
  const clock = { t: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS }
  const opts = options({ now: () => clock.t })
  const a = await CosmosSpeedStore.open(opts)
  const b = await CosmosSpeedStore.open({ ...opts })
  t.after(async () => { await a.close(); await b.close() })
  const w = clock.t - MINUTE_MS
  assert.equal(await a.apply(batchOf([row(w, 1)], 0, 10, null)), true)
  assert.equal(await b.position('events', 0), '10')
  const results = await Promise.all([a.apply(batchOf([row(w, 100)], 0, 20, 10)), b.apply(batchOf([row(w, 1000)], 0, 25, 10))])
  assert.equal(results.filter(Boolean).length, 1, `exactly one applied: ${results.join(', ')}`)
  const events = total(await a.query(w, w + MINUTE_MS, {}))
  assert.ok(results[0] === true ? events === 101 : events === 1001, `events ${events}`)
  assert.equal(await a.position('events', 0), results[0] === true ? '20' : '25')
})

test('cosmos: a write with a stale ETag is refused (412), read again and retried', async (t) => {
  const clock = { t: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS }
  const opts = options({ now: () => clock.t })
  const store = await CosmosSpeedStore.open(opts)
  const raw = rawContainer(opts.container)
  t.after(async () => { await store.close(); raw.client.dispose() })
  const w = clock.t - MINUTE_MS
  assert.equal(await store.apply(batchOf([row(w, 3)], 0, 1)), true)
  // change the window document behind the store's back: the ETag the store keeps is now stale
  const { resources: [doc] } = await raw.container.items.query<{ id: string, pk: string, events: number }>('SELECT * FROM c WHERE c.kind = \'w\'').fetchAll()
  assert.ok(doc !== undefined)
  await raw.container.item(doc.id, doc.pk).replace({ ...doc, events: doc.events + 1000 })
  const before = store.stats.conflicts
  assert.equal(await store.apply(batchOf([row(w, 4)], 0, 2)), true)
  assert.ok(store.stats.conflicts > before, 'the stale write was refused and retried')
  assert.equal(total(await store.query(w, w + MINUTE_MS, {})), 3 + 1000 + 4, 'the retry added to the document as it is now')
})

test('cosmos: throttled requests (429) are retried after the retry-after the service asks for', async () => {
  let calls = 0
  const waits: number[] = []
  const started = performance.now()
  const out = await retryThrottled(async () => {
    if (++calls < 3) throw Object.assign(new Error('Request rate is large'), { code: 429, retryAfterInMs: 40 })
    return 'done'
  }, 5, (ms) => waits.push(ms))
  assert.equal(out, 'done')
  assert.equal(calls, 3)
  assert.deepEqual(waits, [40, 40])
  assert.ok(performance.now() - started >= 75, 'it waited what retry-after said')
  // other errors are not retried
  let once = 0
  await assert.rejects(retryThrottled(async () => { once++; throw Object.assign(new Error('bad'), { code: 400 }) }, 5), /bad/)
  assert.equal(once, 1)
})

test('cosmos: windows past the retention are not returned although the server still holds them', async (t) => {
  const clock = { t: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS }
  const opts = options({ now: () => clock.t, retentionMs: H })
  const store = await CosmosSpeedStore.open(opts)
  const raw = rawContainer(opts.container)
  t.after(async () => { await store.close(); raw.client.dispose() })
  const w = clock.t - 5 * MINUTE_MS
  await store.apply(batchOf([row(w, 2), row(w + MINUTE_MS, 3)], 0, 1, null))
  const token = await store.changeToken(w, w + 10 * MINUTE_MS)
  clock.t = w + MINUTE_MS + H // window w ends one retention ago: expired; w + 1 min still held
  assert.deepEqual((await store.query(w, w + 10 * MINUTE_MS, {})).map((r) => r.window_start), [w + MINUTE_MS])
  assert.equal((await store.coverage()).oldest, w + MINUTE_MS)
  assert.notEqual(await store.changeToken(w, w + 10 * MINUTE_MS), token)
  const { resources } = await raw.container.items.query<number>('SELECT VALUE c.window_start FROM c WHERE c.kind = \'w\'').fetchAll()
  assert.deepEqual(resources.sort(), [w, w + MINUTE_MS], 'both documents are still on the server (it evicts by its own TTL, later)')
  // the server-side TTL is set so the server removes a window about when the store stops returning it
  const { resources: ttls } = await raw.container.items.query<{ ws: number, ttl: number }>('SELECT c.window_start AS ws, c.ttl FROM c WHERE c.kind = \'w\'').fetchAll()
  for (const d of ttls) assert.ok(Math.abs(d.ttl - ((d.ws + MINUTE_MS + H - (w + 5 * MINUTE_MS)) / 1000 + 60)) <= 1, `ttl ${d.ttl}`)
})

test('cosmos: a crash after the claim is completed by the next process, whatever batch it replays', async (t) => {
  // The failure this guards against: a consumer writes some windows of a batch and crashes before
  // the position moves. On restart it replays from the old position, but its new batch ends at a
  // different offset: per-window offsets alone would either skip records or count them twice.
  const clock = { t: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS }
  const w = clock.t - 3 * MINUTE_MS
  for (const crashAfter of ['claim', 'first-window'] as const) {
    const opts = options({ now: () => clock.t })
    const first = await CosmosSpeedStore.open(opts)
    assert.equal(await first.apply(batchOf([row(w, 1)], 0, 100, null)), true)
    await first.close()
    const crashing = await CosmosSpeedStore.open({ ...opts, crashAfter, concurrency: 1 })
    // records 101–180: 10 events in window w, 20 in w + 1 min, 30 in w + 2 min, with dedup keys
    const batch = { ...batchOf([row(w, 10), row(w + MINUTE_MS, 20), row(w + 2 * MINUTE_MS, 30)], 0, 180, 100), dedupKeys: ['k180'], watermark: w + MINUTE_MS }
    await assert.rejects(crashing.apply(batch), /simulated crash/)
    await crashing.close()

    const restarted = await CosmosSpeedStore.open({ ...opts })
    t.after(() => restarted.close())
    // the restarted consumer asks where to resume: the claimed batch is completed first
    assert.equal(await restarted.position('events', 0), '180', crashAfter)
    assert.equal(total(await restarted.query(w, w + 3 * MINUTE_MS, {})), 61, crashAfter)
    assert.deepEqual(await restarted.seen(['k180']), [true])
    assert.equal((await restarted.coverage()).watermark, w + MINUTE_MS)
    // a replay of 101–150 (a different boundary) computed after 100 is refused
    assert.equal(await restarted.apply(batchOf([row(w, 5)], 0, 150, 100)), false)
    assert.equal(await restarted.apply(batchOf([row(w, 7)], 0, 200, 180)), true)
    assert.equal(total(await restarted.query(w, w + 3 * MINUTE_MS, {})), 68, crashAfter)
  }
})

test('cosmos: a pending batch left by a crash is completed by the next apply too, before its own checks', async (t) => {
  const clock = { t: Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS }
  const w = clock.t - MINUTE_MS
  const opts = options({ now: () => clock.t })
  const crashing = await CosmosSpeedStore.open({ ...opts, crashAfter: 'claim' })
  await assert.rejects(crashing.apply(batchOf([row(w, 10)], 3, 50, null)), /simulated crash/)
  await crashing.close()
  const other = await CosmosSpeedStore.open({ ...opts })
  t.after(() => other.close())
  // an owner that still believes the position is unset: its CAS fails once the pending batch is in
  assert.equal(await other.apply(batchOf([row(w, 99)], 3, 60, null)), false)
  assert.equal(total(await other.query(w, w + MINUTE_MS, {})), 10)
  assert.equal(await other.position('events', 3), '50')
})

test('cosmos: the key never appears in what the store shows', async (t) => {
  const { inspect } = await import('node:util')
  const store = await CosmosSpeedStore.open(options({ key: 'SECRET-KEY-VALUE' }))
  t.after(() => store.close())
  assert.ok(!inspect(store, { depth: 5 }).includes('SECRET-KEY-VALUE'))
  assert.ok(!JSON.stringify(store).includes('SECRET-KEY-VALUE'))
})
