// A Cosmos DB API server (npm @vercel/cosmosdb-server) on a loopback port, the stand-in for Azure
// Cosmos DB in tests and benchmarks (Azure itself cannot be reached from here). It runs as a child
// process of its own (cosmos-child.mjs beside this file, which also says what it fixes in the
// server): it survives the consumer processes that crash tests kill, and it gets a core of its
// own (it answers every query by scanning the whole container, which takes CPU).
//
// It serves https with the certificate bundled in the package: self-signed, issued for
// "cosmosdb" and expired since 2021, so no client can verify it, not even one told to trust that
// certificate (NODE_EXTRA_CA_CERTS). Clients in this process get `clientOptions`, whose agent
// skips verification for this server only; child processes get `env()`, which sets
// NODE_TLS_REJECT_UNAUTHORIZED=0 for that child only (the app builds its own Cosmos DB client, and
// its only TLS peer in a test is this loopback server). Nothing in the product turns it off.
import { spawn } from 'node:child_process'
import https from 'node:https'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { CosmosClientOptions } from '@azure/cosmos'
import { withParentDeath } from './process.js'

export interface CosmosServer {
  /** https://127.0.0.1:PORT/ */
  readonly endpoint: string
  /** any key works: the server checks no signature */
  readonly key: string
  /** for clients in this process: an agent that accepts this server's certificate */
  readonly clientOptions: Partial<CosmosClientOptions>
  /** for a child `hourglass serve --store cosmos`: the HOURGLASS_COSMOS_* variables and the certificate override */
  env (database: string, container: string): Record<string, string>
  close (): Promise<void>
}

const running = new Set<() => void>()
process.on('exit', () => { for (const kill of running) kill() })

export async function startCosmosServer (): Promise<CosmosServer> {
  const program = fileURLToPath(new URL('./cosmos-child.mjs', import.meta.url))
  const child = spawn(...withParentDeath(process.execPath, [program]), { stdio: ['ignore', 'pipe', 'inherit'] })
  const kill = (): void => { child.kill('SIGKILL') }
  running.add(kill)
  const exited = new Promise<void>((resolve) => child.once('close', () => { running.delete(kill); resolve() }))
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    void exited.then(() => reject(new Error('cosmosdb-server exited before it listened')))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^port (\d+)$/.exec(line)
      if (m !== null) resolve(Number(m[1]))
    })
  })
  const endpoint = `https://127.0.0.1:${port}/`
  const key = 'test-key'
  const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true, maxSockets: 64 })
  return {
    endpoint,
    key,
    clientOptions: { agent, connectionPolicy: { enableEndpointDiscovery: false } },
    env: (database, container) => ({
      HOURGLASS_COSMOS_ENDPOINT: endpoint,
      HOURGLASS_COSMOS_KEY: key,
      HOURGLASS_COSMOS_DATABASE: database,
      HOURGLASS_COSMOS_CONTAINER: container,
      NODE_TLS_REJECT_UNAUTHORIZED: '0'
    }),
    async close () {
      agent.destroy()
      child.kill('SIGTERM')
      await exited
    }
  }
}
