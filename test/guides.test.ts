// The guides and examples (docs/guides/, examples/) name only settings that exist: every HOURGLASS_* variable they
// mention is one the configuration schema knows, and every file they link to is in the repository.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { CONFIG_KEYS, envName } from '../src/config.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function filesUnder (dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const rel = join(dir, name)
    return statSync(join(root, rel)).isDirectory() ? filesUnder(rel) : [rel]
  })
}

const files = [...filesUnder('docs/guides'), ...filesUnder('examples')].filter((f) => !f.endsWith('.parquet'))

test('every HOURGLASS_* variable in the guides and examples is a setting', () => {
  const known = new Set(CONFIG_KEYS.map((k) => envName(k)))
  let seen = 0
  for (const f of files) {
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/\bHOURGLASS_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      seen++
      assert.ok(known.has(m[0]), `${f} names ${m[0]}, which is not a setting`)
    }
  }
  assert.ok(seen > 10, 'the guides name settings')
})

test('every relative link in the guides leads to a file of the repository', () => {
  let links = 0
  for (const f of files.filter((x) => x.endsWith('.md'))) {
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/\]\((?!https?:|#)([^)#]+)(?:#[^)]*)?\)/g)) {
      links++
      assert.ok(existsSync(resolve(root, dirname(f), m[1] as string)), `${f} links to ${m[1]}, which does not exist`)
    }
  }
  assert.ok(links > 0)
})
