// The composition root: builds the app's parts from the configuration in order, each from a module
// beside this one, and closes them in reverse order (lifecycle.ts). The only module (with
// src/main.ts) that knows every layer. The HTTP server is built first and, for `serve`, listens at
// once (startup.ts: /readyz says what start-up is doing, data routes answer 503 until it is done);
// it still closes where it always did: after the inputs, before what its answers read.
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import pino, { type Logger } from 'pino'
import { createObservability, type Observability } from '../api/observability.js'
import { buildServer, type HourglassServer } from '../api/server.js'
import { type BatchSummary, type BronzeSink, type CompactSummary, Db, type GoldReader, type VacuumSummary } from '../batch/index.js'
import type { Config } from '../config.js'
import type { RecordSource } from '../ingest/index.js'
import type { DeadLetterProducer } from '../ingest/kafka/index.js'
import { AnomalyLog, MergingMetricsService, ReconciliationLog, WindowChangeHub } from '../merger/index.js'
import type { SpeedStore } from '../model/index.js'
import type { SpeedPipeline } from '../speed/index.js'
import { openAnomalies } from './anomalies.js'
import { type BronzeFeedView, openBronzeFeed, openBronzeSink } from './bronze.js'
import { BronzeShare } from './bronze-share.js'
import type { AppContext } from './context.js'
import { openHistory } from './history.js'
import { Leadership } from './leader.js'
import { closedTogether, Lifecycle, type Part } from './lifecycle.js'
import { openReconciliation } from './reconciliation.js'
import { openSpeedPath } from './speed-path.js'
import { SpeedShare } from './speed-share.js'
import { openSpeedStore } from './speed-store.js'
import { limitsOf, reportKafkaOutages, StartingService } from './startup.js'
import { edgeOptions, listen, readTls } from './transport.js'
import { Upkeep } from './upkeep.js'

export interface AppOptions {
  /** the clock (tests move it); default Date.now */
  now?: () => number
  logger?: Logger
  /** print progress lines (seed, batch) to this function; default: the logger */
  progress?: (line: string) => void
  /** run the batch job, compaction, vacuum, reconciliation and the bronze flush on timers (default true) */
  schedule?: boolean
  /** a speed store to use instead of the configured one; the caller owns it (close() leaves it open) */
  store?: SpeedStore
  /** listen on config.host:config.port before building the data layers, then call this with the address (`serve`) */
  onListening?: (address: string) => void
  /** a stop asked for during start-up: building ends at the next stage, closes what it opened and rejects */
  signal?: AbortSignal
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
  /** the anomalies detected on closed minute windows */
  anomalies: AnomalyLog
  /** judge the minute windows closed since the last time now (also on a timer, anomalyIntervalMs) */
  detectAnomaliesNow (): Promise<void>
  source: RecordSource | null
  /** the dead-letter topic's producer (Kafka source only) */
  deadLetters: DeadLetterProducer | null
  /** the bronze sink's own Kafka consumer (Kafka source only, and only once this process leads its data folder) */
  bronze: BronzeFeedView | null
  /** this process leads its data folder: it runs the bronze feed, batch job, compaction and vacuum (leader.ts) */
  readonly leading: boolean
  /** start consuming the source (resolves once started; see source.done for a finite source) */
  startSource (): Promise<void>
  /** flush bronze, build gold for complete hours and load it */
  runBatchNow (): Promise<BatchSummary>
  /** merge the small bronze files of finished hours (in turn with the batch job; also on a timer, compactIntervalMs) */
  compactNow (): Promise<CompactSummary>
  /** bronze past its retention and unlisted gold removed (in turn with the batch job; also on a timer, vacuumIntervalMs) */
  vacuumNow (): Promise<VacuumSummary>
  /** close every part, the last built first; a second call waits for the first */
  close (): Promise<void>
}

export async function buildApp (config: Config, opts: AppOptions = {}): Promise<App> {
  const log = opts.logger ?? pino({ level: config.logLevel })
  const now = opts.now ?? Date.now
  const observability = createObservability()
  const starting = new StartingService(limitsOf(config), opts.signal)
  const windowChanges = new WindowChangeHub()
  const reconciliations = new ReconciliationLog()
  const anomalies = new AnomalyLog(config.anomalyKeep, (err) => { log.error({ err }, 'an anomaly listener failed') })
  const tls = await readTls(config)
  const server = buildServer({
    service: starting,
    observability,
    now,
    windowChanges,
    reconciliations: starting.reconciliations(reconciliations),
    anomalies: starting.anomalies(anomalies),
    ...edgeOptions(config, now, tls),
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel }
  })
  const http: Part = { name: 'HTTP server', close: () => server.close() }
  let httpAdded = false
  if (opts.onListening !== undefined) {
    opts.onListening(await listen(server, config).catch(async (err: unknown) => { await server.close(); throw err }))
  }
  const life = new Lifecycle({ log, closeTimeoutMs: config.closeTimeoutMs })
  try {
    starting.enter('opening DuckDB and the data folder')
    const dataDir = resolve(config.dataDir)
    await mkdir(dataDir, { recursive: true })
    const db = await Db.open()
    life.add({ name: 'DuckDB', close: () => db.close() })
    const kafkaOutage = reportKafkaOutages(starting, observability)
    const progress = opts.progress ?? ((line: string) => log.info(line))
    const ctx: AppContext = {
      config, dataDir, db, log, now, progress, stage: (what) => starting.enter(what), kafkaOutage,
      problem: (about, text, since) => starting.problem(about, text, since)
    }
    const leadership = life.add(await Leadership.open(ctx))
    const { gold } = life.add(await openHistory(ctx, leadership.leading))
    const bronze = life.add(openBronzeSink(ctx, () => leadership.leading))
    starting.enter('opening the speed store')
    const { store, served } = life.add(await openSpeedStore(ctx, opts.store, (about, text, since) => starting.problem(about, text, since)))
    // the inputs hold nothing open until startSource(); they are registered last so they close first
    const share = new SpeedShare(ctx, store)
    // with Kafka, the bronze feed takes the records the speed path has validated instead of parsing them again
    const bronzeShare = config.source === 'kafka' ? new BronzeShare({ waitMs: config.bronzeShareWaitMs, now }) : undefined
    const speed = await openSpeedPath(ctx, { store, sink: bronze.sink, observability, windowChanges, share, bronzeShare })
    const feed = config.source === 'kafka' ? openBronzeFeed(ctx, bronze.sink, leadership, bronzeShare) : null
    const { allowedLatenessMs, batchCacheBytes: cacheBytes } = config
    const service = new MergingMetricsService({
      gold, speed: served, quality: speed.pipeline, allowedLatenessMs, now, limits: starting.limits, cacheBytes, speedPartial: () => share.partial
    })
    starting.enter('reconciling speed against batch')
    const reconciliation = life.add(await openReconciliation(ctx, { gold, store, reconciliations, partial: () => share.partial }))
    const detection = life.add(openAnomalies(ctx, { gold, store, log: anomalies, partial: () => share.partial }))
    const upkeep = life.add(new Upkeep(ctx, { sink: bronze.sink, gold, afterPublish: () => reconciliation.run() }))
    life.add(http)
    httpAdded = true
    // the speed path and the bronze feed use nothing of each other: their consumers leave their groups side by side
    life.add(closedTogether(feed === null ? [speed] : [feed, speed]))
    const schedule = opts.schedule !== false
    if (schedule) for (const timed of [bronze, reconciliation, detection]) timed.start()
    // the leader's work: now, or once this process takes the data folder over
    let sourceStarted = false
    leadership.follow(() => {
      if (schedule) upkeep.start()
      if (sourceStarted) feed?.start()
    })
    leadership.lost.catch(() => upkeep.close())
    starting.serve(service)

    return {
      config,
      server,
      service,
      pipeline: speed.pipeline,
      store,
      gold,
      sink: bronze.sink,
      observability,
      anomalies,
      detectAnomaliesNow: () => detection.run(),
      source: speed.source,
      deadLetters: speed.deadLetters,
      bronze: feed,
      get leading () { return leadership.leading },
      startSource: async () => {
        await speed.start()
        sourceStarted = true
        if (leadership.leading) feed?.start()
      },
      runBatchNow: () => upkeep.batchNow(),
      compactNow: () => upkeep.compactNow(),
      vacuumNow: () => upkeep.vacuumNow(),
      close: () => life.close()
    }
  } catch (err) {
    if (!httpAdded) await http.close()
    await life.close()
    throw err
  }
}
