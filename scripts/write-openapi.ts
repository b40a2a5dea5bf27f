// Writes openapi/openapi.json from the route schemas (`npm run openapi`). The document depends only
// on the routes, so the server is built around a stand-in service that is never called.
// test/openapi.test.ts regenerates the document in memory and fails when the checked-in copy drifts.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildServer, readPackageVersion } from '../src/api/server.js'
import type { MetricsService } from '../src/merger/types.js'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))

function notUsed (): never {
  throw new Error('the stand-in service is never called: the API documents depend only on the routes')
}

/** A MetricsService that is never called, for building the server to read its contracts (OpenAPI, GraphQL SDL). */
export const standIn: MetricsService = {
  limits: { maxBuckets: 1, maxRangeDays: 1, maxFilterValues: 1, retentionMs: 1 },
  query: notUsed,
  live: notUsed,
  entities: notUsed,
  dimensions: notUsed,
  quality: notUsed,
  deadLetters: notUsed,
  readiness: notUsed,
  status: notUsed
}

function sortKeys<T> (record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** The OpenAPI document as plain JSON, with paths and component schemas in name order. */
export async function buildOpenApiDocument (): Promise<Record<string, unknown>> {
  const app = buildServer({ service: standIn, version: readPackageVersion() })
  try {
    await app.ready()
    const doc = JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown> & {
      paths?: Record<string, unknown>
      components?: { schemas?: Record<string, unknown> }
    }
    if (doc.paths !== undefined) doc.paths = sortKeys(doc.paths)
    if (doc.components?.schemas !== undefined) doc.components.schemas = sortKeys(doc.components.schemas)
    return doc
  } finally {
    await app.close()
  }
}

export function formatDocument (doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n'
}

async function main (): Promise<void> {
  const doc = await buildOpenApiDocument()
  mkdirSync(dirname(OPENAPI_PATH), { recursive: true })
  writeFileSync(OPENAPI_PATH, formatDocument(doc))
  console.log(`wrote ${OPENAPI_PATH}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
