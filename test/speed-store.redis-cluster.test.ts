// The Redis store against a real 3-master Redis Cluster (Debian's redis-server in cluster mode, created with
// `redis-cli --cluster create` by scripts/services): the speed store contract runs unchanged, and every key a store
// writes (so every key its scripts touch) lies in the one slot of its hash tag, on one node. The cluster itself refuses
// a script whose keys span slots, so a passing contract suite is also the proof that no script does.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { type RedisClusterService, startRedisCluster } from '../scripts/services/index.js'
import { loadConfig } from '../src/config.js'
import { type ApplyBatch, emptyPartials, MINUTE_MS, type PartialRow } from '../src/model/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { StoreWatch, storeUnreachable } from '../src/app/store-watch.js'
import { createRedisClient } from '../src/speed/stores/redis-client.js'
import { speedStoreContract } from './contract/speed-store-contract.js'
import { STORE_DEFAULTS } from './helpers/settings.js'
import { until } from './helpers/wait.js'

let cluster: RedisClusterService
let admin: Cluster
let stores = 0

before(async () => {
  cluster = await startRedisCluster({ log: false })
  admin = new Cluster(cluster.startupNodes)
  admin.on('error', () => {}) // while the masters are stopped (the last test); commands report their own errors
}, { timeout: 120_000 })

after(async () => {
  await admin?.quit()
  await cluster?.close()
})

const uniquePrefix = (): string => `c${process.pid}-${++stores}`
const open = (keyPrefix = uniquePrefix()): RedisSpeedStore =>
  new RedisSpeedStore({ ...STORE_DEFAULTS, url: cluster.url, cluster: true, keyPrefix })

speedStoreContract('redis cluster', async ({ now, retentionMs }) =>
  new RedisSpeedStore({ ...STORE_DEFAULTS, url: cluster.url, cluster: true, keyPrefix: uniquePrefix(), now, retentionMs }))

const T = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 10 * MINUTE_MS

function row (windowStart: number, eventType: string, region: string, events: number): PartialRow {
  const partials = emptyPartials()
  partials.events = events
  partials.response.set(3, events)
  return { window_start: windowStart, event_type: eventType, region, partials }
}

const batch = (deltas: PartialRow[], offset: string, partition = 0, extra: Partial<ApplyBatch> = {}): ApplyBatch =>
  ({ deltas, position: { topic: 'events', partition, offset }, ...extra })

/** Every key of `prefix` on each master (SCAN per node), by node. */
async function keysByNode (prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const node of admin.nodes('master')) {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `{${prefix}}*`, 'COUNT', 1000)
      keys.push(...found)
      cursor = next
    } while (cursor !== '0')
    if (keys.length > 0) out.set(`${node.options.host ?? ''}:${node.options.port ?? ''}`, keys)
  }
  return out
}

test('redis cluster: three masters share the 16384 slots, and the cluster refuses a script whose keys span slots', async () => {
  assert.equal(admin.nodes('master').length, 3)
  const info = await admin.cluster('INFO')
  assert.match(info, /cluster_state:ok/)
  assert.match(info, /cluster_slots_assigned:16384/)
  const a = '{hg-a}:x'
  const b = '{hg-b}:x'
  assert.notEqual(await admin.cluster('KEYSLOT', a), await admin.cluster('KEYSLOT', b))
  const node = new Redis(cluster.nodes[0]?.url as string)
  try {
    await assert.rejects(node.eval("return redis.call('GET', KEYS[1])", 2, a, b), /CROSSSLOT/)
  } finally {
    node.disconnect()
  }
})

test('redis cluster: every key a store writes lies in the slot of its hash tag, on one node, and reads back', async (t) => {
  const store = open()
  t.after(() => store.close())
  const windows = Array.from({ length: 30 }, (_, i) => T - 20 * MINUTE_MS + i * MINUTE_MS)
  for (const [p, start] of windows.entries()) {
    const deltas = [row(start, 'page_view', 'eu', 2), row(start, 'purchase', 'us', 1)]
    assert.equal(await store.apply(batch(deltas, String(p), p % 6, { dedupKeys: [`${start}|e${p}`], watermark: start, maxEventTime: start })), true)
  }
  await store.setCoveredFrom(T - 20 * MINUTE_MS)
  const byNode = await keysByNode(store.keyPrefix)
  assert.equal(byNode.size, 1, `one node holds the store: ${JSON.stringify([...byNode.keys()])}`)
  const keys = [...byNode.values()].flat()
  assert.ok(keys.length >= 2, `the store's keys: ${keys.join(', ')}`)
  const slots = new Set(await Promise.all(keys.map((k) => admin.cluster('KEYSLOT', k))))
  assert.deepEqual([...slots], [await admin.cluster('KEYSLOT', `{${store.keyPrefix}}`)])
  const rows = await store.query(T - 20 * MINUTE_MS, T + 10 * MINUTE_MS, {})
  assert.equal(rows.reduce((n, r) => n + r.partials.events, 0), 3 * windows.length)
  assert.deepEqual(await store.seen([`${windows[0] as number}|e0`, 'never']), [true, false])
  assert.equal((await store.coverage()).coveredFrom, T - 20 * MINUTE_MS)
})

test('redis cluster: stores with different key prefixes spread over the masters (how a deployment shards)', async (t) => {
  const prefixes = Array.from({ length: 12 }, (_, i) => `${uniquePrefix()}-p${i}`)
  const nodes = new Set<string>()
  for (const prefix of prefixes) {
    const store = open(prefix)
    t.after(() => store.close())
    assert.equal(await store.apply(batch([row(T, 'a', 'x', 1)], '0')), true)
    for (const node of (await keysByNode(prefix)).keys()) nodes.add(node)
  }
  assert.ok(nodes.size >= 2, `12 prefixes on ${nodes.size} node(s)`)
})

test('redis cluster: HOURGLASS_REDIS_MODE=cluster with the seed nodes builds a cluster client; several URLs alone are refused', async () => {
  const config = loadConfig({ HOURGLASS_REDIS_URL: cluster.url, HOURGLASS_REDIS_MODE: 'cluster' })
  const client = createRedisClient(config.redisUrl, { cluster: config.redisMode === 'cluster', commandTimeoutMs: config.redisTimeoutMs })
  try {
    assert.ok(client instanceof Cluster)
    assert.equal(await client.set('{seed}:k', 'v'), 'OK')
    assert.equal(await client.get('{seed}:k'), 'v')
  } finally {
    client.disconnect()
  }
  assert.throws(() => loadConfig({ HOURGLASS_REDIS_URL: cluster.url }), /HOURGLASS_REDIS_MODE=cluster/)
  assert.throws(() => createRedisClient(cluster.url), /cluster mode/)
})

test('redis cluster: every master stopped: calls fail as unreachable within the deadline and answers hold nothing; back (empty): answers again', async (t) => {
  const store = open()
  t.after(() => store.close())
  const events: Array<number | null> = []
  const watch = new StoreWatch(store, { now: Date.now, onOutage: (since) => events.push(since), deadlineMs: 2_000 })
  assert.equal(await watch.store.apply(batch([row(T, 'a', 'x', 1)], '0')), true)
  await cluster.stop()
  const t0 = Date.now()
  await assert.rejects(watch.store.position('events', 0), storeUnreachable)
  assert.ok(Date.now() - t0 < 10_000, `failed within the deadline (${Date.now() - t0} ms)`)
  assert.equal(events.length, 1, 'the outage begins')
  assert.deepEqual(await watch.served.query(T, T + MINUTE_MS, {}), [], 'answers hold nothing, at once')
  assert.equal((await watch.served.coverage()).coveredFrom, null)
  await cluster.start()
  await until('a probe to find the cluster back', async () => {
    await watch.served.coverage()
    return events.length === 2
  }, 60_000)
  assert.equal(events[1], null, 'the outage is over')
  assert.equal(await watch.store.position('events', 0), null, 'our Redis keeps nothing across a restart: the store lost its state')
})
