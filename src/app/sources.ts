// The speed layer's live source: the Kafka consumer group, the synthetic generator or a JSON Lines
// file (`none`: nothing live).
import { resolve } from 'node:path'
import { readBronzeState } from '../batch/index.js'
import { FileSource, type RawBatch, type RecordSource, sharesOf, SyntheticSource } from '../ingest/index.js'
import { KafkaSource } from '../ingest/kafka/index.js'
import { iso, type SpeedStore } from '../model/index.js'
import { type AppContext, kafkaLogLevel } from './context.js'
import type { SpeedShare } from './speed-share.js'

/**
 * Kafka: the consumer resumes at the store's positions; a store that holds none is rebuilt by
 * rewinding to now − retention, and marked covered once the consumer has caught up.
 */
/** The speed pipeline applies one partition's batch (a store round trip) while it validates another's. */
export const SPEED_PARTITIONS_AT_ONCE = 4

/** `fetchedAhead`: see KafkaSourceOptions.onFetchedAhead (the speed path decodes there when it has decode threads) */
export function kafkaSource (ctx: AppContext, store: SpeedStore, share: SpeedShare, fetchedAhead?: (batch: RawBatch) => void): KafkaSource {
  const { config, now, progress, log } = ctx
  return new KafkaSource({
    ...(fetchedAhead === undefined ? {} : { onFetchedAhead: fetchedAhead }),
    brokers: config.kafkaBrokers,
    topics: config.kafkaTopics,
    groupId: config.kafkaGroup,
    partitionsConsumedConcurrently: SPEED_PARTITIONS_AT_ONCE,
    positions: (topic, partition) => store.position(topic, partition),
    rebuildFrom: () => now() - config.retentionMs,
    onRebuild: (partitions, from) => {
      progress(`speed: the ${store.kind} store holds no positions; rebuilding from Kafka since ${iso(from)} (${partitions.length} partitions)`)
    },
    onCaughtUp: async (partitions, from) => {
      await store.setCoveredFrom(from)
      progress(`speed: rebuilt from Kafka since ${iso(from)}; caught up on ${partitions.length} partitions`)
    },
    onOutage: (since) => ctx.kafkaOutage(config.kafkaGroup, since),
    onAssigned: (assigned, total) => share.assigned(assigned, total),
    log: log.child({ component: 'kafka' }),
    logLevel: kafkaLogLevel(config.logLevel)
  })
}

/** The synthetic or file source (null for none); it resumes after what bronze already holds from it. */
export async function localSource (ctx: AppContext): Promise<RecordSource | null> {
  const { config, dataDir, now } = ctx
  if (config.source === 'none' || config.source === 'kafka') return null
  const state = await readBronzeState(dataDir)
  const next = (topic: string): bigint => {
    const p = state.partitions.find((s) => s.topic === topic && s.partition === 0)
    return p === undefined ? 0n : BigInt(p.last_offset) + 1n
  }
  if (config.source === 'synthetic') {
    return new SyntheticSource({
      rate: config.syntheticRate,
      seed: now() % 2_147_483_647,
      shares: sharesOf(config),
      startOffset: next('synthetic'),
      now
    })
  }
  const path = resolve(config.source.slice('file:'.length))
  return new FileSource(path, { startOffset: Number(next(new FileSource(path).topic)) })
}
