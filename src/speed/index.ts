// The speed layer: validate → dedup → one-minute windows + watermark → speed store.
export { Deduplicator, type DedupOptions } from './dedup.js'
export { parseOffset } from './offsets.js'
export { type InputBatch, type InputRecord, type ProcessResult, SpeedPipeline, type SpeedPipelineOptions, type ValidRecord } from './pipeline.js'
export { CosmosSpeedStore, type CosmosSpeedStoreOptions, type CosmosStoreStats } from './stores/cosmos.js'
export { MemorySpeedStore, type MemorySpeedStoreOptions } from './stores/memory.js'
export { RedisSpeedStore, type RedisSpeedStoreOptions } from './stores/redis.js'
export { MinuteWindows, type WindowsOptions } from './windows.js'
