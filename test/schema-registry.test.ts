// The project's schema registry (Apicurio through its Confluent-compatible API) and our client of it: a schema
// registered is fetched back by its id, an unknown id is told apart from an unreachable registry, and a BACKWARD rule
// refuses a version that could not read the data written before it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  RegistryUnavailableError, SchemaRegistryClient, SchemaRejectedError, UnknownSchemaError
} from '../src/ingest/kafka/schema-registry.js'
import { freePort } from '../scripts/services/index.js'
import { registryForFile } from './helpers/registry.js'

const s = registryForFile()

const v1 = JSON.stringify({ type: 'record', name: 'Thing', fields: [{ name: 'a', type: 'string' }] })
const v2 = JSON.stringify({ type: 'record', name: 'Thing', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int', default: 0 }] })
const noDefault = JSON.stringify({ type: 'record', name: 'Thing', fields: [{ name: 'a', type: 'string' }, { name: 'c', type: 'int' }] })

describe('schema registry', () => {
  it('registers a schema through the Confluent API and fetches it by id', async () => {
    const client = new SchemaRegistryClient({ url: s.registry.url })
    const id = await client.register('things-value', v1)
    assert.ok(Number.isInteger(id) && id > 0)
    assert.equal(await client.register('things-value', v1), id, 'the same schema again keeps its id')
    const fresh = new SchemaRegistryClient({ url: s.registry.url })
    assert.deepEqual(JSON.parse(await fresh.schemaById(id)), JSON.parse(v1))
    assert.equal(fresh.cached(id), await fresh.schemaById(id))
  })

  it('a BACKWARD subject takes a field added with a default and refuses one without', async () => {
    const client = new SchemaRegistryClient({ url: s.registry.url })
    const first = await client.register('compat-value', v1)
    await client.setCompatibility('compat-value', 'BACKWARD')
    await assert.rejects(client.register('compat-value', noDefault), (err: unknown) => err instanceof SchemaRejectedError && err.status === 409)
    const second = await client.register('compat-value', v2)
    assert.notEqual(second, first)
    assert.deepEqual(JSON.parse(await new SchemaRegistryClient({ url: s.registry.url }).schemaById(second)), JSON.parse(v2))
  })

  it('an unknown id is the record\'s fault; an unreachable registry is not', async () => {
    const client = new SchemaRegistryClient({ url: s.registry.url })
    await assert.rejects(client.schemaById(987654), (err: unknown) => err instanceof UnknownSchemaError && err.id === 987654)
    const nobody = new SchemaRegistryClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 })
    await assert.rejects(nobody.schemaById(1), RegistryUnavailableError)
  })
})
