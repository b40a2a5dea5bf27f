// The composition root: builds every part from the configuration and wires them together.
// The only module (with src/main.ts and the command modules beside it) that knows every layer.
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import pino, { type Logger } from 'pino'
import { createObservability, type Observability } from '../api/observability.js'
import { buildServer, type HourglassServer } from '../api/server.js'
import { BronzeSink, type CompactSummary, Db, GoldReader, readBronzeState, runBatch, type BatchSummary, type VacuumSummary } from '../batch/index.js'
import type { Config } from '../config.js'
import { FileSource, type RawBatch, type RawRecord, type RecordSource, SyntheticSource } from '../ingest/index.js'
import { DeadLetterProducer, KafkaSource, type KafkaLogLevel } from '../ingest/kafka/index.js'
import { MergingMetricsService, reconcileGold, ReconciliationLog, SpeedLedger, WindowChangeHub, withWindowChanges } from '../merger/index.js'
import { type DeadLetter, HOUR_MS, iso, MINUTE_MS, type SpeedStore } from '../model/index.js'
import { BronzeFeed } from './bronze-feed.js'
import { replayBronze } from './replay.js'
import { seedHistory } from './seed.js'
import { Upkeep } from './upkeep.js'
import { CosmosSpeedStore, Deduplicator, MemorySpeedStore, RedisSpeedStore, SpeedPipeline } from '../speed/index.js'

export interface AppOptions {
  /** the clock (tests move it); default Date.now */
  now?: () => number
  logger?: Logger
  /** print progress lines (seed, batch) to this function; default: the logger */
  progress?: (line: string) => void
  /** run the batch job and the bronze flush on timers (default true) */
  schedule?: boolean
  /** a speed store to use instead of the configured one; the caller owns it (close() leaves it open) */
  store?: SpeedStore
}

export interface App {
  config: Config
  server: HourglassServer
  service: MergingMetricsService
  pipeline: SpeedPipeline
  store: SpeedStore
  gold: GoldReader
  sink: BronzeSink
  observability: Observability
  source: RecordSource | null
  /** the dead-letter topic's producer (Kafka source only) */
  deadLetters: DeadLetterProducer | null
  /** the bronze sink's own Kafka consumer (Kafka source only; other sources feed the sink through the speed handler) */
  bronze: BronzeFeed | null
  /** start consuming the source (resolves once started; see source.done for a finite source) */
  startSource (): Promise<void>
  /** flush bronze, build gold for complete hours and load it */
  runBatchNow (): Promise<BatchSummary>
  /** merge the small bronze files of finished hours (in turn with the batch job; also on a timer, compactIntervalMs) */
  compactNow (): Promise<CompactSummary>
  /** bronze past its retention and unlisted gold removed (in turn with the batch job; also on a timer, vacuumIntervalMs) */
  vacuumNow (): Promise<VacuumSummary>
  close (): Promise<void>
}

export async function buildApp (config: Config, opts: AppOptions = {}): Promise<App> {
  const now = opts.now ?? Date.now
  const log = opts.logger ?? pino({ level: config.logLevel })
  const progress = opts.progress ?? ((line: string) => log.info(line))
  const dataDir = resolve(config.dataDir)
  await mkdir(dataDir, { recursive: true })

  const db = await Db.open()
  const observability = createObservability()
  const cleanups: (() => Promise<void> | void)[] = [() => db.close()]
  try {
    if (config.source === 'synthetic' && config.seedDays > 0) {
      await seedHistory({ config, dataDir, db, now: now(), progress, onlyIfEmpty: true })
    }
    await runBatch({ dataDir, db, now: now(), allowedLatenessMs: config.allowedLatenessMs, onProgress: progress })

    const gold = await GoldReader.open({ dataDir, db, pollMs: 2000, onError: (err) => log.error({ err }, 'gold manifest could not be loaded') })
    cleanups.push(() => gold.close())
    const store: SpeedStore = opts.store ?? (config.store === 'redis'
      ? new RedisSpeedStore({ url: config.redisUrl, keyPrefix: config.redisPrefix, retentionMs: config.retentionMs, dedupWindowMs: config.dedupWindowMs, now })
      : config.store === 'cosmos'
        ? await CosmosSpeedStore.open({ endpoint: config.cosmosEndpoint, key: config.cosmosKey, database: config.cosmosDatabase, container: config.cosmosContainer, retentionMs: config.retentionMs, dedupWindowMs: config.dedupWindowMs, now })
        : new MemorySpeedStore({ retentionMs: config.retentionMs, dedupWindowMs: config.dedupWindowMs, now }))
    if (opts.store === undefined) cleanups.push(() => store.close())

    // An empty speed store is rebuilt for the retention before going live: from Kafka by the
    // consumer itself (it rewinds to now − retention and reports when it has caught up), otherwise
    // from bronze here. A Redis store that still holds its windows is used as it is.
    const kafka = config.source === 'kafka'
    // one deduplicator for the bronze replay below and the live pipeline: a duplicate of a replayed
    // event arriving live is dropped (the memory store keeps no dedup keys of its own)
    const dedup = new Deduplicator({ windowMs: config.dedupWindowMs })
    /** Replay bronze of the retention into the store through the live pipeline's deduplicator, and say so. */
    const rebuildFromBronze = async (through: Deduplicator, why: string): Promise<void> => {
      const from = now() - config.retentionMs
      const replayed = await replayBronze({ dataDir, db, store, config, from, to: now() + 5 * MINUTE_MS, now, dedup: through })
      await store.setCoveredFrom(from)
      if (replayed > 0 || why !== '') progress(`speed: ${why}rebuilt from bronze, ${replayed.toLocaleString('en-US')} events since ${iso(from)}`)
    }
    if (!kafka && (store.kind === 'memory' || (await store.coverage()).coveredFrom === null)) await rebuildFromBronze(dedup, '')

    // Kafka: invalid records go to the dead-letter topic with their original bytes and key, which
    // the handler below keeps for the batch in hand (the pipeline's DeadLetter has the text only).
    const deadLetters = kafka ? new DeadLetterProducer({ brokers: config.kafkaBrokers, topic: config.dlqTopic, log: log.child({ component: 'dlq' }), logLevel: kafkaLogLevel(config.logLevel) }) : null
    const inHand = new Map<string, Map<string, RawRecord> | RawBatch>()
    const original = (letter: DeadLetter): RawRecord | undefined => {
      const key = letter.source.topic + '\u0000' + letter.source.partition
      let held = inHand.get(key)
      if (held === undefined) return undefined
      if (!(held instanceof Map)) { held = new Map(held.records.map((r) => [r.offset, r])); inHand.set(key, held) }
      return held.get(letter.source.offset)
    }

    // GraphQL `windowUpdated` hears of every applied batch's minute windows through this hub
    const windowChanges = new WindowChangeHub()
    const pipeline = new SpeedPipeline({
      store: withWindowChanges(store, windowChanges),
      dedupWindowMs: config.dedupWindowMs,
      dedup,
      allowedLatenessMs: config.allowedLatenessMs,
      deadLetterKeep: config.deadLetterKeep,
      collectValid: !kafka, // with Kafka, bronze has its own consumer
      onApplied: (ms) => observability.observeApply(ms / 1000),
      ...(deadLetters === null ? {} : { onInvalid: (letter: DeadLetter) => deadLetters.send(letter, original(letter)) })
    })
    const sink = new BronzeSink({ dataDir, db, flushMs: config.bronzeFlushMs, maxBuffered: config.bronzeFlushEvents })
    cleanups.push(() => sink.close())
    // Kafka: bronze has a consumer group of its own, so a slow Parquet write never delays the speed layer
    const bronze = kafka
      ? new BronzeFeed({
        sink,
        dataDir,
        now,
        progress,
        source: {
          brokers: config.kafkaBrokers,
          topics: config.kafkaTopics,
          groupId: config.kafkaBronzeGroup,
          startFrom: () => now() - config.bronzeRetentionMs,
          log: log.child({ component: 'kafka-bronze' }),
          logLevel: kafkaLogLevel(config.logLevel)
        }
      })
      : null

    const service = new MergingMetricsService({
      gold,
      speed: store,
      quality: pipeline,
      allowedLatenessMs: config.allowedLatenessMs,
      now,
      limits: { maxBuckets: config.maxBuckets, maxRangeDays: config.maxRangeDays, maxFilterValues: config.maxFilterValues, retentionMs: config.retentionMs }
    })
    // Reconciliation (issue 5): speed against batch for each hour gold publishes while the speed layer
    // still holds it; the ledger keeps the store's closed minutes past its retention until then. It
    // runs at start, after each batch run that published, and every 15 s (for gold other processes
    // publish, and to read closed minutes before the store evicts them).
    const reconciliations = new ReconciliationLog()
    const ledger = new SpeedLedger({ store })
    let reconciling: Promise<void> = Promise.resolve()
    const reconcileNow = (): Promise<void> => {
      reconciling = reconciling.then(async () => {
        for (const o of await reconcileGold({ gold, ledger, log: reconciliations })) {
          if (o.comparable) {
            const r = o.reconciliation
            log.info({ hour: iso(r.hour), batchVersion: r.batch_version, speedEvents: r.speed_events, batchEvents: r.batch_events, eventsDiff: r.events_diff, revenueDiffCents: r.revenue_diff_cents }, 'reconciled speed against batch')
          } else log.debug({ hour: iso(o.notComparable.hour), reason: o.notComparable.reason }, 'hour not comparable for reconciliation')
        }
      }).catch((err: unknown) => { log.error({ err }, 'reconciliation failed') })
      return reconciling
    }
    await reconcileNow()

    const server = buildServer({ service, observability, now, windowChanges, reconciliations, logger: config.logLevel === 'silent' ? false : { level: config.logLevel } })
    cleanups.push(() => server.close())

    const source = kafka
      ? new KafkaSource({
        brokers: config.kafkaBrokers,
        topics: config.kafkaTopics,
        groupId: config.kafkaGroup,
        positions: (topic, partition) => store.position(topic, partition),
        rebuildFrom: () => now() - config.retentionMs,
        onRebuild: (partitions, from) => progress(`speed: the ${store.kind} store holds no positions; rebuilding from Kafka since ${iso(from)} (${partitions.length} partitions)`),
        onCaughtUp: async (partitions, from) => {
          await store.setCoveredFrom(from)
          progress(`speed: rebuilt from Kafka since ${iso(from)}; caught up on ${partitions.length} partitions`)
        },
        log: log.child({ component: 'kafka' }),
        logLevel: kafkaLogLevel(config.logLevel)
      })
      : await makeSource(config, dataDir, now)
    // The store lost its state while running (Redis restarted empty): the pipeline forgets what it
    // processed and the store is rebuilt for the retention, from Kafka by the consumer's rewind
    // (the batch in hand is not acknowledged and comes again), otherwise from bronze as at start.
    // Until the rebuild has caught up, the store's coverage is unknown: answers report the gap.
    const rebuildLostStore = async (): Promise<void> => {
      await pipeline.reset()
      if (source instanceof KafkaSource) {
        await source.rebuild()
        return
      }
      await sink.flush()
      await rebuildFromBronze(pipeline.deduplicator, `the ${store.kind} store lost its state; `)
    }
    const handle = async (batch: RawBatch): Promise<void> => {
      const key = batch.topic + '\u0000' + batch.partition
      if (deadLetters !== null) inHand.set(key, batch)
      let result
      try {
        result = await pipeline.process(batch, now())
        if (result.storeLost) {
          log.warn({ topic: batch.topic, partition: batch.partition, store: store.kind }, 'the speed store lost its state (no position where batches were applied); rebuilding it')
          await rebuildLostStore()
          if (source instanceof KafkaSource) return
          result = await pipeline.process(batch, now())
        }
      } finally {
        inHand.delete(key)
      }
      // Another writer moved the store's position twice under this batch: it is not counted, so it
      // must not be acknowledged either; the source hands it out again.
      if (!result.applied && result.handled > 0) throw new Error(`speed store position of ${batch.topic}/${batch.partition} moved under the batch; it will be retried`)
      if (bronze === null) for (const { event, offset } of result.valid) sink.add(event, { topic: batch.topic, partition: batch.partition, offset }, now())
    }

    // batch, compaction and vacuum take turns (upkeep.ts); compaction and vacuum have timers there
    const upkeep = new Upkeep({ dataDir, db, config, now, progress, onError: (what, err) => log.error({ err }, `${what} failed`) })
    let batchRunning: Promise<BatchSummary> | null = null
    const runBatchNow = async (): Promise<BatchSummary> => {
      if (batchRunning !== null) return await batchRunning
      batchRunning = upkeep.inTurn(async () => {
        await sink.flush()
        const summary = await runBatch({ dataDir, db, now: now(), allowedLatenessMs: config.allowedLatenessMs, onProgress: progress })
        if (summary.published) {
          await gold.reload()
          await reconcileNow()
        }
        return summary
      })
      try {
        return await batchRunning
      } finally {
        batchRunning = null
      }
    }

    const timers: NodeJS.Timeout[] = []
    let batchTimer: NodeJS.Timeout | undefined
    let closed = false
    if (opts.schedule !== false) {
      timers.push(setInterval(() => {
        sink.flushIfDue(now()).catch((err: unknown) => log.error({ err }, 'bronze flush failed'))
      }, Math.min(5000, config.bronzeFlushMs)).unref())
      timers.push(setInterval(() => { void reconcileNow() }, 15_000).unref())
      // The batch runs every batchInterval and also just after each hour becomes complete (hour
      // end + allowed lateness), so B lags the clock as little as the contract allows.
      const scheduleBatch = (): void => {
        if (closed) return
        const t = now()
        const nextHourDone = Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS + config.allowedLatenessMs + 5000
        const delay = Math.max(1000, Math.min(config.batchIntervalMs, nextHourDone - t))
        batchTimer = setTimeout(() => {
          runBatchNow().catch((err: unknown) => log.error({ err }, 'batch run failed')).finally(scheduleBatch)
        }, delay).unref()
      }
      scheduleBatch()
      upkeep.schedule()
    }

    return {
      config,
      server,
      service,
      pipeline,
      store,
      gold,
      sink,
      observability,
      source,
      deadLetters,
      bronze,
      startSource: async () => {
        if (source === null) return
        await deadLetters?.connect()
        await source.start(handle)
        // not awaited: joining its group may wait for a dead member's session to expire, and the
        // speed layer does not wait for bronze (a failure rejects bronze.done)
        bronze?.start().catch((err: unknown) => log.error({ err }, 'the bronze consumer could not start'))
        if (source instanceof FileSource) {
          // a file read to its end is a finished source: flush it and let the bronze watermark pass it
          // (the mark goes through the sink, in turn with its flushes' writes of the bronze state)
          source.done.then(async () => {
            await sink.markFinished(source.topic, 0)
          }).catch((err: unknown) => log.error({ err }, 'file source failed'))
        }
      },
      runBatchNow,
      compactNow: () => upkeep.compactNow(),
      vacuumNow: () => upkeep.vacuumNow(),
      close: async () => {
        if (closed) return
        closed = true
        for (const t of timers) clearInterval(t)
        clearTimeout(batchTimer)
        if (source !== null) await source.stop()
        await bronze?.stop().catch((err: unknown) => log.error({ err }, 'bronze consumer did not stop cleanly'))
        await deadLetters?.close()
        if (batchRunning !== null) await batchRunning.catch(() => undefined)
        await upkeep.stop()
        await reconciling
        await sink.flush().catch((err: unknown) => log.error({ err }, 'final bronze flush failed'))
        for (const c of cleanups.reverse()) await c()
      }
    }
  } catch (err) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined)
    throw err
  }
}

/** What kafkajs logs: errors only, unless the app's own level asks for detail. */
function kafkaLogLevel (level: Config['logLevel']): KafkaLogLevel {
  return level === 'silent' || level === 'fatal' ? 'nothing' : level === 'debug' || level === 'trace' ? 'info' : 'error'
}

/** The live source (not Kafka); it resumes after what bronze already holds from it. */
async function makeSource (config: Config, dataDir: string, now: () => number): Promise<RecordSource | null> {
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
      shares: { duplicate: config.duplicateShare, late: config.lateShare, invalid: config.invalidShare },
      startOffset: next('synthetic'),
      now
    })
  }
  const path = resolve(config.source.slice('file:'.length))
  return new FileSource(path, { startOffset: Number(next(new FileSource(path).topic)) })
}
