// Which consumer crashes mean "no broker answered" (the consumer is restarted) and which are fatal.
// A broker restart that outlasts kafkajs's retries ends in KafkaJSNonRetriableError caused by
// KafkaJSGroupCoordinatorNotFound: a serve process under load exited on it instead of restarting.
// kafkajs's own error classes, no broker needed.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { brokersGone } from '../src/ingest/kafka/index.js'

const kafkaErrors = createRequire(import.meta.url)('kafkajs/src/errors') as Record<string, new (e: unknown, o?: { cause?: unknown }) => Error>

test('a crash caused, at any depth, by a lost coordinator or connection means the brokers are gone', () => {
  const lost = new kafkaErrors.KafkaJSGroupCoordinatorNotFound!('Failed to find group coordinator')
  assert.equal(brokersGone(lost), true)
  assert.equal(brokersGone(new kafkaErrors.KafkaJSNonRetriableError!(lost, { cause: lost })), true)
  const refused = new kafkaErrors.KafkaJSConnectionError!('connect ECONNREFUSED')
  const exhausted = new kafkaErrors.KafkaJSNumberOfRetriesExceeded!(refused, { cause: refused })
  assert.equal(brokersGone(exhausted), true)
})

test('any other crash is fatal', () => {
  const bad = new kafkaErrors.KafkaJSNonRetriableError!(new Error('Invalid topic'))
  assert.equal(brokersGone(bad), false)
  assert.equal(brokersGone(new Error('handler bug')), false)
  assert.equal(brokersGone('not an error'), false)
})
