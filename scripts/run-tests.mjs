#!/usr/bin/env node
// The README's test command: runs every test file under test/ with node:test (TypeScript through
// tsx). Later suites that need Kafka, Redis or Cosmos DB start them through scripts/services/;
// no suite is skipped because a service is missing.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function find (dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...find(p))
    else if (name.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const only = process.argv.slice(2)
const files = only.length > 0 ? only : find('test')
if (files.length === 0) {
  console.error('no test files found under test/')
  process.exit(1)
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files]
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } })
process.exit(r.status ?? 1)
