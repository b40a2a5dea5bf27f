// The bronze consumer: a kafkajs consumer group of its own (default `hourglass-bronze`) over the
// same topics as the speed layer, so that a slow Parquet write never delays the speed layer and a
// speed store that forgets (memory) never makes bronze skip records.
//
// It differs from the speed layer's KafkaSource (consumer.ts) in where its truth lives and when it
// commits. Where it reads from: the caller's positions (the bronze state: the last offset flushed
// to Parquet per partition) + 1, read before `run()` and sought to synchronously on every join
// (kafkajs does not await its GROUP_JOIN event); a partition bronze holds nothing of starts at the
// first record at or after startFrom() (now − the bronze retention), or at the earliest offset.
// Between joins it continues after what it has handed out, since the handler keeps what it got (a
// buffer that is flushed later). When it commits: never by itself. The caller commits, through
// commit(), only offsets whose records are renamed into place in bronze, so a committed offset is
// a valid start for whoever reads the group's offsets (lag tools, a partition new to the state).
//
// Errors, as in KafkaSource: a handler that throws leaves the batch unresolved and kafkajs hands
// it out again (the handler must skip what it already holds); after its retries kafkajs restarts
// the consumer, which rejoins and seeks as above; a crash kafkajs does not restart from is retried
// here when it means that no broker answered (a broker restart), and otherwise rejects `done`.
import type { Socket } from 'node:net'
import type { Admin, Consumer, EachBatchPayload, Kafka, RetryOptions } from 'kafkajs'
import type { BatchHandler, RawRecord, RecordSource } from '../source.js'
import { BROKERS_GONE, createKafka, endSockets, type KafkaLog, type KafkaLogLevel, STDERR_LOG } from './client.js'
import { DEFAULT_TOPICS } from './consumer.js'

export const DEFAULT_BRONZE_GROUP = 'hourglass-bronze'

export interface BronzeSourceOptions {
  /** host:port list, or one comma-separated string */
  brokers: string | readonly string[]
  topics?: readonly string[] // ['events']
  groupId?: string // 'hourglass-bronze'
  clientId?: string // 'hourglass-bronze'
  /** the last offset of a partition that bronze holds (null: none); reading resumes after it */
  positions: (topic: string, partition: number) => Promise<string | null>
  /** a partition bronze holds nothing of starts at its first record at or after this time (epoch ms); default: its earliest */
  startFrom?: () => number
  /** where each partition starts, before any record is handed out (awaited) */
  onStart?: (starts: StartPosition[]) => void | Promise<void>
  /** heartbeats while a handler runs (it may wait for a flush) */
  heartbeatIntervalMs?: number // three seconds
  sessionTimeoutMs?: number // thirty seconds
  /** fetch size per partition: an upper bound on a batch */
  maxBytesPerPartition?: number // one MiB
  /** kafkajs retry options (the consumer restarts after the retries are spent) */
  retry?: RetryOptions
  log?: KafkaLog // errors to stderr
  logLevel?: KafkaLogLevel // 'error'
}

/** Where a partition starts, and its end offset when the source started. */
export interface StartPosition {
  topic: string
  partition: number
  /** the first offset read */
  from: string
  /** the log end offset at start */
  end: string
  /** whether `from` came from the caller's positions (else: startFrom() or the earliest offset) */
  stored: boolean
}

export interface CommitOffset {
  topic: string
  partition: number
  /** the next offset to read (last handled + 1), decimal */
  offset: string
}

const tpKey = (topic: string, partition: number): string => topic + '\u0000' + partition

export class BronzeKafkaSource implements RecordSource {
  readonly topics: readonly string[]
  readonly groupId: string
  readonly done: Promise<void>
  readonly #options: BronzeSourceOptions
  readonly #log: KafkaLog
  readonly #heartbeatMs: number
  readonly #kafka: Kafka
  readonly #consumer: Consumer
  readonly #admin: Admin
  readonly #sockets = new Set<Socket>()
  /** the next offset to read per partition: stored + 1, a start offset, or handed out + 1 */
  readonly #next = new Map<string, bigint>()
  #starts: StartPosition[] = []
  #started = false
  /** whether the consumer is in the group (GROUP_JOIN seen since it last (re)started or began to rejoin) */
  #joined = false
  #stopping = false
  #stopped: Promise<void> | null = null
  #crashRestarts = 0
  #restartTimer: NodeJS.Timeout | undefined
  /** commits run one after the other, so an older one never lands after a newer one */
  #commits: Promise<void> = Promise.resolve()
  #resolve!: () => void
  #reject!: (err: unknown) => void

  constructor (options: BronzeSourceOptions) {
    this.#options = options
    this.topics = options.topics ?? DEFAULT_TOPICS
    if (this.topics.length === 0) throw new Error('bronze kafka source: no topics given')
    this.groupId = options.groupId ?? DEFAULT_BRONZE_GROUP
    this.#log = options.log ?? STDERR_LOG
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 3000
    this.#kafka = createKafka({ brokers: options.brokers, clientId: options.clientId ?? 'hourglass-bronze', log: this.#log, logLevel: options.logLevel ?? 'error', sockets: this.#sockets })
    this.#consumer = this.#kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.#heartbeatMs,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      retry: {
        ...options.retry,
        restartOnFailure: async (err) => {
          this.#joined = false
          if (this.#stopping) return false
          this.#log.warn({ err, groupId: this.groupId }, 'kafka consumer failed; restarting it')
          return true
        }
      }
    })
    this.#admin = this.#kafka.admin()
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.done.catch(() => undefined) // reported to whoever awaits done, never as unhandled
  }

  /** Where each partition of the topics started (known once start() resolved). */
  get startPositions (): readonly StartPosition[] {
    return this.#starts
  }

  /** Connect, read the positions, join the group and run; resolves once running (or stopped meanwhile). */
  async start (handler: BatchHandler): Promise<void> {
    if (this.#started) throw new Error('bronze kafka source: already started')
    this.#started = true
    if (this.#stopping) return
    try {
      await this.#admin.connect()
      await this.#consumer.connect()
      await this.#readPositions()
      if (this.#stopping) return // stop() disconnects
      await this.#options.onStart?.(this.#starts.map((p) => ({ ...p })))
      if (this.#stopping) return
      await this.#consumer.subscribe({ topics: [...this.topics], fromBeginning: true })
      this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => {
        this.#joined = true
        this.#crashRestarts = 0
        for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
          for (const partition of partitions) {
            const next = this.#next.get(tpKey(topic, partition))
            if (next !== undefined) this.#consumer.seek({ topic, partition, offset: next.toString() })
          }
        }
      })
      this.#consumer.on(this.#consumer.events.REBALANCING, () => { this.#joined = false })
      const run = (): Promise<void> => this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload, handler)
      })
      this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
        // restartOnFailure has logged it and the consumer rejoins and seeks again; or we are
        // stopping, and a join in flight failed because stop() disconnected under it
        if (payload.restart || this.#stopping) return
        if (BROKERS_GONE.has(payload.error.name)) {
          const delayMs = Math.min(10_000, 1000 * 2 ** this.#crashRestarts++)
          this.#log.warn({ err: payload.error, groupId: this.groupId, delayMs }, 'kafka consumer lost the brokers; restarting it')
          this.#restartTimer = setTimeout(() => {
            if (this.#stopping) return
            run().catch((err: unknown) => {
              this.#log.error({ err, groupId: this.groupId }, 'kafka consumer could not be restarted')
              this.#reject(err)
            })
          }, delayMs)
          return
        }
        this.#log.error({ err: payload.error, groupId: this.groupId }, 'kafka consumer crashed and will not restart')
        this.#reject(payload.error)
      })
      await run()
    } catch (err) {
      await this.#disconnect()
      if (this.#stopping) return
      throw err
    }
  }

  /**
   * Commit offsets to Kafka (a hint for lag tools; the caller's positions are the truth): call it
   * only for records that are safely stored. Failures are logged, not thrown.
   */
  commit (offsets: readonly CommitOffset[]): Promise<void> {
    if (offsets.length === 0 || !this.#started) return this.#commits
    this.#commits = this.#commits.then(async () => {
      try {
        await this.#consumer.commitOffsets(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })))
      } catch (err) {
        this.#log.info({ err }, 'kafka offset commit failed (a hint only: the bronze state holds the positions)')
      }
    })
    return this.#commits
  }

  /**
   * Finish the batch in hand, leave the group and disconnect. Commits nothing by itself. While the
   * consumer is still joining its group (which waits for the members the coordinator knows of, a
   * dead one until its session expires), it ends the connections first: kafkajs's disconnect would
   * otherwise wait for the join request to be answered.
   */
  stop (): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true
      clearTimeout(this.#restartTimer)
      if (this.#started) {
        await this.#commits
        if (!this.#joined) await endSockets(this.#sockets, 500)
        await this.#consumer.stop().catch((err: unknown) => this.#log.warn({ err }, 'kafka consumer did not stop cleanly'))
        await this.#disconnect()
      }
      this.#resolve()
    })()
    return this.#stopped
  }

  async #disconnect (): Promise<void> {
    await this.#consumer.disconnect().catch(() => undefined)
    await this.#admin.disconnect().catch(() => undefined)
    await endSockets(this.#sockets)
  }

  /** Where each partition continues: after the stored position, else from startFrom() or the earliest offset. */
  async #readPositions (): Promise<void> {
    const { topics } = await this.#admin.fetchTopicMetadata({ topics: [...this.topics] })
    const starts: StartPosition[] = []
    for (const t of topics) {
      const [positions, offsets] = await Promise.all([
        Promise.all(t.partitions.map((p) => this.#options.positions(t.name, p.partitionId))),
        this.#admin.fetchTopicOffsets(t.name)
      ])
      const missing = t.partitions.some((_, i) => positions[i] == null)
      const byTime = missing && this.#options.startFrom !== undefined ? await this.#admin.fetchTopicOffsetsByTimestamp(t.name, this.#options.startFrom()) : []
      t.partitions.forEach((p, i) => {
        const o = offsets.find((x) => x.partition === p.partitionId)
        const end = o?.high ?? '0'
        const position = positions[i] ?? null
        let from: bigint
        if (position !== null) from = BigInt(position) + 1n
        else from = BigInt(byTime.find((x) => x.partition === p.partitionId)?.offset ?? o?.low ?? '0')
        // below the log start: Kafka's retention removed records bronze never read (kafkajs would
        // reset to the earliest offset anyway)
        if (o !== undefined && from < BigInt(o.low)) {
          if (position !== null) this.#log.warn({ topic: t.name, partition: p.partitionId, from: from.toString(), low: o.low }, 'records bronze had not read yet were removed by the topic\'s retention')
          from = BigInt(o.low)
        }
        this.#next.set(tpKey(t.name, p.partitionId), from)
        starts.push({ topic: t.name, partition: p.partitionId, from: from.toString(), end, stored: position !== null })
      })
    }
    this.#starts = starts.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  async #eachBatch (payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload
    if (!isRunning() || isStale() || batch.messages.length === 0) return
    const { topic, partition } = batch
    const records: RawRecord[] = new Array(batch.messages.length)
    for (let i = 0; i < batch.messages.length; i++) {
      const m = batch.messages[i] as (typeof batch.messages)[number]
      const bytes = m.value ?? Buffer.alloc(0) // a tombstone is an empty (invalid) record
      records[i] = { value: bytes.toString('utf8'), offset: m.offset, bytes, key: m.key ?? null }
    }
    const last = (records[records.length - 1] as RawRecord).offset
    const beat = setInterval(() => {
      heartbeat().catch((err: unknown) => this.#log.info({ err, topic, partition }, 'kafka heartbeat during a batch failed'))
    }, this.#heartbeatMs)
    try {
      await handler({ topic, partition, records })
    } catch (err) {
      this.#log.error({ err, topic, partition, first: records[0]?.offset, last }, 'bronze batch handler failed; the batch will be handed out again')
      throw err
    } finally {
      clearInterval(beat)
    }
    resolveOffset(last)
    const key = tpKey(topic, partition)
    const next = BigInt(last) + 1n
    if ((this.#next.get(key) ?? -1n) < next) this.#next.set(key, next)
    await heartbeat() // a rebalance under way surfaces here, after the batch is done
  }
}
