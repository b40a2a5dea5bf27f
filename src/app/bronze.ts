// Bronze: the sink that writes Parquet (flushed on a timer, and once more at close) and, with
// `--source kafka`, the feed that fills it from a consumer group of its own, so a slow Parquet
// write never delays the speed layer. Other sources fill the sink through the speed path.
import { BronzeSink } from '../batch/index.js'
import { BronzeFeed } from './bronze-feed.js'
import { type AppContext, kafkaLogLevel } from './context.js'
import type { Part } from './lifecycle.js'

export interface Bronze extends Part {
  readonly sink: BronzeSink
  /** flush whatever is due every bronzeFlushCheckMs (at most bronzeFlushMs) */
  start (): void
}

export function openBronzeSink (ctx: AppContext): Bronze {
  const { config, dataDir, db, now, log } = ctx
  const sink = new BronzeSink({ dataDir, db, flushMs: config.bronzeFlushMs, maxBuffered: config.bronzeFlushEvents })
  let timer: NodeJS.Timeout | undefined
  return {
    name: 'bronze sink',
    sink,
    start: () => {
      timer = setInterval(() => {
        sink.flushIfDue(now()).catch((err: unknown) => log.error({ err }, 'bronze flush failed'))
      }, Math.min(config.bronzeFlushCheckMs, config.bronzeFlushMs)).unref()
    },
    close: async () => {
      clearInterval(timer)
      await sink.flush().catch((err: unknown) => log.error({ err }, 'final bronze flush failed'))
      await sink.close()
    }
  }
}

export interface BronzeFeedPart extends Part {
  readonly feed: BronzeFeed
  /** not awaited: joining its group may wait for a dead member's session to expire (a failure rejects feed.done) */
  start (): void
}

export function openBronzeFeed (ctx: AppContext, sink: BronzeSink): BronzeFeedPart {
  const { config, dataDir, now, progress, log } = ctx
  const feed = new BronzeFeed({
    sink,
    dataDir,
    now,
    progress,
    maxRecordBytes: config.maxRecordBytes,
    source: {
      brokers: config.kafkaBrokers,
      topics: config.kafkaTopics,
      groupId: config.kafkaBronzeGroup,
      startFrom: () => now() - config.bronzeRetentionMs,
      onOutage: (since) => ctx.kafkaOutage(config.kafkaBronzeGroup, since),
      log: log.child({ component: 'kafka-bronze' }),
      logLevel: kafkaLogLevel(config.logLevel)
    }
  })
  return {
    name: 'bronze feed',
    feed,
    start: () => { feed.start().catch((err: unknown) => log.error({ err }, 'the bronze consumer could not start')) },
    close: () => feed.stop().catch((err: unknown) => log.error({ err }, 'bronze consumer did not stop cleanly'))
  }
}
