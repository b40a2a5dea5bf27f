// The Kafka record source: a kafkajs consumer group (default `hourglass-speed`) over one or more
// topics, handing each fetched batch of one partition to the handler and awaiting it (a slow store
// slows the fetches down: backpressure), with no auto-commit.
//
// Where it reads from. The speed store's positions are the truth, Kafka's committed offsets only a
// hint (for lag tools and a consumer that could not read the store). Before `run()`, the source
// reads the stored position of every partition of its topics; kafkajs does not await its
// GROUP_JOIN event, so on each join it seeks every assigned partition synchronously to
// stored + 1, or to what it has handled itself since, whichever is later. A partition the store
// has no position for is read from the offset of (rebuildFrom() − slack) by record timestamp; when
// the store has no position for any partition (a new or emptied store), that is a rebuild:
// onRebuild reports it, and onCaughtUp fires once every rebuilt partition assigned here has been
// handled up to the log end it had at the rewind, which is when the store again holds everything
// since rebuildFrom(). After a join the stored positions are read again in the background and a
// partition the store is ahead on (another member applied it meanwhile) is sought forward.
// Correctness never depends on the seeks: the pipeline skips records at or below the stored
// position and the store's compare-and-set rejects overlapping writers; the seeks avoid re-reading.
//
// A store that loses its state while the source runs (Redis restarted empty) is rebuilt the same
// way: rebuild() forgets every position, reads the store's again and rewinds what it no longer
// holds, as at a start (onRebuild, then onCaughtUp). The batch in hand when rebuild() is called
// is not acknowledged: the seeks make kafkajs drop what it had fetched, and the rewound partitions
// are read again from the rebuild offsets.
//
// Errors. A handler that throws leaves the batch unresolved: kafkajs retries it (its `retry`
// options), and after the retries restarts the consumer, which rejoins and seeks as above. After
// a crash that kafkajs will not restart from, the source restarts it when the crash means that no
// broker answered (a broker restart), and otherwise rejects `done`. stop() lets the batch in hand
// finish, commits what was handled and disconnects.
import type { Socket } from 'node:net'
import type { Admin, Consumer, EachBatchPayload, Kafka, RetryOptions } from 'kafkajs'
import type { BatchHandler, RawRecord, RecordSource } from '../source.js'
import { BROKERS_GONE, createKafka, endSockets, type KafkaLog, type KafkaLogLevel, STDERR_LOG } from './client.js'

export interface KafkaSourceOptions {
  /** host:port list, or one comma-separated string */
  brokers: string | readonly string[]
  topics?: readonly string[] // ['events']
  groupId?: string // 'hourglass-speed'
  clientId?: string // 'hourglass'
  /** the speed store's last applied offset of a partition (null: none) */
  positions: (topic: string, partition: number) => Promise<string | null>
  /** event time from which a rebuilt store must hold everything: now − retention (epoch ms) */
  rebuildFrom: () => number
  /** the rewind starts this much before rebuildFrom(): events may run ahead of their record timestamp */
  rebuildSlackMs?: number // five minutes (the event contract's future limit)
  /** a rewind for an empty store: which partitions from which offsets, and the event time it rebuilds from */
  onRebuild?: (partitions: RebuildPartition[], from: number) => void
  /** the rewound partitions assigned here have been handled up to their log end at the rewind */
  onCaughtUp?: (partitions: RebuildPartition[], from: number) => void | Promise<void>
  /** how often handled offsets are committed to Kafka (a hint only; also on stop) */
  commitIntervalMs?: number // five seconds
  /** heartbeats while a handler runs */
  heartbeatIntervalMs?: number // three seconds
  sessionTimeoutMs?: number // thirty seconds
  /** fetch size per partition: an upper bound on a batch */
  maxBytesPerPartition?: number // one MiB
  /** kafkajs retry options (the consumer restarts after the retries are spent) */
  retry?: RetryOptions
  log?: KafkaLog // errors to stderr
  /** what kafkajs itself logs */
  logLevel?: KafkaLogLevel // 'error'
}

export interface RebuildPartition {
  topic: string
  partition: number
  /** the first offset read */
  from: string
  /** the log end offset at the rewind: caught up once everything below it is handled */
  until: string
}

export const DEFAULT_TOPICS: readonly string[] = ['events']
export const DEFAULT_GROUP = 'hourglass-speed'
const REBUILD_SLACK_MS = 5 * 60_000

const tpKey = (topic: string, partition: number): string => topic + '\u0000' + partition

export class KafkaSource implements RecordSource {
  readonly topics: readonly string[]
  readonly groupId: string
  readonly done: Promise<void>
  readonly #kafka: Kafka
  readonly #consumer: Consumer
  readonly #admin: Admin
  readonly #options: KafkaSourceOptions
  readonly #log: KafkaLog
  readonly #commitIntervalMs: number
  readonly #heartbeatMs: number
  /** the client's open sockets: disconnect() ends those kafkajs forgot (client.ts, trackingSocketFactory) */
  readonly #sockets = new Set<Socket>()
  /** the next offset to read per partition: stored + 1, a rebuild offset, or handled + 1 */
  readonly #next = new Map<string, bigint>()
  /** handled + 1 and not yet committed */
  readonly #uncommitted = new Map<string, { topic: string, partition: number, offset: string }>()
  /** rebuilt partitions not yet caught up */
  readonly #rebuilding = new Map<string, RebuildPartition>()
  #rebuilt: RebuildPartition[] = []
  #rebuildFrom = 0
  #assigned = new Set<string>()
  #joined = false
  #started = false
  #stopping = false
  #stopped: Promise<void> | null = null
  #lastCommit = 0
  /** counts rebuild() calls: a batch handled across one is not acknowledged */
  #generation = 0
  #rebuildRunning: Promise<void> | null = null
  /** restarts after crashes kafkajs does not restart from (since the last join), and the pending one */
  #crashRestarts = 0
  #restartTimer: NodeJS.Timeout | undefined
  #resolve!: () => void
  #reject!: (err: unknown) => void

  constructor (options: KafkaSourceOptions) {
    this.#options = options
    this.topics = options.topics ?? DEFAULT_TOPICS
    if (this.topics.length === 0) throw new Error('kafka source: no topics given')
    this.groupId = options.groupId ?? DEFAULT_GROUP
    this.#log = options.log ?? STDERR_LOG
    this.#commitIntervalMs = options.commitIntervalMs ?? 5000
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 3000
    this.#kafka = createKafka({
      brokers: options.brokers,
      clientId: options.clientId ?? 'hourglass',
      log: this.#log,
      logLevel: options.logLevel ?? 'error',
      sockets: this.#sockets
    })
    this.#consumer = this.#kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.#heartbeatMs,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      retry: {
        ...options.retry,
        restartOnFailure: async (err) => {
          this.#log.warn({ err, groupId: this.groupId }, 'kafka consumer failed; restarting it')
          return !this.#stopping
        }
      }
    })
    this.#admin = this.#kafka.admin()
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.done.catch(() => undefined) // a failure is reported to whoever awaits done, never as unhandled
  }

  /** whether a rebuild is in progress (the store was empty and the rewound partitions are not caught up) */
  get rebuilding (): boolean {
    return this.#rebuilding.size > 0
  }

  async start (handler: BatchHandler): Promise<void> {
    if (this.#started) throw new Error('kafka source: already started')
    this.#started = true
    try {
      await this.#admin.connect()
      await this.#consumer.connect()
      await this.#readPositions()
      await this.#consumer.subscribe({ topics: [...this.topics], fromBeginning: true })
      this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => this.#onJoin(payload.memberAssignment))
      const run = (): Promise<void> => this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload, handler)
      })
      this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
        if (payload.restart) return // restartOnFailure has logged it; the consumer rejoins and seeks again
        if (!this.#stopping && BROKERS_GONE.has(payload.error.name)) {
          // kafkajs gives up for good when no broker answers while it looks for the group
          // coordinator (a broker restart, with one broker): it calls that non-retriable and
          // does not restart. The crash has disconnected the consumer; run it again, later.
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
      throw err
    }
  }

  /**
   * The store lost its state: forget every position, read the store's again, rewind what it does
   * not hold to rebuildFrom() (as at a start on an empty store) and seek the partitions assigned
   * here. Call it from the handler; the batch in hand is then not acknowledged. Calls made while
   * one runs share it.
   */
  rebuild (): Promise<void> {
    this.#rebuildRunning ??= (async () => {
      this.#generation++
      this.#next.clear()
      this.#uncommitted.clear()
      this.#rebuilding.clear()
      this.#rebuilt = []
      await this.#readPositions()
      for (const key of this.#assigned) {
        const [topic, partition] = key.split('\u0000') as [string, string]
        const next = this.#next.get(key)
        if (next !== undefined && !this.#stopping) this.#consumer.seek({ topic, partition: Number(partition), offset: next.toString() })
      }
      this.#checkCaughtUp()
    })().finally(() => { this.#rebuildRunning = null })
    return this.#rebuildRunning
  }

  /** Stop fetching (all topics) until resume(); the batch in hand still finishes. */
  pause (): void {
    this.#consumer.pause(this.topics.map((topic) => ({ topic })))
  }

  resume (): void {
    this.#consumer.resume(this.topics.map((topic) => ({ topic })))
  }

  /** Finish the batch in hand, commit what was handled (a hint), leave the group and disconnect. */
  stop (): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true
      clearTimeout(this.#restartTimer)
      if (this.#started) {
        await this.#commit(true)
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
    // the sockets kafkajs forgot keep the process alive (client.ts, trackingSocketFactory)
    await endSockets(this.#sockets)
  }

  /** Stored positions of every partition, and where a partition without one (or an empty store) starts. */
  async #readPositions (): Promise<void> {
    const { topics } = await this.#admin.fetchTopicMetadata({ topics: [...this.topics] })
    const missing: { topic: string, partition: number }[] = []
    let stored = 0
    for (const t of topics) {
      const positions = await Promise.all(t.partitions.map((p) => this.#options.positions(t.name, p.partitionId)))
      t.partitions.forEach((p, i) => {
        const position = positions[i] ?? null
        if (position === null) missing.push({ topic: t.name, partition: p.partitionId })
        else { stored++; this.#next.set(tpKey(t.name, p.partitionId), BigInt(position) + 1n) }
      })
    }
    if (missing.length === 0) return
    const from = this.#options.rebuildFrom()
    const since = from - (this.#options.rebuildSlackMs ?? REBUILD_SLACK_MS)
    const rebuild = stored === 0
    const rewound: RebuildPartition[] = []
    for (const topic of new Set(missing.map((m) => m.topic))) {
      const [starts, ends] = await Promise.all([
        this.#admin.fetchTopicOffsetsByTimestamp(topic, since),
        rebuild ? this.#admin.fetchTopicOffsets(topic) : Promise.resolve([])
      ])
      for (const { partition, offset } of starts) {
        if (!missing.some((m) => m.topic === topic && m.partition === partition)) continue
        this.#next.set(tpKey(topic, partition), BigInt(offset))
        if (!rebuild) continue
        const until = ends.find((e) => e.partition === partition)?.high ?? offset
        const p: RebuildPartition = { topic, partition, from: offset, until }
        rewound.push(p)
        if (BigInt(until) > BigInt(offset)) this.#rebuilding.set(tpKey(topic, partition), p)
      }
    }
    if (!rebuild) return
    this.#rebuilt = rewound
    this.#rebuildFrom = from
    this.#options.onRebuild?.(rewound, from)
  }

  /** On every (re)join: seek each assigned partition to where it must continue. Synchronous. */
  #onJoin (assignment: Record<string, number[]>): void {
    const assigned: { topic: string, partition: number }[] = []
    for (const [topic, partitions] of Object.entries(assignment)) for (const partition of partitions) assigned.push({ topic, partition })
    this.#assigned = new Set(assigned.map((a) => tpKey(a.topic, a.partition)))
    this.#joined = true
    this.#crashRestarts = 0
    for (const { topic, partition } of assigned) {
      const next = this.#next.get(tpKey(topic, partition))
      if (next !== undefined) this.#consumer.seek({ topic, partition, offset: next.toString() })
    }
    for (const key of this.#uncommitted.keys()) if (!this.#assigned.has(key)) this.#uncommitted.delete(key)
    this.#checkCaughtUp()
    this.#refresh(assigned).catch((err: unknown) => this.#log.warn({ err }, 'kafka source: could not re-read the stored positions'))
  }

  /** After a rebalance: the store may be ahead of what this member knew (another member applied meanwhile). */
  async #refresh (assigned: { topic: string, partition: number }[]): Promise<void> {
    const stored = await Promise.all(assigned.map((a) => this.#options.positions(a.topic, a.partition)))
    const unknown: { topic: string, partition: number }[] = []
    assigned.forEach(({ topic, partition }, i) => {
      const position = stored[i] ?? null
      const key = tpKey(topic, partition)
      const known = this.#next.get(key)
      if (position === null) {
        if (known === undefined) unknown.push({ topic, partition })
        return
      }
      const next = BigInt(position) + 1n
      if (known !== undefined && known >= next) return
      this.#seek(topic, partition, next)
    })
    // a partition neither the store nor this member knows (the topic grew): from the retention on
    const since = this.#options.rebuildFrom() - (this.#options.rebuildSlackMs ?? REBUILD_SLACK_MS)
    for (const topic of new Set(unknown.map((u) => u.topic))) {
      for (const { partition, offset } of await this.#admin.fetchTopicOffsetsByTimestamp(topic, since)) {
        if (unknown.some((u) => u.topic === topic && u.partition === partition) && !this.#next.has(tpKey(topic, partition))) {
          this.#seek(topic, partition, BigInt(offset))
        }
      }
    }
  }

  #seek (topic: string, partition: number, next: bigint): void {
    const key = tpKey(topic, partition)
    this.#next.set(key, next)
    if (this.#assigned.has(key) && !this.#stopping) this.#consumer.seek({ topic, partition, offset: next.toString() })
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

    const generation = this.#generation
    const beat = setInterval(() => {
      heartbeat().catch((err: unknown) => this.#log.info({ err, topic, partition }, 'kafka heartbeat during a batch failed'))
    }, this.#heartbeatMs)
    try {
      await handler({ topic, partition, records })
    } catch (err) {
      this.#log.error({ err, topic, partition, first: records[0]?.offset, last }, 'batch handler failed; the batch will be retried')
      throw err
    } finally {
      clearInterval(beat)
    }
    if (generation !== this.#generation) return // rebuild() rewound the partitions: nothing of this batch is acknowledged
    resolveOffset(last)
    const key = tpKey(topic, partition)
    const next = BigInt(last) + 1n
    if ((this.#next.get(key) ?? -1n) < next) this.#next.set(key, next)
    this.#uncommitted.set(key, { topic, partition, offset: next.toString() })
    const rebuilding = this.#rebuilding.get(key)
    if (rebuilding !== undefined && next >= BigInt(rebuilding.until)) {
      this.#rebuilding.delete(key)
      this.#checkCaughtUp()
    }
    await this.#commit(this.#stopping)
    await heartbeat() // a rebalance under way surfaces here, after the batch is done
  }

  /** Fire onCaughtUp once no assigned rebuilt partition is behind. */
  #checkCaughtUp (): void {
    if (!this.#joined || this.#rebuilt.length === 0) return
    for (const key of this.#rebuilding.keys()) if (this.#assigned.has(key)) return
    const partitions = this.#rebuilt
    this.#rebuilt = []
    Promise.resolve(this.#options.onCaughtUp?.(partitions, this.#rebuildFrom))
      .catch((err: unknown) => this.#log.error({ err }, 'kafka source: onCaughtUp failed'))
  }

  /** Commit handled offsets to Kafka, at most every commitInterval unless `now`. A hint: failures are logged. */
  async #commit (now: boolean): Promise<void> {
    if (this.#uncommitted.size === 0) return
    const t = Date.now()
    if (!now && t - this.#lastCommit < this.#commitIntervalMs) return
    this.#lastCommit = t
    const offsets = [...this.#uncommitted.values()]
    this.#uncommitted.clear()
    try {
      await this.#consumer.commitOffsets(offsets)
    } catch (err) {
      this.#log.info({ err }, 'kafka offset commit failed (a hint only: the store holds the positions)')
    }
  }
}
