// Waiting out a broker outage (retryWhileBrokersGone): tried again while the failure means "no
// broker answered", with a capped back-off, the outage reported when it begins and when it ends;
// any other failure is thrown at once; a stop ends the waiting. kafkajs's own error classes, no broker.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { brokerBackoffMs } from '../src/ingest/kafka/client.js'
import { type KafkaLog, retryWhileBrokersGone } from '../src/ingest/kafka/index.js'

const kafkaErrors = createRequire(import.meta.url)('kafkajs/src/errors') as Record<string, new (e: unknown, o?: { cause?: unknown }) => Error>
const refused = (): Error => {
  const cause = new kafkaErrors.KafkaJSConnectionError!('connect ECONNREFUSED 127.0.0.1:9092')
  return new kafkaErrors.KafkaJSNonRetriableError!(cause, { cause })
}

function recorder (): { log: KafkaLog, warnings: string[] } {
  const warnings: string[] = []
  return { log: { error: () => undefined, info: () => undefined, warn: (_o, msg) => { warnings.push(msg) } }, warnings }
}

test('the back-off doubles from 1 s and stays at 10 s, however long the outage', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50, 5000].map(brokerBackoffMs), [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000])
})

test('lost brokers: tried again until it succeeds; the outage is reported once when it begins and once when it ends', async () => {
  const { log, warnings } = recorder()
  const outages: (number | null)[] = []
  let tries = 0
  let cleanups = 0
  const before = Date.now()
  const ok = await retryWhileBrokersGone(async () => { if (++tries < 3) throw refused() }, {
    what: 'the test consumer', log, signal: new AbortController().signal, onOutage: (since) => outages.push(since), afterFailure: async () => { cleanups++ }
  })
  assert.equal(ok, true)
  assert.equal(tries, 3)
  assert.equal(cleanups, 2, 'cleaned up after each failed try')
  assert.equal(outages.length, 2)
  assert.ok(typeof outages[0] === 'number' && outages[0] >= before)
  assert.equal(outages[1], null)
  assert.deepEqual(warnings, ['the test consumer reaches no broker; trying again', 'the test consumer reaches no broker; trying again'])
  assert.ok(Date.now() - before >= brokerBackoffMs(0) + brokerBackoffMs(1) - 50, 'it backed off between the tries')
})

test('a failure kafkajs deems passing (NOT_LEADER_FOR_PARTITION during a leader election) is tried again, and is no outage', async () => {
  // seen at start on a loaded broker: the bronze consumer's ListOffsets met an election, and serve exited 1
  const { log, warnings } = recorder()
  const outages: (number | null)[] = []
  let tries = 0
  const notLeader = (): Error => new kafkaErrors.KafkaJSProtocolError!({ message: 'This server is not the leader for that topic-partition', type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true })
  const ok = await retryWhileBrokersGone(async () => { if (++tries < 2) throw notLeader() }, {
    what: 'the test consumer', log, signal: new AbortController().signal, onOutage: (since) => outages.push(since)
  })
  assert.equal(ok, true)
  assert.equal(tries, 2)
  assert.deepEqual(outages, [])
  assert.deepEqual(warnings, ['the test consumer failed to start for a passing reason; trying again'])
})

test('any other failure is thrown at once, not tried again', async () => {
  const { log } = recorder()
  let tries = 0
  await assert.rejects(retryWhileBrokersGone(async () => { tries++; throw new kafkaErrors.KafkaJSNonRetriableError!(new Error('Invalid topic')) }, {
    what: 'x', log, signal: new AbortController().signal
  }), /Invalid topic/)
  assert.equal(tries, 1)
})

test('a stop ends the waiting at once: no further try, resolves false', async () => {
  const { log } = recorder()
  const stop = new AbortController()
  let tries = 0
  const outages: (number | null)[] = []
  let abortedAt = 0
  // stopped once the outage is reported, i.e. during the first back-off (1 s)
  const waiting = retryWhileBrokersGone(async () => { tries++; throw refused() }, {
    what: 'x', log, signal: stop.signal, onOutage: (since) => { outages.push(since); setImmediate(() => { abortedAt = Date.now(); stop.abort() }) }
  })
  assert.equal(await waiting, false)
  assert.equal(tries, 1)
  assert.equal(outages.length, 1, 'the outage began; it did not end')
  assert.ok(abortedAt > 0 && Date.now() - abortedAt < brokerBackoffMs(0), 'the back-off was cut short by the stop')
})
