// The store's database and container, created when missing.
import { type Container, type CosmosClient } from '@azure/cosmos'
import { type CosmosRequests, statusOf } from './requests.js'

/**
 * The container: partition key path /pk (the UTC hour of a window, see documents.ts), default TTL the
 * retention, and only what queries filter on indexed.
 */
export async function createContainer (
  client: CosmosClient, requests: CosmosRequests, databaseId: string, containerId: string, retentionMs: number
): Promise<Container> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { database } = await requests.request(() => client.databases.createIfNotExists({ id: databaseId }))
      const { container } = await requests.request(() => database.containers.createIfNotExists({
        id: containerId,
        partitionKey: { paths: ['/pk'] },
        defaultTtl: Math.ceil(retentionMs / 1000),
        indexingPolicy: {
          indexingMode: 'consistent',
          automatic: true,
          // only what queries filter on: bins, src and pending are written, never searched
          includedPaths: ['/pk/?', '/kind/?', '/window_start/?', '/event_type/?', '/region/?'].map((path) => ({ path })),
          excludedPaths: [{ path: '/*' }]
        }
      }))
      return container
    } catch (err) {
      // two stores creating the same database or container at once: one of them gets 409
      if (statusOf(err) !== 409 || attempt >= 3) throw err
    }
  }
}
