// The composition root: builds every part from the configuration and wires them together.
// The only module (with src/main.ts and the command modules beside it) that knows every layer.
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import pino, { type Logger } from 'pino'
import { createObservability, type Observability } from './api/observability.js'
import { buildServer, type HourglassServer } from './api/server.js'
import { BronzeSink, Db, GoldReader, markPartitionFinished, readBronzeState, runBatch, type BatchSummary } from './batch/index.js'
import type { Config } from './config.js'
import { FileSource, type RawBatch, type RecordSource, SyntheticSource } from './ingest/index.js'
import { MergingMetricsService } from './merger/index.js'
import { HOUR_MS, MINUTE_MS } from './model/index.js'
import { replayBronze } from './replay.js'
import { seedHistory } from './seed.js'
import { MemorySpeedStore, SpeedPipeline } from './speed/index.js'

export interface AppOptions {
  /** the clock (tests move it); default Date.now */
  now?: () => number
  logger?: Logger
  /** print progress lines (seed, batch) to this function; default: the logger */
  progress?: (line: string) => void
  /** run the batch job and the bronze flush on timers (default true) */
  schedule?: boolean
}

export interface App {
  config: Config
  server: HourglassServer
  service: MergingMetricsService
  pipeline: SpeedPipeline
  store: MemorySpeedStore
  gold: GoldReader
  sink: BronzeSink
  observability: Observability
  source: RecordSource | null
  /** start consuming the source (resolves once started; see source.done for a finite source) */
  startSource (): Promise<void>
  /** flush bronze, build gold for complete hours and load it */
  runBatchNow (): Promise<BatchSummary>
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
    const store = new MemorySpeedStore({ retentionMs: config.retentionMs, now })
    cleanups.push(() => store.close())

    // The speed store is in memory: rebuild it from bronze for the retention, then go live.
    const rebuildFrom = now() - config.retentionMs
    const replayed = await replayBronze({ dataDir, db, store, config, from: rebuildFrom, to: now() + 5 * MINUTE_MS, now })
    await store.setCoveredFrom(rebuildFrom)
    if (replayed > 0) progress(`speed: rebuilt from bronze, ${replayed.toLocaleString('en-US')} events since ${new Date(rebuildFrom).toISOString()}`)

    const pipeline = new SpeedPipeline({
      store,
      dedupWindowMs: config.dedupWindowMs,
      allowedLatenessMs: config.allowedLatenessMs,
      deadLetterKeep: config.deadLetterKeep,
      onApplied: (ms) => observability.observeApply(ms / 1000)
    })
    const sink = new BronzeSink({ dataDir, db, flushMs: config.bronzeFlushMs })
    cleanups.push(() => sink.close())

    const service = new MergingMetricsService({
      gold,
      speed: store,
      quality: pipeline,
      allowedLatenessMs: config.allowedLatenessMs,
      now,
      limits: { maxBuckets: config.maxBuckets, maxRangeDays: config.maxRangeDays, maxFilterValues: config.maxFilterValues, retentionMs: config.retentionMs }
    })
    const server = buildServer({ service, observability, now, logger: config.logLevel === 'silent' ? false : { level: config.logLevel } })
    cleanups.push(() => server.close())

    const source = await makeSource(config, dataDir, now)
    const handle = async (batch: RawBatch): Promise<void> => {
      const result = await pipeline.process(batch, now())
      for (const { event, offset } of result.valid) sink.add(event, { topic: batch.topic, partition: batch.partition, offset }, now())
    }

    let batchRunning: Promise<BatchSummary> | null = null
    const runBatchNow = async (): Promise<BatchSummary> => {
      if (batchRunning !== null) return await batchRunning
      batchRunning = (async () => {
        await sink.flush()
        const summary = await runBatch({ dataDir, db, now: now(), allowedLatenessMs: config.allowedLatenessMs, onProgress: progress })
        if (summary.published) await gold.reload()
        return summary
      })()
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
      startSource: async () => {
        if (source === null) return
        await source.start(handle)
        if (source instanceof FileSource) {
          // a file read to its end is a finished source: flush it and let the bronze watermark pass it
          source.done.then(async () => {
            await sink.flush()
            await markPartitionFinished(dataDir, source.topic, 0)
          }).catch((err: unknown) => log.error({ err }, 'file source failed'))
        }
      },
      runBatchNow,
      close: async () => {
        if (closed) return
        closed = true
        for (const t of timers) clearInterval(t)
        clearTimeout(batchTimer)
        if (source !== null) await source.stop()
        if (batchRunning !== null) await batchRunning.catch(() => undefined)
        await sink.flush().catch((err: unknown) => log.error({ err }, 'final bronze flush failed'))
        for (const c of cleanups.reverse()) await c()
      }
    }
  } catch (err) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined)
    throw err
  }
}

/** The live source; it resumes after what bronze already holds from it. */
async function makeSource (config: Config, dataDir: string, now: () => number): Promise<RecordSource | null> {
  if (config.source === 'none') return null
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
