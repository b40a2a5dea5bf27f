// The speed path: the live source → the speed pipeline (validate, dedup, windows) → the speed
// store. With Kafka, invalid records go to the dead-letter topic with their original bytes, and each applied batch's
// validations are offered to the bronze feed (bronze-share.ts); with other sources, valid events go to the bronze sink from here.
//
// An empty store is rebuilt for the retention before going live: from Kafka by the consumer itself
// (it rewinds to now − retention and reports when it has caught up), otherwise from bronze here. A
// store that still holds its windows is used as it is. A store that loses its state while running
// (Redis restarted empty) is rebuilt the same way; until then answers report the gap. A store that
// does not answer holds the batch in hand until it does (nothing is lost, nothing applied twice).
import { setTimeout as sleep } from 'node:timers/promises'
import type { Observability } from '../api/observability.js'
import type { BronzeSink } from '../batch/index.js'
import { FileSource, type RawBatch, type RecordSource } from '../ingest/index.js'
import { DeadLetterProducer, KafkaSource, retryWhileBrokersGone } from '../ingest/kafka/index.js'
import { type WindowChangeHub, withWindowChanges } from '../merger/index.js'
import type { DeadLetter, SpeedStore } from '../model/index.js'
import { DecodePool, Deduplicator, enrichDecoded, InThreadDecoder, SpeedPipeline } from '../speed/index.js'
import type { BronzeShare } from './bronze-share.js'
import { type AppContext, kafkaLogLevel } from './context.js'
import { speedEnrichment } from './enrichment.js'
import { BatchesInHand } from './in-hand.js'
import type { Part } from './lifecycle.js'
import { rebuildFromBronze } from './replay.js'
import { kafkaSource, localSource } from './sources.js'
import type { SpeedShare } from './speed-share.js'
import { storeUnreachable } from './store-watch.js'
import { valueFormats } from './value-formats.js'

/** the longest wait between two attempts of a batch while the store does not answer */
const STORE_RETRY_MAX_MS = 5_000

export interface SpeedPath extends Part {
  readonly pipeline: SpeedPipeline
  readonly source: RecordSource | null
  /** the dead-letter topic's producer (Kafka source only) */
  readonly deadLetters: DeadLetterProducer | null
  /** GraphQL `windowUpdated` hears of every applied batch's minute windows through this hub */
  readonly windowChanges: WindowChangeHub
  /** start consuming the source (resolves once started; see source.done for a finite source) */
  start (): Promise<void>
}

export interface SpeedPathDeps {
  store: SpeedStore
  sink: BronzeSink
  observability: Observability
  /** where applied batches' windows are announced (the server already holds it) */
  windowChanges: WindowChangeHub
  /** hears which share of the partitions the Kafka consumer holds */
  share: SpeedShare
  /** with Kafka: where each processed batch's validations go for the bronze feed */
  bronzeShare?: BronzeShare | undefined
}

export async function openSpeedPath (ctx: AppContext, { store, sink, observability, windowChanges, share, bronzeShare }: SpeedPathDeps): Promise<SpeedPath> {
  const { config, now, log } = ctx
  const kafka = config.source === 'kafka'
  // one deduplicator for the bronze replay and the live pipeline: a duplicate of a replayed event
  // arriving live is dropped (the memory store keeps no dedup keys of its own)
  const dedup = new Deduplicator({ windowMs: config.dedupWindowMs })
  if (!kafka && (store.kind === 'memory' || (await store.coverage()).coveredFrom === null)) {
    ctx.stage('replaying bronze')
    await rebuildFromBronze(ctx, store, dedup, '')
  }

  const deadLetters = kafka
    ? new DeadLetterProducer({
      brokers: config.kafkaBrokers,
      topic: config.dlqTopic,
      log: log.child({ component: 'dlq' }),
      logLevel: kafkaLogLevel(config.logLevel)
    })
    : null
  const inHand = new BatchesInHand()
  // aborted by close(): waits for the store or the schema registry give up
  const closing = new AbortController()
  const formats = kafka ? valueFormats(ctx, 'the speed consumer', closing.signal) : {}
  const decoder = config.decodeWorkers === 0
    ? new InThreadDecoder(config.maxRecordBytes, formats)
    : new DecodePool({
      threads: config.decodeWorkers,
      maxRecordBytes: config.maxRecordBytes,
      heapMb: config.decodeWorkerHeapMb,
      log: log.child({ component: 'decode' }),
      ...formats
    })
  const enrichment = speedEnrichment(ctx, observability)
  const pipeline = new SpeedPipeline({
    decode: (values, at, topic) => enrichDecoded(decoder.decode(values, at, topic), enrichment),
    store: withWindowChanges(store, windowChanges),
    dedupWindowMs: config.dedupWindowMs,
    dedup,
    allowedLatenessMs: config.allowedLatenessMs,
    deadLetterKeep: config.deadLetterKeep,
    collectValid: !kafka || bronzeShare !== undefined, // with Kafka, bronze has its own consumer, which may take them
    onApplied: (ms) => observability.observeApply(ms / 1000),
    ...(deadLetters === null ? {} : { onInvalid: (letter: DeadLetter) => deadLetters.send(letter, inHand.original(letter)) })
  })
  // decode threads decode a partition's next batch, fetched ahead, while its batch in flight is applied
  const decodeAhead = config.decodeWorkers === 0 ? undefined : (batch: RawBatch) => pipeline.decodeAhead(batch, now())
  const source = kafka ? kafkaSource(ctx, store, share, decodeAhead) : await localSource(ctx)

  // The pipeline forgets what it processed; Kafka rewinds (the batch in hand is not acknowledged
  // and comes again), other sources replay bronze as at start.
  // A batch is stale, and never processed, when a loss began to be handled after it came (it may have been read before
  // the rewind) or one is being handled (the source's seeks are not made yet). Processed into the emptied store, such a
  // batch would set its partition's position past the records the rewind re-reads, and they would be skipped.
  /** losses whose handling has begun */
  let lossesBegun = 0
  /** losses being handled now */
  let handling = 0
  const rebuildLostStore = async (): Promise<void> => {
    lossesBegun++
    handling++
    try {
      await pipeline.reset()
      if (source instanceof KafkaSource) return await source.rebuild()
      await sink.flush()
      await rebuildFromBronze(ctx, store, pipeline.deduplicator, `the ${store.kind} store lost its state; `)
    } finally {
      handling--
    }
  }
  /** `came`: lossesBegun when the batch came, or -1 when it came while a loss was being handled */
  const handleOnce = async (batch: RawBatch, came: number): Promise<void | false> => {
    let result
    const release = deadLetters === null ? () => undefined : inHand.hold(batch)
    try {
      result = await pipeline.process(batch, now(), () => lossesBegun !== came || handling > 0)
      if (result.stale) {
        if (source instanceof KafkaSource) return false // not acknowledged: the source hands these records out again
        result = await pipeline.process(batch, now())
      }
      if (result.storeLost) {
        const where = { topic: batch.topic, partition: batch.partition, store: store.kind }
        log.warn(where, 'the speed store lost its state (no position where batches were applied); rebuilding it')
        await rebuildLostStore()
        if (source instanceof KafkaSource) return false // rewound: the source hands these records out again
        result = await pipeline.process(batch, now())
      }
    } finally {
      release()
    }
    // Another writer moved the store's position twice under this batch: it is not counted, so it
    // must not be acknowledged either; the source hands it out again.
    if (!result.applied && result.handled > 0) {
      throw new Error(`speed store position of ${batch.topic}/${batch.partition} moved under the batch; it will be retried`)
    }
    if (!kafka) for (const { event, offset } of result.valid) sink.add(event, { topic: batch.topic, partition: batch.partition, offset }, now())
    else bronzeShare?.offer(batch.topic, batch.partition, batch.records, result)
  }

  // A store that does not answer holds the batch in hand (the source heartbeats meanwhile, so the consumer keeps its
  // partitions; the partition's next batch waits for this one, and the fetches for it): the attempt is made again, backing off
  // up to 5 s, until the store answers or the path closes. An attempt that failed applied nothing
  // it knows of; one whose apply ran unanswered is found applied by the store's position.
  const handle = async (batch: RawBatch): Promise<void | false> => {
    // taken once for every attempt: a loss handled while this batch waited for the store makes it stale
    const came = handling > 0 ? -1 : lossesBegun
    for (let attempt = 0; ; attempt++) {
      try {
        return await handleOnce(batch, came)
      } catch (err) {
        if (!storeUnreachable(err) || closing.signal.aborted) throw err
        if (attempt === 0) log.warn({ err, topic: batch.topic, partition: batch.partition }, 'the speed store does not answer; the batch waits for it')
        await sleep(Math.min(250 * 2 ** attempt, STORE_RETRY_MAX_MS), undefined, { signal: closing.signal }).catch(() => undefined)
      }
    }
  }
  // a broker outage at start is waited out, and reported as the speed consumer group's
  const connectDeadLetters = async (producer: DeadLetterProducer): Promise<boolean> => await retryWhileBrokersGone(() => producer.connect(), {
    what: 'the dead-letter producer', log, signal: closing.signal, onOutage: (since) => ctx.kafkaOutage(config.kafkaGroup, since)
  })
  return {
    name: 'speed path',
    pipeline,
    source,
    deadLetters,
    windowChanges,
    start: async () => {
      if (source === null) return
      if (deadLetters !== null && !await connectDeadLetters(deadLetters)) return
      await source.start(handle)
      if (source instanceof FileSource) {
        // a file read to its end is a finished source: flush it and let the bronze watermark pass it
        // (the mark goes through the sink, in turn with its flushes' writes of the bronze state)
        source.done.then(() => sink.markFinished(source.topic, 0)).catch((err: unknown) => log.error({ err }, 'file source failed'))
      }
    },
    close: async () => {
      closing.abort()
      await source?.stop()
      await deadLetters?.close()
      await decoder.close()
    }
  }
}
