// The checked-in OpenAPI document (openapi/openapi.json) is generated from the route schemas by
// `npm run openapi`. This test regenerates it in memory and fails when the copy has drifted from
// the routes, and checks what every operation must document.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { buildOpenApiDocument, OPENAPI_PATH } from '../scripts/write-openapi.js'

interface Operation {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  parameters?: Array<{ in: string, name: string }>
  responses: Record<string, { description: string, content?: Record<string, { schema: unknown }> }>
}
type Doc = { openapi: string, info: { title: string, version: string }, paths: Record<string, Record<string, Operation>> }

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

test('openapi/openapi.json matches the routes (run `npm run openapi` after changing a route schema)', async () => {
  const fresh = await buildOpenApiDocument()
  const checkedIn = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as unknown
  assert.deepEqual(checkedIn, fresh)
})

test('document: OpenAPI 3, title Hourglass, the package version, the public routes only', async () => {
  const doc = await buildOpenApiDocument() as unknown as Doc
  assert.match(doc.openapi, /^3\./)
  assert.equal(doc.info.title, 'Hourglass')
  assert.equal(doc.info.version, pkg.version)
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/', '/healthz', '/readyz', '/v1/dead-letters', '/v1/dimensions', '/v1/metrics', '/v1/metrics/live', '/v1/quality', '/v1/reconciliation'
  ])
})

test('every operation has an operationId, a summary, a tag, and documents its error responses', async () => {
  const doc = await buildOpenApiDocument() as unknown as Doc
  const ids = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`
      assert.ok(op.operationId !== undefined && op.operationId.length > 0, `${where}: operationId`)
      assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`)
      ids.add(op.operationId)
      assert.ok((op.summary ?? '').length > 0, `${where}: summary`)
      assert.ok((op.description ?? '').length > 0, `${where}: description`)
      assert.ok((op.tags ?? []).length > 0, `${where}: tags`)
      const statuses = Object.keys(op.responses)
      assert.ok(statuses.includes('200'), `${where}: 200`)
      // every route may answer 414 (URL too long) and 500; every route but /healthz checks its parameters (400)
      const expected = ['414', '500', ...(path === '/healthz' ? [] : ['400'])]
      for (const s of expected) assert.ok(statuses.includes(s), `${where}: documents ${s}`)
      for (const s of statuses.filter((x) => /^[45]/.test(x))) {
        const schema = op.responses[s]?.content?.['application/json']?.schema
        assert.deepEqual(schema, { $ref: '#/components/schemas/ErrorBody' }, `${where} ${s}: the error body`)
        assert.ok((op.responses[s]?.description ?? '').length > 0)
      }
    }
  }
  assert.ok(Object.keys(doc.paths['/readyz']?.get?.responses ?? {}).includes('503'), 'GET /readyz documents 503')
})
