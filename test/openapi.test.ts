// The checked-in OpenAPI document (openapi/openapi.json) is generated from the route schemas by
// `npm run openapi`. This test regenerates it in memory and fails when the copy has drifted from
// the routes, and checks what every operation must document.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { buildOpenApiDocument, OPENAPI_PATH } from '../scripts/write-openapi.js'
import { buildServer } from '../src/api/server.js'
import { StubMetricsService } from './helpers/stub-service.js'

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
    '/', '/healthz', '/readyz', '/v1/anomalies', '/v1/dead-letters', '/v1/dimensions', '/v1/entities', '/v1/metrics', '/v1/metrics/live', '/v1/quality', '/v1/reconciliation'
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

interface Parameter { in: string, name: string, example?: unknown, examples?: Record<string, { value: unknown }>, schema: Record<string, unknown> }

function queryParameters (doc: Record<string, unknown>): Array<{ where: string, p: Parameter }> {
  const out: Array<{ where: string, p: Parameter }> = []
  for (const [path, item] of Object.entries((doc as unknown as Doc).paths)) {
    for (const [method, op] of Object.entries(item)) {
      for (const p of (op.parameters ?? []) as Parameter[]) if (p.in === 'query') out.push({ where: `${method.toUpperCase()} ${path} ${p.name}`, p })
    }
  }
  return out
}

test('no fixed dates: "Try it out" examples are relative (served) or absent (checked in)', async () => {
  const text = JSON.stringify(await buildOpenApiDocument())
  assert.doesNotMatch(text, /\b(19|20)\d\d-\d\d-\d\d/, 'the document holds no calendar date')
})

test('every query parameter declares what a valid value looks like (format, pattern or enum), and every example matches it', async () => {
  const params = queryParameters(await buildOpenApiDocument())
  assert.ok(params.length >= 10)
  for (const { where, p } of params) {
    const s = p.schema as { format?: string, pattern?: string, enum?: string[], anyOf?: Array<{ format?: string, pattern?: string }> }
    const alternatives = s.anyOf ?? [s]
    assert.ok(alternatives.every((a) => a.format !== undefined || a.pattern !== undefined) || s.enum !== undefined, `${where}: format, pattern or enum`)
    const examples = [...(p.example === undefined ? [] : [p.example]), ...Object.values(p.examples ?? {}).map((e) => e.value)]
    for (const ex of examples) {
      if (s.enum !== undefined) assert.ok(s.enum.includes(String(ex)), `${where}: example ${String(ex)} in the enum`)
      if (s.pattern !== undefined) assert.match(String(ex), new RegExp(s.pattern), `${where}: example ${String(ex)}`)
    }
  }
  const from = params.find((x) => x.where === 'GET /v1/metrics from')?.p.schema as { anyOf: Array<{ format?: string, pattern?: string }> }
  assert.deepEqual(from.anyOf.map((a) => a.format ?? a.pattern), ['date-time', '^[0-9]{1,15}$'])
})

test('Swagger UI\'s document (/docs/json) fills `from` with an instant a day before now, which /v1/metrics answers with rows', async (t) => {
  const now = Date.parse('2031-05-06T07:08:09Z')
  const service = new StubMetricsService({ now: () => now })
  const app = buildServer({ service, now: () => now })
  t.after(() => app.close())
  const served = (await app.inject('/docs/json')).json<Record<string, unknown>>()
  const from = queryParameters(served).filter((x) => x.p.name === 'from')
  assert.ok(from.length > 0)
  for (const { where, p } of from) assert.equal(p.example, '2031-05-05T07:00:00Z', where)
  const res = await app.inject(`/v1/metrics?from=${String(from[0]?.p.example)}`)
  assert.equal(res.statusCode, 200, res.body)
  assert.ok(res.json<{ rows: unknown[] }>().rows.length > 0, 'Execute finds rows')
  // the checked-in document is not changed by serving
  assert.equal(JSON.stringify(await buildOpenApiDocument()).includes('2031-'), false)
})
