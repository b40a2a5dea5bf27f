// The speed store `--store` names (memory, Redis or Cosmos DB), or one the caller gives (which the
// caller then closes). A store opened here is watched (store-watch.ts): while it does not answer,
// readiness names it and answers report the speed range as a gap instead of failing or waiting.
import type { SpeedStore } from '../model/index.js'
import { CosmosSpeedStore, MemorySpeedStore, RedisSpeedStore } from '../speed/index.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'
import { StoreWatch } from './store-watch.js'

export interface SpeedStorePart extends Part {
  /** the store for the speed path and reconciliation: its errors pass */
  readonly store: SpeedStore
  /** the same store for the answers: while it does not answer, it holds nothing (a gap), at once */
  readonly served: SpeedStore
}

/** Where a store's outage goes: a readiness problem about `about` while it lasts (StartingService.problem). */
export type ProblemSink = (about: string, text: string | null, since?: number) => void

export async function openSpeedStore (ctx: AppContext, given?: SpeedStore, problem?: ProblemSink): Promise<SpeedStorePart> {
  if (given !== undefined) return { name: 'speed store (the caller\'s)', store: given, served: given, close: () => undefined }
  const { config: c, now, log } = ctx
  const common = { retentionMs: c.retentionMs, dedupWindowMs: c.dedupWindowMs, now }
  const store: SpeedStore = c.store === 'redis'
    ? new RedisSpeedStore({ url: c.redisUrl, cluster: c.redisMode === 'cluster', commandTimeoutMs: c.redisTimeoutMs, keyPrefix: c.redisPrefix, ...common })
    : c.store === 'cosmos'
      ? await CosmosSpeedStore.open({ endpoint: c.cosmosEndpoint, key: c.cosmosKey, database: c.cosmosDatabase, container: c.cosmosContainer, ...common })
      : new MemorySpeedStore(common)
  const watch = new StoreWatch(store, {
    now,
    // commands time out by themselves; this bounds those a Redis Cluster client queues while it reaches no node
    ...(c.store === 'redis' ? { deadlineMs: 2 * c.redisTimeoutMs } : {}),
    onOutage: (since, err) => {
      if (since === null) log.info({ store: store.kind }, 'the speed store answers again')
      else log.warn({ store: store.kind, err }, 'the speed store does not answer')
      problem?.('speed store', since === null ? null : `the ${store.kind} speed store does not answer (${err?.message ?? 'unknown'})`, since ?? undefined)
    }
  })
  return { name: `${store.kind} speed store`, store: watch.store, served: watch.served, close: () => store.close() }
}
