// The batch layer: DuckDB, bronze sink, batch job, gold Delta tables, gold reader.
export { Conn, Db, type DbOptions, sharedDb, type SqlParams } from './duckdb.js'
export { sqlBinOf, sqlDouble, sqlQuantileRank, SQL_LN_GAMMA } from './sql.js'
export { BronzeSink, type BronzeSinkOptions, type FlushedPartition, type FlushSummary, type SourcePosition } from './bronze-sink.js'
export { removeUnrecordedBronze, type RecoverySummary } from './bronze-recovery.js'
export { readBronzeEvents, type ReadBronzeOptions } from './bronze-reader.js'
export {
  bronzeWatermark, type BronzeState, compareOffsets, listBronzeHours, markPartitionFinished, type PartitionRef, readBronzeState, setPending,
  settlePending, topicSafe, bronzeFileName
} from './bronze-layout.js'
export { type BatchOptions, type BatchSummary, completeEnd, runBatch } from './batch-job.js'
export { type GoldFile, type GoldListing, type GoldListingSource, GoldReader, type GoldReaderOptions, GoldVersionError } from './gold-reader.js'
export { migrateManifestGold, type MigrateOptions, type MigrateSummary } from './delta/migrate.js'
export { type OwnGoldState, readOwnGold } from './delta/own-gold.js'
export { DeltaGoldSource, type DeltaGoldOptions } from './delta/gold-table.js'
export { compactGold, describeGoldCompaction, type GoldCompactOptions, type GoldCompactSummary } from './delta/compact-gold.js'
export { checkpointIfDue, type CheckpointWritten } from './delta/checkpoint.js'
export { type CompactOptions, type CompactSummary, compactBronze, describeCompaction } from './compaction.js'
export { describeVacuum, vacuum, type VacuumOptions, type VacuumSummary } from './vacuum.js'
export { acquireLock, batchLockPath, compactionLockPath, type HeldLock, type LockInfo, type LockOptions, type LockResult } from './lock.js'
export { bronzeFingerprint, parseBronzeName } from './bronze-coverage.js'
