// A real schema registry for a test file (scripts/services/registry.ts: Apicurio, Confluent-compatible API), started
// before its tests and closed after them, like Kafka in services.ts. Read its fields inside tests.
import { after, before } from 'node:test'
import { type RegistryOptions, type RegistryService, startRegistry } from '../../scripts/services/index.js'

export interface RegistryForFile { registry: RegistryService }

export function registryForFile (opts: RegistryOptions = {}): RegistryForFile {
  const s = {} as RegistryForFile
  // the first start builds the registry's jar with Maven (a minute or two)
  before(async () => { s.registry = await startRegistry({ log: false, ...opts }) }, { timeout: 600_000 })
  after(async () => { await s.registry?.close() })
  return s
}
