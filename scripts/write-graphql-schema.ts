// Writes openapi/schema.graphql, the GraphQL contract beside the OpenAPI document:
// `node --import tsx scripts/write-graphql-schema.ts`. It is the schema the server serves, read
// back through introspection at /graphql (descriptions included), so it cannot differ from what
// clients see. test/graphql-schema.test.ts regenerates it in memory and fails when the copy drifts.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery, printSchema } from 'graphql'
import { buildServer } from '../src/api/server.js'
import { standIn } from './write-openapi.js'

export const GRAPHQL_SCHEMA_PATH = fileURLToPath(new URL('../openapi/schema.graphql', import.meta.url))

/** The served schema as SDL, the way GraphiQL and client generators see it. */
export async function buildGraphqlSchemaText (): Promise<string> {
  const app = buildServer({ service: standIn, version: '0.0.0' })
  try {
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query: getIntrospectionQuery({ descriptions: true }) } })
    const body = res.json<{ data?: IntrospectionQuery, errors?: unknown[] }>()
    if (res.statusCode !== 200 || body.data === undefined) throw new Error(`introspection failed (${res.statusCode}): ${res.body}`)
    return printSchema(buildClientSchema(body.data)) + '\n'
  } finally {
    await app.close()
  }
}

async function main (): Promise<void> {
  const text = await buildGraphqlSchemaText()
  mkdirSync(dirname(GRAPHQL_SCHEMA_PATH), { recursive: true })
  writeFileSync(GRAPHQL_SCHEMA_PATH, text)
  console.log(`wrote ${GRAPHQL_SCHEMA_PATH}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
