// The error catalogue (src/model/errors.ts), checked the way fastify checks lib/errors.js: each key
// equals its code, each error has a 4xx/5xx status and a message, and each code is documented.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { errors, isHourglassError } from '../src/model/index.js'

const entries = Object.entries(errors)

test('each key equals its code, with the HG_ERR_ prefix', () => {
  assert.ok(entries.length > 0)
  for (const [key, Err] of entries) {
    const e = new Err('a', 'b', 'c')
    assert.equal(e.code, key)
    assert.match(key, /^HG_ERR_[A-Z_]+$/)
    assert.ok(isHourglassError(e), key)
  }
})

test('each error has a 4xx or 5xx status and a message', () => {
  for (const [key, Err] of entries) {
    const e = new Err('a', 'b', 'c')
    assert.equal(typeof e.statusCode, 'number', key)
    assert.ok(e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode <= 599, `${key}: ${e.statusCode}`)
    assert.ok(e.message.length > 0, key)
  }
})

test('each code is documented in README.md', () => {
  const readme = new URL('../README.md', import.meta.url)
  const text = existsSync(readme) ? readFileSync(readme, 'utf8') : ''
  const missing = entries.map(([key]) => key).filter((key) => !text.includes(key))
  assert.deepEqual(missing, [], `codes missing from README.md: ${missing.join(', ')}`)
})
