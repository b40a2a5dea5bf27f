// The error catalogue (src/model/errors.ts), checked the way fastify checks lib/errors.js: each key
// equals its code, each error has a 4xx/5xx status and a message; and README.md's errors table
// both ways: every code documented with its status, no code documented that does not exist.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERROR_STATUS, type ErrorCode, errors, isErrorCode, isHourglassError } from '../src/model/index.js'

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

const readme = (): string => {
  const file = new URL('../README.md', import.meta.url)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

test('each code is documented in README.md', () => {
  const text = readme()
  const missing = entries.map(([key]) => key).filter((key) => !text.includes(key))
  assert.deepEqual(missing, [], `codes missing from README.md: ${missing.join(', ')}`)
})

test('each HG_ERR_ code in README.md is in the catalogue, and its row there gives its one status', () => {
  const text = readme()
  const named = [...new Set(text.match(/HG_ERR_[A-Z_]+/g) ?? [])]
  const unknown = named.filter((code) => !isErrorCode(code))
  assert.deepEqual(unknown, [], `codes in README.md that the catalogue does not have: ${unknown.join(', ')}`)
  const rows = [...text.matchAll(/^\| `(HG_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])] as const)
  assert.deepEqual(rows.map(([code]) => code).sort(), entries.map(([key]) => key).sort(), 'the errors table has one row per code')
  for (const [code, status] of rows) assert.equal(status, ERROR_STATUS[code as ErrorCode], code)
})

test('each code has one status: ERROR_STATUS is the status every error of that code carries', () => {
  for (const [key, Err] of entries) assert.equal(new Err('a', 'b', 'c').statusCode, ERROR_STATUS[key as ErrorCode], key)
})
