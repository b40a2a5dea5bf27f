import assert from 'node:assert/strict'
import { test } from 'node:test'
import { partitionKey } from '../src/model/index.js'

test('partitionKey: topic, NUL, partition, the format stored in the Redis position hash and hashed into Cosmos position ids', () => {
  assert.equal(partitionKey('events', 3), 'events\u00003')
  assert.notEqual(partitionKey('a1', 2), partitionKey('a', 12))
})
