// The speed store `--store` names (memory, Redis or Cosmos DB), or one the caller gives (which the
// caller then closes).
import type { SpeedStore } from '../model/index.js'
import { CosmosSpeedStore, MemorySpeedStore, RedisSpeedStore } from '../speed/index.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'

export interface SpeedStorePart extends Part {
  readonly store: SpeedStore
}

export async function openSpeedStore (ctx: AppContext, given?: SpeedStore): Promise<SpeedStorePart> {
  if (given !== undefined) return { name: 'speed store (the caller\'s)', store: given, close: () => undefined }
  const { config: c, now } = ctx
  const common = { retentionMs: c.retentionMs, dedupWindowMs: c.dedupWindowMs, now }
  const store: SpeedStore = c.store === 'redis'
    ? new RedisSpeedStore({ url: c.redisUrl, cluster: c.redisMode === 'cluster', commandTimeoutMs: c.redisTimeoutMs, keyPrefix: c.redisPrefix, ...common })
    : c.store === 'cosmos'
      ? await CosmosSpeedStore.open({ endpoint: c.cosmosEndpoint, key: c.cosmosKey, database: c.cosmosDatabase, container: c.cosmosContainer, ...common })
      : new MemorySpeedStore(common)
  return { name: `${store.kind} speed store`, store, close: () => store.close() }
}
