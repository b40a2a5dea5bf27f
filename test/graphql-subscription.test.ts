// A dashboard subscribed to `windowUpdated` over a real WebSocket receives
// the minute windows as events arrive. The failure this guards against: pushes that never come
// (the subscription not fed by the pipeline), that flood the client (one message per consumed
// batch), that leak past the client's filter, or that keep running after the client left.
//
// The pieces are real: a listening server (buildServer), a ws client speaking
// graphql-transport-ws, the speed pipeline over a MemorySpeedStore, the merging metrics service,
// and the WindowChangeHub fed by the store's applies (src/merger/window-changes.ts), wired here
// as the composition root wires them (src/app/). A last test does the same against the app
// itself (buildApp), so the wiring in src/app/ is what is tested, not a copy of it.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { WindowUpdateStream } from '../src/api/graphql/window-updates.js'
import { buildServer } from '../src/api/server.js'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { MergingMetricsService, WindowChangeHub, withWindowChanges } from '../src/merger/index.js'
import type { GoldSource } from '../src/model/index.js'
import { MemorySpeedStore, SpeedPipeline } from '../src/speed/index.js'
import { sleep, until } from './helpers/wait.js'
import { LIMITS_DEFAULTS, PIPELINE_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'

const M = 60_000
const iso = (t: number) => new Date(t).toISOString()

interface Message { id?: string, type: string, payload?: unknown, /** when it arrived (added here) */ at?: number }
interface Row { window_start: string, event_type?: string | null, region?: string | null, total_events: number, total_revenue?: number }
interface Update { windows: string[], rows: Row[], meta: { granularity: string, freshness: { watermark: string | null } } }

/** A graphql-transport-ws client over a real socket that keeps every message it receives. */
class Client {
  readonly messages: Message[] = []
  readonly #ws: WebSocket

  private constructor (ws: WebSocket) {
    this.#ws = ws
    ws.on('message', (data) => { this.messages.push({ ...JSON.parse(String(data)) as Message, at: Date.now() }) })
  }

  static async connect (url: string): Promise<Client> {
    const ws = new WebSocket(url, 'graphql-transport-ws')
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
    assert.equal(ws.protocol, 'graphql-transport-ws')
    const client = new Client(ws)
    client.send({ type: 'connection_init', payload: {} })
    await client.next((m) => m.type === 'connection_ack')
    return client
  }

  send (m: Message): void {
    this.#ws.send(JSON.stringify(m))
  }

  subscribe (id: string, query: string, variables?: Record<string, unknown>): void {
    this.send({ id, type: 'subscribe', payload: { query, ...(variables === undefined ? {} : { variables }) } })
  }

  /** the first message from `from` on (an index into messages) that matches */
  async next (match: (m: Message) => boolean, from = 0, ms = 5000): Promise<Message> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.messages.slice(from).find(match)
      if (found !== undefined) return found
      if (Date.now() > deadline) assert.fail(`no matching message within ${ms} ms; got ${JSON.stringify(this.messages.slice(from))}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  updates (id: string): Array<Update & { at: number }> {
    return this.messages.filter((m) => m.id === id && m.type === 'next')
      .map((m) => ({ ...(m.payload as { data: { windowUpdated: Update } }).data.windowUpdated, at: m.at ?? 0 }))
  }

  close (): Promise<void> {
    return new Promise((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) { resolve(); return }
      this.#ws.once('close', () => resolve())
      this.#ws.close()
    })
  }
}

const SUBSCRIPTION = `subscription ($f: Filter, $g: [Dimension!]) {
  windowUpdated(filter: $f, groupBy: $g) {
    windows
    rows { window_start event_type region total_events total_revenue }
    meta { granularity freshness { watermark } }
  }
}`

describe('windowUpdated over a real WebSocket, fed by the real speed pipeline', () => {
  // the wall clock, so the coalescing timer and the store's retention agree
  const store = new MemorySpeedStore(STORE_DEFAULTS)
  const hub = new WindowChangeHub()
  const pipeline = new SpeedPipeline({ ...PIPELINE_DEFAULTS, store: withWindowChanges(store, hub) })
  const noGold: GoldSource = { snapshot: () => null, query: async () => [], dimensions: async () => ({ event_types: [], regions: [] }), topEntities: async () => [] }
  const service = new MergingMetricsService({
    gold: noGold, speed: store, quality: pipeline, allowedLatenessMs: M,
    limits: LIMITS_DEFAULTS
  })
  const server = buildServer({ service, windowChanges: hub })
  let url = ''
  let offset = 0
  const clients: Client[] = []

  /** one consumed batch of events, each [event time, event_type, region] */
  async function feed (events: Array<[number, string, string]>): Promise<void> {
    const records = events.map(([t, type, region]) => ({
      offset: String(offset++),
      value: JSON.stringify({ event_id: `e${offset}`, timestamp: iso(t), event_type: type, region, revenue: 1.25 })
    }))
    const result = await pipeline.process({ topic: 'events', partition: 0, records }, Date.now())
    assert.ok(result.applied)
  }

  async function connect (): Promise<Client> {
    const c = await Client.connect(url)
    clients.push(c)
    return c
  }

  before(async () => {
    const base = await server.listen({ port: 0, host: '127.0.0.1' })
    url = base.replace(/^http/, 'ws') + '/graphql'
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await server.close()
    await store.close()
  })

  test('updates arrive as events do: filtered, grouped, only the rows that changed', async () => {
    const client = await connect()
    client.subscribe('1', SUBSCRIPTION, { f: { region: ['eu-west'] }, g: ['event_type'] })
    await until('the subscription to listen', () => hub.size === 1)

    const t = Date.now() - 20_000
    const window = iso(Math.floor(t / M) * M)
    // three events in eu-west, two in us-east, which the filter leaves out
    await feed([[t, 'click', 'eu-west'], [t, 'click', 'eu-west'], [t, 'purchase', 'eu-west'], [t, 'click', 'us-east'], [t, 'click', 'us-east']])
    const first = await client.next((m) => m.id === '1' && m.type === 'next')
    const update = (first.payload as { data: { windowUpdated: Update } }).data.windowUpdated
    assert.deepEqual(update.windows, [window])
    assert.deepEqual(update.rows, [
      { window_start: window, event_type: 'click', region: null, total_events: 2, total_revenue: 2.5 },
      { window_start: window, event_type: 'purchase', region: null, total_events: 1, total_revenue: 1.25 }
    ])
    assert.equal(update.meta.granularity, 'minute')

    // an event outside the filter changes the window but none of this subscriber's rows: nothing is sent;
    // the next eu-west click is sent alone, the unchanged purchase row is not sent again
    const seen = client.messages.length
    await feed([[t, 'click', 'us-east']])
    await sleep(400)
    assert.equal(client.messages.length, seen, 'nothing for a change the filter leaves out')
    await feed([[t, 'click', 'eu-west']])
    const second = await client.next((m) => m.id === '1' && m.type === 'next', seen)
    assert.deepEqual((second.payload as { data: { windowUpdated: Update } }).data.windowUpdated.rows, [
      { window_start: window, event_type: 'click', region: null, total_events: 3, total_revenue: 3.75 }
    ])
  })

  test('a burst of batches is coalesced: a few updates a second, the last one holding every event', async (t) => {
    const client = await connect()
    const listening = hub.size
    client.subscribe('b', SUBSCRIPTION, { g: ['region'] })
    await until('the subscription to listen', () => hub.size === listening + 1)
    const seen = client.messages.length

    // 60 batches, one every 20 ms (1.2 s), 3 events each, all in one minute window
    const at = Date.now() - 5000
    const started = Date.now()
    for (let i = 0; i < 60; i++) {
      await feed([[at, 'view', 'ap-south'], [at, 'view', 'ap-south'], [at, 'view', 'ap-south']])
      await sleep(20)
    }
    const elapsed = Date.now() - started
    // the pushed value for ap-south reaches 180 within one more interval
    await until('the last update', () => client.updates('b').some((u) => u.rows.some((r) => r.region === 'ap-south' && r.total_events === 180)))
    const updates = client.updates('b').filter((u) => u.rows.some((r) => r.region === 'ap-south'))
    t.diagnostic(`${updates.length} updates for 60 batches in ${elapsed} ms`)
    assert.ok(client.messages.length > seen)
    assert.ok(updates.length >= 2, `${updates.length} updates: more than one during a 1.2 s burst`)
    assert.ok(updates.length <= Math.ceil(elapsed / 250) + 3, `${updates.length} updates in ${elapsed} ms: at most about four a second`)
    // the server spaces them 250 ms apart; allow for the socket's jitter
    const gaps = updates.slice(1).map((u, i) => u.at - (updates[i] as { at: number }).at)
    assert.ok(Math.min(...gaps) >= 150, `gaps between updates ${gaps.join(', ')} ms`)
    // the values only grow, and the last equals what the REST/GraphQL live query answers now
    const counts = updates.map((u) => u.rows.find((r) => r.region === 'ap-south')?.total_events ?? 0)
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b))
    const live = await server.inject('/v1/metrics/live?last=5m&group_by=region&region=ap-south')
    assert.equal(live.json<{ rows: Row[] }>().rows.reduce((n, r) => n + r.total_events, 0), 180)
  })

  test('the client stops (complete) or leaves (closes the socket): the subscription stops listening', async () => {
    const before = hub.size
    const a = await connect()
    a.subscribe('x', SUBSCRIPTION, {})
    await until('the subscription to listen', () => hub.size === before + 1)
    a.send({ id: 'x', type: 'complete' })
    await until('complete to unsubscribe', () => hub.size === before)

    const b = await connect()
    b.subscribe('y', SUBSCRIPTION, {})
    await until('the subscription to listen', () => hub.size === before + 1)
    await b.close()
    await until('the closed socket to unsubscribe', () => hub.size === before)
  })

  test('bad arguments and bad documents: an error message with the catalogue code, no subscription', async () => {
    const client = await connect()
    const before = hub.size
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['e1', SUBSCRIPTION, { f: { region: [''] } }, 'HG_ERR_BAD_FILTER_VALUE'],
      ['e2', SUBSCRIPTION, { g: ['region', 'region'] }, 'HG_ERR_DUPLICATE_DIMENSION'],
      ['e3', 'subscription { windowUpdated { nope } }', {}, 'HG_ERR_GRAPHQL_VALIDATION'],
      ['e4', 'subscription { windowUpdated(groupBy: [colour]) { windows } }', {}, 'HG_ERR_UNKNOWN_DIMENSION']
    ]
    for (const [id, query, variables, code] of cases) {
      client.subscribe(id, query, variables)
      const m = await client.next((x) => x.id === id)
      assert.equal(m.type, 'error', `${id}: ${JSON.stringify(m)}`)
      assert.equal((m.payload as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code, code, id)
    }
    assert.equal(hub.size, before)
  })
})

test('a server built without window changes answers windowUpdated with HG_ERR_NOT_READY', async (t) => {
  const store = new MemorySpeedStore(STORE_DEFAULTS)
  const noGold: GoldSource = { snapshot: () => null, query: async () => [], dimensions: async () => ({ event_types: [], regions: [] }), topEntities: async () => [] }
  const service = new MergingMetricsService({
    gold: noGold, speed: store, quality: new SpeedPipeline({ ...PIPELINE_DEFAULTS, store }), allowedLatenessMs: M,
    limits: LIMITS_DEFAULTS
  })
  const server = buildServer({ service })
  t.after(async () => { await server.close(); await store.close() })
  const base = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = await Client.connect(base.replace(/^http/, 'ws') + '/graphql')
  t.after(() => client.close())
  client.subscribe('n', SUBSCRIPTION, {})
  const m = await client.next((x) => x.id === 'n')
  assert.equal(m.type, 'error')
  assert.equal((m.payload as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code, 'HG_ERR_NOT_READY')
})

test('the real app (buildApp): a subscriber receives the windows its pipeline applies, with the counts of the events that arrived', async (t) => {
  // the app as `hourglass serve --source none --seed-days 0` builds it, on an empty data folder;
  // batches go in through app.pipeline.process, as the app's source handler sends them
  // what was opened is closed in reverse, whatever fails (t.after hooks themselves run in order)
  const opened: Array<() => Promise<unknown>> = []
  t.after(async () => { for (const close of opened.reverse()) await close() })
  const dataDir = await mkdtemp(join(tmpdir(), 'hourglass-gql-sub-'))
  opened.push(() => rm(dataDir, { recursive: true, force: true }))
  const now = (): number => Date.now()
  const config = loadConfig({}, { dataDir, seedDays: '0', source: 'none', logLevel: 'silent', port: '0', host: '127.0.0.1' })
  const app: App = await buildApp(config, { now, schedule: false })
  opened.push(() => app.close())
  assert.equal(app.source, null)
  const base = await app.server.listen({ port: config.port, host: config.host })
  const client = await Client.connect(base.replace(/^http/, 'ws') + '/graphql')
  opened.push(() => client.close())

  let offset = 0
  let id = 0
  /** one consumed batch; each entry [event_type, region] (all at `at`), or a raw record text */
  async function feed (at: number, events: Array<[string, string] | { raw: string } | { again: number }>): Promise<void> {
    const records = events.map((e) => {
      const value = 'raw' in e
        ? e.raw
        : JSON.stringify({ event_id: 'again' in e ? `real-${e.again}` : `real-${++id}`, timestamp: iso(at), event_type: 'again' in e ? 'click' : e[0], region: 'again' in e ? 'eu-west' : e[1], revenue: 1.25 })
      return { offset: String(offset++), value }
    })
    const result = await app.pipeline.process({ topic: 'events', partition: 0, records }, now())
    assert.ok(result.applied, JSON.stringify(result))
  }

  // two subscriptions on one socket: eu-west by event type, and everything by region
  client.subscribe('types', SUBSCRIPTION, { f: { region: ['eu-west'] }, g: ['event_type'] })
  client.subscribe('regions', SUBSCRIPTION, { g: ['region'] })

  // The protocol does not acknowledge a subscribe, and the app does not expose its hub: feed
  // probe events (their own event type) until both subscriptions have heard of one; every probe
  // fed is in the store, so the last probe row each one receives counts them all.
  const at = Date.now() - 20_000
  const window = iso(Math.floor(at / M) * M)
  const total = (sub: string, match: (r: Row) => boolean): number | undefined => client.updates(sub).flatMap((u) => u.rows).filter(match).at(-1)?.total_events
  let probes = 0
  const deadline = Date.now() + 5000
  while (total('types', (r) => r.event_type === 'probe') === undefined || total('regions', (r) => r.region === 'eu-west') === undefined) {
    if (Date.now() > deadline) assert.fail(`no update for ${probes} probe events; got ${JSON.stringify(client.messages)}`)
    await feed(at, [['probe', 'eu-west']])
    probes++
    await sleep(100)
  }
  await until('the updates of every probe', () => total('types', (r) => r.event_type === 'probe') === probes && total('regions', (r) => r.region === 'eu-west') === probes)
  t.diagnostic(`both subscriptions listening after ${probes} probe event(s)`)
  assert.equal(client.messages.filter((m) => m.type === 'error').length, 0, JSON.stringify(client.messages))
  const [probeUpdate] = client.updates('types')
  assert.deepEqual(probeUpdate?.windows, [window])
  assert.equal(probeUpdate?.meta.granularity, 'minute')
  assert.equal(probeUpdate?.meta.freshness.watermark !== null, true, 'the watermark moved with the probes')

  // a batch: three eu-west events (two click, one purchase), two us-east clicks
  let seen = client.messages.length
  await feed(at, [['click', 'eu-west'], ['click', 'eu-west'], ['purchase', 'eu-west'], ['click', 'us-east'], ['click', 'us-east']])
  const byType = (await client.next((m) => m.id === 'types' && m.type === 'next', seen)).payload as { data: { windowUpdated: Update } }
  assert.deepEqual(byType.data.windowUpdated.windows, [window])
  assert.deepEqual(byType.data.windowUpdated.rows, [
    { window_start: window, event_type: 'click', region: null, total_events: 2, total_revenue: 2.5 },
    { window_start: window, event_type: 'purchase', region: null, total_events: 1, total_revenue: 1.25 }
  ], 'eu-west only; the probe row, unchanged, is not sent again')
  const byRegion = await client.next((m) => m.id === 'regions' && m.type === 'next', seen)
  assert.deepEqual((byRegion.payload as { data: { windowUpdated: Update } }).data.windowUpdated.rows, [
    { window_start: window, event_type: null, region: 'eu-west', total_events: probes + 3, total_revenue: (probes + 3) * 1.25 },
    { window_start: window, event_type: null, region: 'us-east', total_events: 2, total_revenue: 2.5 }
  ])

  // the next batch: a duplicate of an eu-west click, a record that is not an event, one new
  // eu-west click and one us-east purchase; the pipeline drops the first two, so click reaches 3
  // (not 4) and purchase stays 1 (the types subscriber is not sent it again)
  const clickId = probes + 1 // the first eu-west click above
  seen = client.messages.length
  await feed(at, [{ again: clickId }, { raw: '{"not": "an event"' }, ['click', 'eu-west'], ['purchase', 'us-east']])
  const second = await client.next((m) => m.id === 'types' && m.type === 'next', seen)
  assert.deepEqual((second.payload as { data: { windowUpdated: Update } }).data.windowUpdated.rows, [
    { window_start: window, event_type: 'click', region: null, total_events: 3, total_revenue: 3.75 }
  ])
  await until('the regions update', () => total('regions', (r) => r.region === 'us-east') === 3 && total('regions', (r) => r.region === 'eu-west') === probes + 4)
  const q = app.pipeline.counts()
  assert.equal(q.duplicates, 1)
  assert.equal(q.invalid, 1)

  // what was pushed is what a query answers now (REST live, the same service)
  const res = await fetch(`${base}/v1/metrics/live?last=5m&group_by=event_type&region=eu-west`, { signal: AbortSignal.timeout(5000) })
  const live = (await res.json()) as { rows: Row[] }
  assert.deepEqual(live.rows.filter((r) => r.window_start === window).map((r) => [r.event_type, r.total_events]).sort(),
    [['click', 3], ['probe', probes], ['purchase', 1]])
})

describe('the coalescing stream on its own', () => {
  test('changes during a read and the interval are merged into one read; return() ends a waiting next()', async () => {
    const hub = new WindowChangeHub()
    const reads: number[][] = []
    const stream = new WindowUpdateStream<number[]>({
      changes: hub,
      intervalMs: 100,
      read: async (w) => { reads.push(w); return w }
    })
    hub.publish([3 * M, M])
    assert.deepEqual((await stream.next()).value, [M, 3 * M], 'the first change goes out at once, windows ascending')
    for (let i = 0; i < 50; i++) hub.publish([M * (i % 5)])
    const started = Date.now()
    assert.deepEqual((await stream.next()).value, [0, M, 2 * M, 3 * M, 4 * M], 'fifty changes, one read')
    assert.ok(Date.now() - started >= 90, 'not before the interval')
    assert.equal(reads.length, 2)
    const waiting = stream.next()
    await stream.return()
    assert.deepEqual(await waiting, { value: undefined, done: true })
    assert.equal(hub.size, 0)
  })

  test('a read that finds nothing to send sends nothing; a failed read is retried with its windows', async () => {
    const hub = new WindowChangeHub()
    let calls = 0
    const errors: unknown[] = []
    const stream = new WindowUpdateStream<number[]>({
      changes: hub,
      intervalMs: 10,
      onError: (err) => errors.push(err),
      read: async (w) => {
        calls++
        if (calls === 1) return null
        if (calls === 2) throw new Error('store down')
        return w
      }
    })
    hub.publish([M])
    const result = stream.next()
    await sleep(20)
    hub.publish([2 * M])
    assert.deepEqual((await result).value, [2 * M], 'after nothing to send, the next change; after a failure, its windows again')
    assert.equal(errors.length, 1)
    await stream.return()
  })
})
