// The README's configuration table against the schema, both ways: every setting has a row with its
// variable and its default, and every variable the table names is a setting with that default.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { CONFIG_KEYS, type ConfigKey, defaultText, envName } from '../src/config.js'

interface Row { variable: string, default: string }

/** The rows of the table under `## Configuration`; a row may name several variables with a default each. */
function readmeRows (): Row[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? ''
  const rows: Row[] = []
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `HOURGLASS_')) continue
    const [names = '', defaults = ''] = line.split(' | ').map((c) => c.replace(/^\| /, '').trim())
    const variables = [...names.matchAll(/`(HOURGLASS_[A-Z0-9_]+)`/g)].map((m) => m[1] as string)
    const values = variables.length > 1 ? defaults.split(', ') : [defaults]
    assert.equal(values.length, variables.length, `one default per variable in: ${line}`)
    variables.forEach((variable, i) => rows.push({ variable, default: values[i] as string }))
  }
  return rows
}

test('every setting is in the README table with its variable and default', () => {
  const rows = new Map(readmeRows().map((r) => [r.variable, r.default]))
  for (const key of CONFIG_KEYS) {
    const variable = envName(key)
    assert.ok(rows.has(variable), `${key}: ${variable} is missing from the README's configuration table`)
    assert.equal(rows.get(variable), defaultText(key), `${variable}: the README's default differs from the schema's`)
  }
})

test('every variable in the README table is a setting, with the schema default', () => {
  const settings = new Map<string, ConfigKey>(CONFIG_KEYS.map((key) => [envName(key), key]))
  const rows = readmeRows()
  assert.ok(rows.length > 0, 'the table is found')
  const seen = new Set<string>()
  for (const row of rows) {
    const key = settings.get(row.variable)
    assert.ok(key !== undefined, `${row.variable} is in the README but is not a setting`)
    assert.ok(!seen.has(row.variable), `${row.variable} is in the README twice`)
    seen.add(row.variable)
    assert.equal(row.default, defaultText(key), `${row.variable}: the README says ${row.default}, the schema ${defaultText(key)}`)
  }
})
