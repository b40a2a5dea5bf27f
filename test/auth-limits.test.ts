// Rate limits per key (per IP when anonymous): 429 HG_ERR_RATE_LIMITED with Retry-After, in the
// catalogue body of the API answering (OData's under /odata); public routes are not counted.
// GraphQL subscriptions over a real WebSocket: credentials in connection_init, bad ones refused,
// a missing scope and the per-key cap refused with their codes, a slot freed when a client ends one.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { buildServer, type HourglassServer } from '../src/api/server.js'
import type { WindowChanges } from '../src/merger/types.js'
import { makeTestKeys, type TestKeys } from './helpers/auth.js'
import { StubMetricsService } from './helpers/stub-service.js'
import { until } from './helpers/wait.js'

describe('rate limits', () => {
  let keys: TestKeys
  let app: HourglassServer
  before(async () => {
    keys = await makeTestKeys()
    app = buildServer({ service: new StubMetricsService(), auth: { apiKeysFile: keys.file, rateLimitMax: 3, rateLimitWindowMs: 60_000 } })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await keys?.close()
  })

  test('the fourth request of a key in the window is 429 with Retry-After; another key is not affected', async () => {
    const get = (url: string, key: string) => app.inject({ url, headers: { 'x-api-key': key } })
    for (let i = 0; i < 3; i++) assert.equal((await get('/v1/dimensions', keys.all)).statusCode, 200)
    const limited = await get('/v1/dimensions', keys.all)
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.json<{ code: string }>().code, 'HG_ERR_RATE_LIMITED')
    assert.match(limited.json<{ message: string }>().message, /at most 3 per minute/)
    assert.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After in seconds')
    const odata = await get('/odata/', keys.all)
    assert.equal(odata.statusCode, 429)
    assert.equal(odata.json<{ error: { code: string } }>().error.code, 'HG_ERR_RATE_LIMITED')
    const graphql = await app.inject({ method: 'POST', url: '/graphql', headers: { 'x-api-key': keys.all }, payload: { query: '{ dimensions { regions } }' } })
    assert.equal(graphql.statusCode, 429)
    assert.equal(graphql.json<{ errors: Array<{ extensions: { code: string } }> }>().errors[0]?.extensions.code, 'HG_ERR_RATE_LIMITED')
    assert.equal((await get('/v1/dimensions', keys.metricsOnly)).statusCode, 200, 'a key of its own')
    assert.equal((await get('/healthz', keys.all)).statusCode, 200, 'probes are not limited')
  })

  test('anonymous clients are limited per IP', async () => {
    const open = buildServer({ service: new StubMetricsService(), auth: { rateLimitMax: 2 } })
    try {
      const from = (ip: string) => open.inject({ url: '/v1/dimensions', remoteAddress: ip })
      assert.equal((await from('10.0.0.1')).statusCode, 200)
      assert.equal((await from('10.0.0.1')).statusCode, 200)
      assert.equal((await from('10.0.0.1')).statusCode, 429)
      assert.equal((await from('10.0.0.2')).statusCode, 200)
      for (let i = 0; i < 5; i++) assert.equal((await open.inject({ url: '/readyz', remoteAddress: '10.0.0.1' })).statusCode, 200)
    } finally {
      await open.close()
    }
  })
})

interface Message { id?: string, type: string, payload?: unknown }

/** A graphql-transport-ws client that keeps what it receives and how the socket closed. */
class Client {
  readonly messages: Message[] = []
  closed: number | null = null
  readonly ws: WebSocket
  constructor (url: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, 'graphql-transport-ws', { headers })
    this.ws.on('message', (data) => { this.messages.push(JSON.parse(String(data)) as Message) })
    this.ws.on('close', (code) => { this.closed = code })
    this.ws.on('error', () => {})
  }

  async open (payload: unknown): Promise<void> {
    await new Promise<void>((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject) })
    this.ws.send(JSON.stringify({ type: 'connection_init', payload }))
  }

  subscribe (id: string): void {
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { windowUpdated { windows } }' } }))
  }

  async next (match: (m: Message) => boolean, ms = 10_000): Promise<Message> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.messages.find(match)
      if (found !== undefined) return found
      if (Date.now() > deadline) assert.fail(`no matching message within ${ms} ms; got ${JSON.stringify(this.messages)}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  async closedWithin (ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms
    while (this.closed === null) {
      if (Date.now() > deadline) assert.fail('the socket was not closed')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  close (): void { this.ws.close() }
}

const errorCode = (m: Message): string | undefined => (m.payload as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code

describe('GraphQL subscriptions: authentication and the per-key cap', () => {
  let keys: TestKeys
  let app: HourglassServer
  let url: string
  // the subscriptions held: each windowUpdated subscriber listens to the changes until it ends
  let active = 0
  const changes: WindowChanges = { subscribe: () => { active++; return () => { active-- } } }
  before(async () => {
    keys = await makeTestKeys()
    app = buildServer({ service: new StubMetricsService(), windowChanges: changes, auth: { apiKeysFile: keys.file, maxSubscriptionsPerKey: 2 } })
    url = (await app.listen({ port: 0, host: '127.0.0.1' })).replace(/^http/, 'ws') + '/graphql'
  })
  after(async () => {
    await app?.close()
    await keys?.close()
  })

  test('a key in connection_init is accepted; a bad one refuses the connection', async () => {
    const good = new Client(url)
    await good.open({ Authorization: `Bearer ${keys.all}` })
    await good.next((m) => m.type === 'connection_ack')
    good.close()
    const bad = new Client(url)
    await bad.open({ 'X-API-Key': keys.expired })
    await bad.closedWithin()
    assert.ok(!bad.messages.some((m) => m.type === 'connection_ack'), 'no ack for an expired key')
  })

  test('credentials on the upgrade: a bad key is 401 before any WebSocket', async () => {
    const bad = new Client(url, { 'x-api-key': 'hg_000000000000_' + 'B'.repeat(43) })
    const status = await new Promise<number>((resolve) => bad.ws.once('unexpected-response', (req, res) => {
      res.resume()
      req.destroy()
      resolve(res.statusCode ?? 0)
    }))
    assert.equal(status, 401)
    const good = new Client(`${url}?api_key=${encodeURIComponent(keys.metricsOnly)}`)
    await good.open({})
    await good.next((m) => m.type === 'connection_ack')
    good.subscribe('s1')
    await until('the subscription held', () => active > 0, 10_000)
    good.close()
    await until('the subscription ended', () => active === 0, 10_000)
  })

  test('subscribe without credentials or without metrics:read is refused with its code', async () => {
    const anonymous = new Client(url)
    await anonymous.open({})
    await anonymous.next((m) => m.type === 'connection_ack')
    anonymous.subscribe('a')
    assert.equal(errorCode(await anonymous.next((m) => m.id === 'a' && m.type === 'error')), 'HG_ERR_UNAUTHENTICATED')
    anonymous.close()
    const ops = new Client(url)
    await ops.open({ headers: { 'x-api-key': keys.opsOnly } })
    await ops.next((m) => m.type === 'connection_ack')
    ops.subscribe('b')
    assert.equal(errorCode(await ops.next((m) => m.id === 'b' && m.type === 'error')), 'HG_ERR_FORBIDDEN')
    ops.close()
  })

  test('a key holds at most maxSubscriptionsPerKey subscriptions, across connections; ending one frees a slot', async () => {
    const one = new Client(url)
    const two = new Client(url)
    await one.open({ api_key: keys.all })
    await two.open({ Authorization: `Bearer ${keys.all}` })
    await one.next((m) => m.type === 'connection_ack')
    await two.next((m) => m.type === 'connection_ack')
    const held = active
    one.subscribe('1')
    one.subscribe('2')
    await until('two subscriptions held', () => active === held + 2, 10_000)
    two.subscribe('3')
    assert.equal(errorCode(await two.next((m) => m.id === '3' && m.type === 'error')), 'HG_ERR_TOO_MANY_SUBSCRIPTIONS')
    assert.ok(!one.messages.some((m) => m.type === 'error'), JSON.stringify(one.messages))
    // a subscription the client completes frees its slot
    one.ws.send(JSON.stringify({ id: '1', type: 'complete' }))
    await until('one subscription ended', () => active === held + 1, 10_000)
    two.subscribe('4')
    await until('the freed slot taken', () => active === held + 2, 10_000)
    // a closed connection frees every slot it held
    one.close()
    await until('the closed connection\'s subscription ended', () => active === held + 1, 10_000)
    two.subscribe('5')
    await until('the slot of the closed connection taken', () => active === held + 2, 10_000)
    assert.equal(two.messages.filter((m) => m.type === 'error').length, 1, JSON.stringify(two.messages))
    two.close()
  })
})

test('GraphQL: the quality field needs ops:read besides metrics:read', async () => {
  const keys = await makeTestKeys()
  const app = buildServer({ service: new StubMetricsService(), auth: { apiKeysFile: keys.file } })
  try {
    const ask = (key: string, query: string) => app.inject({ method: 'POST', url: '/graphql', headers: { 'x-api-key': key }, payload: { query } })
    const refused = await ask(keys.metricsOnly, '{ dimensions { regions } q: quality { received } }')
    assert.equal(refused.statusCode, 403, refused.body)
    assert.equal(refused.json<{ errors: Array<{ extensions: { code: string } }> }>().errors[0]?.extensions.code, 'HG_ERR_FORBIDDEN')
    assert.equal((await ask(keys.metricsOnly, '{ dimensions { regions } }')).statusCode, 200)
    assert.equal((await ask(keys.all, '{ quality { received } }')).statusCode, 200)
  } finally {
    await app.close()
    await keys.close()
  }
})

test('an IP that keeps failing authentication is answered 429 before its credentials are checked', async () => {
  const keys = await makeTestKeys()
  const app = buildServer({ service: new StubMetricsService(), auth: { apiKeysFile: keys.file, rateLimitMax: 30 } })
  try {
    const get = (key: string, ip: string) => app.inject({ url: '/v1/dimensions', headers: { 'x-api-key': key }, remoteAddress: ip })
    for (let i = 0; i < 3; i++) assert.equal((await get(`wrong-${i}`, '10.0.0.9')).statusCode, 401)
    const refused = await get(keys.all, '10.0.0.9')
    assert.equal(refused.statusCode, 429, 'even a good key, from that IP, for the window')
    assert.equal(refused.json<{ code: string }>().code, 'HG_ERR_RATE_LIMITED')
    assert.match(refused.json<{ message: string }>().message, /at most 3 failed authentications per minute/)
    assert.ok(Number(refused.headers['retry-after']) > 0)
    assert.equal((await get(keys.all, '10.0.0.10')).statusCode, 200, 'another IP')
  } finally {
    await app.close()
    await keys.close()
  }
})
