// Bronze: the sink that writes Parquet (flushed on a timer, and once more at close) and, with
// `--source kafka`, the feed that fills it from a consumer group of its own, so a slow Parquet
// write never delays the speed layer. Other sources fill the sink through the speed path. Only the
// data folder's leader (leader.ts) writes: a follower's sink stays empty, its feed starts once it
// leads, and a leader that lost its lock writes nothing more.
import { BronzeSink } from '../batch/index.js'
import { BronzeFeed } from './bronze-feed.js'
import type { BronzeShare } from './bronze-share.js'
import { type AppContext, kafkaLogLevel } from './context.js'
import { bronzeEnrichment } from './enrichment.js'
import type { Part } from './lifecycle.js'
import { InThreadDecoder } from '../speed/index.js'
import { valueFormats } from './value-formats.js'

export interface Bronze extends Part {
  readonly sink: BronzeSink
  /** flush whatever is due every bronzeFlushCheckMs (at most bronzeFlushMs) */
  start (): void
}

/** `mayWrite`: whether this process still leads its data folder (flushes, the last one at close too, only then) */
export function openBronzeSink (ctx: AppContext, mayWrite: () => boolean): Bronze {
  const { config, dataDir, db, now, log } = ctx
  const enrich = bronzeEnrichment(config, log)
  const sink = new BronzeSink({
    dataDir, db, flushMs: config.bronzeFlushMs, maxBuffered: config.bronzeFlushEvents, ...(enrich === undefined ? {} : { enrich })
  })
  let timer: NodeJS.Timeout | undefined
  return {
    name: 'bronze sink',
    sink,
    start: () => {
      timer = setInterval(() => {
        if (mayWrite()) sink.flushIfDue(now()).catch((err: unknown) => log.error({ err }, 'bronze flush failed'))
      }, Math.min(config.bronzeFlushCheckMs, config.bronzeFlushMs)).unref()
    },
    close: async () => {
      clearInterval(timer)
      if (mayWrite()) await sink.flush().catch((err: unknown) => log.error({ err }, 'final bronze flush failed'))
      await sink.close()
    }
  }
}

/** What the app shows of the bronze feed, whether or not this process leads yet. */
export interface BronzeFeedView {
  /** rejects when the feed could not start or its consumer died for good, or when this process lost its leadership */
  readonly done: Promise<void>
  /** records handled, valid and invalid ones (0 until this process leads) */
  readonly received: number
  readonly valid: number
  readonly invalid: number
  /** of the records handled, those whose validation the speed path had made (not parsed again) */
  readonly shared: number
}

export interface BronzeFeedPart extends Part, BronzeFeedView {
  /** the feed (null until this process leads) */
  readonly feed: BronzeFeed | null
  /** once this process leads: not awaited (joining its group may wait for a dead member's session to expire) */
  start (): void
}

/** The leadership the feed follows: `lost` rejects when it is lost, `leading` says whether it still holds. */
export interface Lead { readonly lost: Promise<void>, readonly leading: boolean }

/** The bronze feed, built when first started (a follower builds none); it takes the speed path's validations from `share`. */
export function openBronzeFeed (ctx: AppContext, sink: BronzeSink, lead: Lead, share?: BronzeShare): BronzeFeedPart {
  let feed: BronzeFeed | null = null
  let fail!: (err: unknown) => void
  let end!: () => void
  const done = new Promise<void>((resolve, reject) => {
    fail = reject
    end = resolve
    lead.lost.catch(reject)
  })
  done.catch(() => undefined) // reported to whoever awaits done, never as unhandled
  let stopped = false
  // aborted by close(): a batch waiting for the schema registry gives up
  const closing = new AbortController()
  return {
    name: 'bronze feed',
    done,
    get feed () { return feed },
    get received () { return feed?.received ?? 0 },
    get valid () { return feed?.valid ?? 0 },
    get invalid () { return feed?.invalid ?? 0 },
    get shared () { return feed?.shared ?? 0 },
    start: () => {
      if (feed !== null || stopped) return
      const f = feed = newFeed(ctx, sink, share, closing.signal)
      f.done.catch(fail)
      f.start().catch((err: unknown) => ctx.log.error({ err }, 'the bronze consumer could not start'))
    },
    close: async () => {
      stopped = true
      closing.abort()
      // a leader that lost its lock leaves the group without the last flush
      const stop = lead.leading ? feed?.stop() : feed?.source.stop()
      await stop?.catch((err: unknown) => ctx.log.error({ err }, 'bronze consumer did not stop cleanly'))
      end()
    }
  }
}

function newFeed (ctx: AppContext, sink: BronzeSink, share: BronzeShare | undefined, signal: AbortSignal): BronzeFeed {
  const { config, dataDir, now, progress, log } = ctx
  return new BronzeFeed({
    sink,
    ...(share === undefined ? {} : { share }),
    dataDir,
    now,
    progress,
    maxRecordBytes: config.maxRecordBytes,
    decoder: new InThreadDecoder(config.maxRecordBytes, valueFormats(ctx, 'the bronze consumer', signal)),
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
}
