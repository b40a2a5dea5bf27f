// /odata/$metadata validates against the OASIS CSDL XML schemas with
// xmllint. The schemas (edmx.xsd importing edm.xsd) come from the npm package odata-csdl, which the
// OASIS OData TC publishes from oasis-tcs/odata-csdl-schemas; scripts/fetch-csdl-xsd.ts fetches
// them into .cache/ and installs xmllint (Debian libxml2-utils) when it is missing. Nothing is
// skipped when either is missing: the script gets them, or the test fails saying why.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildServer } from '../src/api/server.js'
import { fetchCsdlXsd } from '../scripts/fetch-csdl-xsd.js'
import { StubMetricsService } from './helpers/stub-service.js'

function xmllint (bin: string, schema: string, file: string): { status: number | null, output: string } {
  const r = spawnSync(bin, ['--noout', '--nonet', '--schema', schema, file], { encoding: 'utf8' })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

test('the served CSDL validates against the OASIS edmx.xsd / edm.xsd', async (t) => {
  const { edmx, xmllint: bin } = await fetchCsdlXsd()
  const app = buildServer({ service: new StubMetricsService() })
  const dir = await mkdtemp(join(tmpdir(), 'hourglass-csdl-'))
  t.after(async () => { await app.close(); await rm(dir, { recursive: true, force: true }) })

  const res = await app.inject('/odata/$metadata')
  assert.equal(res.statusCode, 200)
  const file = join(dir, 'metadata.xml')
  await writeFile(file, res.body)
  const ok = xmllint(bin, edmx, file)
  assert.equal(ok.status, 0, ok.output)
  assert.match(ok.output, /validates/)

  // and the check has teeth: a CSDL with a misspelt element fails
  const bad = join(dir, 'bad.xml')
  await writeFile(bad, res.body.replace('<Key>', '<Keys>').replace('</Key>', '</Keys>'))
  const fails = xmllint(bin, edmx, bad)
  assert.notEqual(fails.status, 0)
  assert.match(fails.output, /Keys.*not expected/)
})
