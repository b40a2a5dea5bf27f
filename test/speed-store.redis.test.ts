// The speed store contract against a real Redis (started here through scripts/services), plus
// what only the Redis store has to show: native TTLs on every key that holds windows or dedup
// keys, one hash slot per store (Redis Cluster), idempotence and atomicity across clients, and
// positions that survive a restart of the store.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { type RedisService, startRedis } from '../scripts/services/index.js'
import { type ApplyBatch, emptyPartials, MINUTE_MS, type PartialRow, type SpeedStore } from '../src/model/index.js'
import { RedisSpeedStore, type RedisSpeedStoreOptions, SpeedPipeline } from '../src/speed/index.js'
import { speedStoreContract } from './contract/speed-store-contract.js'
import { PIPELINE_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'

let redis: RedisService
let admin: Redis
let stores = 0

before(async () => {
  redis = await startRedis({ log: false })
  admin = new Redis(redis.url)
})

after(async () => {
  await admin?.quit()
  await redis?.close()
})

const uniquePrefix = (): string => `t${process.pid}-${++stores}`

speedStoreContract('redis', async ({ now, retentionMs }) => new RedisSpeedStore({ ...STORE_DEFAULTS, url: redis.url, keyPrefix: uniquePrefix(), now, retentionMs }))

const T = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 10 * MINUTE_MS

function open (t: { after: (fn: () => Promise<void>) => void }, options: Partial<RedisSpeedStoreOptions> = {}): RedisSpeedStore {
  const store = new RedisSpeedStore({ ...STORE_DEFAULTS, url: redis.url, keyPrefix: uniquePrefix(), ...options })
  t.after(() => store.close())
  return store
}

function row (windowStart: number, eventType: string, region: string, events: number, bins: Array<[number, number]> = [], latencySum = 0): PartialRow {
  const partials = emptyPartials()
  partials.events = events
  partials.latency_sum = latencySum
  partials.latency_count = latencySum === 0 ? 0 : events
  for (const [b, n] of bins) partials.response.set(b, n)
  return { window_start: windowStart, event_type: eventType, region, partials }
}

const batch = (deltas: PartialRow[], offset: string, partition = 0, extra: Partial<ApplyBatch> = {}): ApplyBatch =>
  ({ deltas, position: { topic: 'events', partition, offset }, ...extra })

async function keysOf (store: RedisSpeedStore): Promise<string[]> {
  return (await admin.keys(`{${store.keyPrefix}}*`)).sort()
}

const total = (rows: PartialRow[]): number => rows.reduce((n, r) => n + r.partials.events, 0)

/** Redis Cluster's key → slot: CRC16 (XMODEM) of the hash tag, or of the whole key without one. */
function keySlot (key: string): number {
  const open = key.indexOf('{')
  let tagged = key
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) tagged = key.slice(open + 1, close)
  }
  let crc = 0
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

test('redis: keySlot agrees with Redis Cluster (known slots)', () => {
  assert.equal(keySlot('123456789'), 0x31c3 % 16384) // the CRC16/XMODEM check value
  assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'))
  assert.equal(keySlot('foo{}{bar}'), keySlot('foo{}{bar}'.slice(0)), 'an empty tag hashes the whole key')
})

test('redis: window, index and dedup keys carry TTLs (by the store clock); only positions and meta are kept', async (t) => {
  const store = open(t, { retentionMs: 3_600_000, dedupWindowMs: 300_000 })
  await store.apply(batch([row(T, 'a', 'x', 2, [[5, 2]]), row(T + MINUTE_MS, 'a', 'x', 1)], '0', 0, { dedupKeys: ['k1', 'k2'], watermark: T }))
  const keys = await keysOf(store)
  const tag = `{${store.keyPrefix}}`
  assert.deepEqual(keys, [`${tag}:dk`, `${tag}:idx`, `${tag}:meta`, `${tag}:pos`, `${tag}:st`, `${tag}:w:${T}`, `${tag}:w:${T + MINUTE_MS}`].sort())
  const now = Date.now()
  for (const key of keys) {
    const ttl = await admin.pttl(key)
    if (key.endsWith(':pos') || key.endsWith(':meta')) {
      assert.equal(ttl, -1, `${key} has no TTL`)
      continue
    }
    assert.ok(ttl > 0, `${key} has a TTL (${ttl})`)
    if (key.includes(':w:')) {
      // expires one retention after the window ends
      const start = Number(key.slice(key.lastIndexOf(':') + 1))
      assert.ok(Math.abs(now + ttl - (start + MINUTE_MS + 3_600_000)) < 5_000, `${key}: expires at its end + retention`)
    }
    if (key.endsWith(':dk')) assert.ok(ttl <= 300_000 && ttl > 290_000, `${key}: the dedup window`)
  }
})

test('redis: every key of a store hashes to one slot (hash tag), so one script may touch them all on a cluster', async (t) => {
  const store = open(t)
  await store.apply(batch([row(T, 'a', 'x', 1), row(T + 2 * MINUTE_MS, 'b', 'y', 1)], '7', 3, { dedupKeys: ['k'] }))
  await store.setCoveredFrom(T)
  const keys = await keysOf(store)
  assert.ok(keys.length >= 6)
  for (const key of keys) assert.ok(key.startsWith(`{${store.keyPrefix}}:`), `${key} carries the store's hash tag`)
  assert.equal(new Set(keys.map(keySlot)).size, 1, 'one slot')
})

test('redis: replaying a batch from a second client changes nothing', async (t) => {
  const first = open(t)
  const second = open(t, { keyPrefix: first.keyPrefix })
  const deltas = [row(T, 'a', 'x', 3, [[10, 3]], 12.5), row(T + MINUTE_MS, 'b', 'y', 1)]
  assert.equal(await first.apply(batch(deltas, '100', 0, { dedupKeys: ['k1'] })), true)
  const before = await first.query(T, T + 10 * MINUTE_MS, {})
  const token = await first.changeToken(T, T + 10 * MINUTE_MS)
  assert.equal(await second.apply(batch(deltas, '100', 0, { dedupKeys: ['k1'] })), false)
  assert.equal(await second.apply(batch(deltas, '99', 0)), false)
  assert.deepEqual(await second.query(T, T + 10 * MINUTE_MS, {}), before)
  assert.equal(await second.changeToken(T, T + 10 * MINUTE_MS), token)
  assert.deepEqual(await second.seen(['k1']), [true])
})

test('redis: concurrent applies for different partitions from two clients all land (one script each, atomically)', async (t) => {
  const a = open(t)
  const b = open(t, { keyPrefix: a.keyPrefix })
  const rounds = 50
  const apply = (store: RedisSpeedStore, partition: number) => (async () => {
    for (let i = 0; i < rounds; i++) {
      assert.equal(await store.apply(batch([row(T, 'a', 'x', 1, [[7, 1]]), row(T + MINUTE_MS, 'a', 'x', 2)], String(i), partition)), true)
    }
  })()
  await Promise.all([apply(a, 0), apply(b, 1), apply(a, 2), apply(b, 3)])
  const rows = await a.query(T, T + 2 * MINUTE_MS, {})
  assert.equal(total(rows), 4 * rounds * 3)
  assert.equal(rows.find((r) => r.window_start === T)?.partials.response.get(7), 4 * rounds)
  for (const p of [0, 1, 2, 3]) assert.equal(await b.position('events', p), String(rounds - 1))
})

test('redis: a store restarted over the same Redis resumes its positions, windows and watermark', async (t) => {
  const prefix = uniquePrefix()
  const first = new RedisSpeedStore({ ...STORE_DEFAULTS, url: redis.url, keyPrefix: prefix })
  await first.apply(batch([row(T, 'a', 'x', 4)], '9007199254740993', 2, { watermark: T, maxEventTime: T + 5 }))
  await first.setCoveredFrom(T - MINUTE_MS)
  const coverage = await first.coverage()
  await first.close()
  const again = open(t, { keyPrefix: prefix })
  assert.equal(await again.position('events', 2), '9007199254740993')
  assert.equal(await again.apply(batch([row(T, 'a', 'x', 4)], '9007199254740992', 2)), false, 'older than the stored position')
  assert.deepEqual(await again.coverage(), coverage)
  assert.equal(total(await again.query(T, T + MINUTE_MS, {})), 4)
})

test('redis: latency sums are added as doubles, exactly as JavaScript adds them', async (t) => {
  const store = open(t)
  const values = [0.1, 0.2, 1e-7, 123456.789, 1 / 3]
  let expected = 0
  for (const [i, v] of values.entries()) {
    expected += v
    await store.apply(batch([row(T, 'a', 'x', 1, [], v)], String(i)))
  }
  const [r] = await store.query(T, T + MINUTE_MS, {})
  assert.equal(r?.partials.latency_sum, expected)
})

test('redis: event types and regions with separators or odd characters round-trip', async (t) => {
  const store = open(t)
  const odd = [row(T, 'a|b', 'x|', 1), row(T, '3:ab', '|', 2), row(T, 'näh\u0000', 'ü', 3, [[-32768, 1], [-4, 2]])]
  await store.apply(batch(odd, '0'))
  const got = (await store.query(T, T + MINUTE_MS, {})).sort((x, y) => x.partials.events - y.partials.events)
  assert.deepEqual(got, odd)
  assert.deepEqual((await store.query(T, T + MINUTE_MS, { event_type: ['a|b'], region: ['x|'] })).map((r) => r.partials.events), [1])
})

test('redis: an invalid batch is refused before anything is written', async (t) => {
  const store = open(t)
  const bad = row(T, 'a', 'x', 1.5)
  await assert.rejects(store.apply(batch([row(T, 'a', 'x', 1), bad], '0')), TypeError)
  await assert.rejects(store.apply(batch([row(T + 1, 'a', 'x', 1)], '0')), TypeError, 'a window not on a whole minute')
  await assert.rejects(store.apply(batch([], '12a')), TypeError)
  await assert.rejects(store.apply(batch([row(T, 'a', 'x', 1, [[1.5, 1]])], '0')), TypeError)
  assert.deepEqual(await keysOf(store), [])
})

test('redis: a Redis error rejects the apply and leaves nothing half applied', async (t) => {
  const store = open(t)
  await store.apply(batch([row(T, 'a', 'x', 1)], '0'))
  // the position hash replaced by a string: the script fails on its first command
  const pos = `{${store.keyPrefix}}:pos`
  await admin.del(pos)
  await admin.set(pos, 'oops')
  await assert.rejects(store.apply(batch([row(T, 'a', 'x', 5)], '1')), /WRONGTYPE/)
  await admin.del(pos)
  assert.equal(total(await store.query(T, T + MINUTE_MS, {})), 1)
})

test('redis: after Redis lost the store state, change tokens do not repeat', async (t) => {
  const store = open(t)
  const range: [number, number] = [T, T + 5 * MINUTE_MS]
  await store.apply(batch([row(T, 'a', 'x', 1)], '0'))
  const before = await store.changeToken(...range)
  for (const key of await keysOf(store)) await admin.del(key)
  assert.deepEqual(await store.query(...range, {}), [])
  await store.apply(batch([row(T, 'a', 'x', 2)], '0'))
  const afterLoss = await store.changeToken(...range)
  assert.notEqual(afterLoss, before)
  assert.equal(total(await store.query(...range, {})), 2)
})

test('redis: seen() asks for many keys in one call', async (t) => {
  const store = open(t)
  const keys = Array.from({ length: 25_000 }, (_, i) => `${T}|e${i}`)
  await store.apply(batch([], '0', 0, { dedupKeys: keys.filter((_, i) => i % 2 === 0) }))
  const seen = await store.seen(keys)
  assert.equal(seen.length, keys.length)
  assert.ok(seen.every((s, i) => s === (i % 2 === 0)))
})

test('redis: close() of a store on a caller-owned client leaves the client open', async (t) => {
  const client = new Redis(redis.url)
  t.after(() => client.quit())
  const store = new RedisSpeedStore({ ...STORE_DEFAULTS, client, keyPrefix: uniquePrefix() })
  await store.apply(batch([row(T, 'a', 'x', 1)], '0'))
  await store.close()
  await store.close()
  assert.equal(await client.ping(), 'PONG')
})

test('redis: two owners racing on one partition with the same `previous`: exactly one batch lands', async (t) => {
  const a = open(t)
  const b = open(t, { keyPrefix: a.keyPrefix })
  assert.equal(await a.apply(batch([row(T, 'a', 'x', 1)], '10', 0, { previous: null })), true)
  for (let i = 0; i < 20; i++) {
    const previous = await a.position('events', 0)
    const next = String(Number(previous) + 5)
    const results = await Promise.all([
      a.apply(batch([row(T, 'a', 'x', 1)], next, 0, { previous })),
      b.apply(batch([row(T, 'a', 'x', 1)], String(Number(next) + 1), 0, { previous }))
    ])
    assert.equal(results.filter(Boolean).length, 1, `round ${i}: ${JSON.stringify(results)}`)
  }
  assert.equal(total(await a.query(T, T + MINUTE_MS, {})), 21)
  // `previous` is compared as an int64, like every offset
  const at = await a.position('events', 0) as string
  assert.equal(await a.apply(batch([], String(Number(at) + 1), 0, { previous: '000' + at })), true)
})

test('redis: an apply call delivered twice (ioredis resends after a reconnect) counts once and still answers true', async (t) => {
  // the failure: the first EVALSHA ran, its reply was lost with the connection, ioredis sent it
  // again; a plain replay would answer false and the caller would think its batch was refused
  const client = new Redis(redis.url)
  t.after(() => client.quit())
  const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>
  ;(client as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> }).evalsha = async (...args: unknown[]) => {
    await evalsha(...args)
    return await evalsha(...args)
  }
  const store = new RedisSpeedStore({ ...STORE_DEFAULTS, client, keyPrefix: uniquePrefix() })
  assert.equal(await store.apply(batch([row(T, 'a', 'x', 3)], '5')), true)
  assert.equal(await store.apply(batch([row(T, 'a', 'x', 3)], '5')), false, 'a replay from another call is still refused')
  assert.equal(total(await store.query(T, T + MINUTE_MS, {})), 3)
})

test('redis: applyUnseen applies a batch whose dedup keys are new, and refuses one naming recorded keys, changing nothing', async (t) => {
  const store = open(t)
  assert.deepEqual(await store.applyUnseen(batch([row(T, 'a', 'x', 2)], '0', 0, { dedupKeys: ['k1', 'k2'] })), { applied: true, seen: [] })
  const before = await store.query(T, T + MINUTE_MS, {})
  const token = await store.changeToken(T, T + MINUTE_MS)
  // k2 and k1 are recorded: their indexes come back, and neither the windows, nor the position, nor k3 are written
  assert.deepEqual(await store.applyUnseen(batch([row(T, 'a', 'x', 3)], '1', 0, { dedupKeys: ['k3', 'k2', 'k1'] })), { applied: false, seen: [1, 2] })
  assert.deepEqual(await store.query(T, T + MINUTE_MS, {}), before)
  assert.equal(await store.changeToken(T, T + MINUTE_MS), token)
  assert.equal(await store.position('events', 0), '0')
  assert.deepEqual(await store.seen(['k3']), [false])
  // without them, it applies; a stale position still says not applied, with nothing seen
  assert.deepEqual(await store.applyUnseen(batch([row(T, 'a', 'x', 1)], '1', 0, { dedupKeys: ['k3'] })), { applied: true, seen: [] })
  assert.deepEqual(await store.applyUnseen(batch([row(T, 'a', 'x', 1)], '1', 0, { dedupKeys: ['k4'] })), { applied: false, seen: [] })
  assert.equal(total(await store.query(T, T + MINUTE_MS, {})), 3)
})

test('redis: dedup keys move to {p}:dk:old after a dedup window and are forgotten after the next, each when its own window ends', async (t) => {
  const clock = { t: T }
  const W = 300_000
  const store = open(t, { dedupWindowMs: W, now: () => clock.t })
  const tag = `{${store.keyPrefix}}`
  await store.apply(batch([], '0', 0, { dedupKeys: ['a'] }))
  clock.t += W - 1000
  await store.apply(batch([], '1', 0, { dedupKeys: ['b'] }))
  assert.deepEqual(await store.seen(['a', 'b']), [true, true])
  clock.t += 2000 // a's window is over; a new generation starts with c
  await store.apply(batch([], '2', 0, { dedupKeys: ['c'] }))
  assert.deepEqual(await store.seen(['a', 'b', 'c']), [false, true, true])
  assert.equal(await admin.hlen(`${tag}:dk:old`), 2, 'a and b moved whole')
  assert.equal(await admin.hlen(`${tag}:dk`), 1)
  clock.t += W // b's and c's windows are over; the old generation is dropped at the next rotation
  assert.deepEqual(await store.seen(['b', 'c']), [false, false])
  await store.apply(batch([], '3', 0, { dedupKeys: ['d'] }))
  assert.equal(await admin.hlen(`${tag}:dk:old`), 1, 'only c, moved; a and b dropped')
  assert.deepEqual(await store.seen(['a', 'b', 'c', 'd']), [false, false, false, true])
})

test('redis: a dedup sorted set left by an older version is replaced, not an error', async (t) => {
  const store = open(t)
  await admin.zadd(`{${store.keyPrefix}}:dk`, Date.now() + 300_000, `${T}|old`)
  assert.deepEqual(await store.seen(['x']), [false])
  assert.equal(await store.apply(batch([row(T, 'a', 'x', 1)], '0', 0, { dedupKeys: ['x'] })), true)
  assert.deepEqual(await store.seen(['x']), [true])
})

test('redis: a pipeline of a new process drops the duplicates an earlier one applied, asking the store within the apply (one round trip)', async (t) => {
  const store = open(t, { now: () => T + 6 * MINUTE_MS })
  const calls: string[] = []
  const counting: SpeedStore = {
    kind: 'redis',
    keepsDedupKeys: true,
    apply: async (b) => { calls.push('apply'); return await store.apply(b) },
    applyUnseen: async (b) => { calls.push('applyUnseen'); return await store.applyUnseen(b) },
    seen: async (k) => { calls.push('seen'); return await store.seen(k) },
    query: (...a) => store.query(...a),
    coverage: () => store.coverage(),
    position: (...a) => store.position(...a),
    setCoveredFrom: (x) => store.setCoveredFrom(x),
    changeToken: (...a) => store.changeToken(...a),
    close: async () => undefined
  }
  const line = (id: string, ts: number): string => JSON.stringify({ event_id: id, timestamp: new Date(ts).toISOString(), event_type: 'click', region: 'eu' })
  const records = (lines: string[], partition: number) => ({ topic: 'events', partition, records: lines.map((value, i) => ({ value, offset: String(i) })) })
  const first = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store: counting })
  await first.process(records([line('a', T + 1000), line('b', T + 2000)], 0), T + 6 * MINUTE_MS)
  const second = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store: counting })
  const r = await second.process(records([line('c', T + 3000), line('a', T + 1000), line('b', T + 2000)], 1), T + 6 * MINUTE_MS)
  assert.equal(r.applied, true)
  assert.equal(r.duplicates, 2)
  assert.deepEqual(calls, ['applyUnseen', 'applyUnseen', 'applyUnseen'], 'never seen(), never a plain apply')
  assert.equal(total(await store.query(T, T + MINUTE_MS, {})), 3)
})
