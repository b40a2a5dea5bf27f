// What the speed layer's KafkaSource and the bronze consumer both are: a member of a consumer
// group (GroupMember) that hands each fetched batch to a handler as raw records with heartbeats
// while it runs, commits nothing by itself, keeps running after crashes kafkajs itself will not
// restart from (a broker outage, however long: retried forever, backing off), reports such an
// outage while it lasts, and stops cleanly. Where a member reads from, and what it commits, is theirs.
import type { Socket } from 'node:net'
import type { Admin, Consumer, EachBatchPayload, RetryOptions } from 'kafkajs'
import type { BatchHandler, RawBatch, RawRecord } from '../source.js'
import { brokerBackoffMs, brokersGone, createKafka, endSockets, type KafkaLog, type KafkaLogLevel, retryWhileBrokersGone, STDERR_LOG } from './client.js'

/** A fetched batch as raw records; null when there is nothing to hand out (not running, stale after a seek, empty). */
export function rawBatch (payload: EachBatchPayload): RawBatch | null {
  const { batch, isRunning, isStale } = payload
  if (!isRunning() || isStale() || batch.messages.length === 0) return null
  const records: RawRecord[] = new Array(batch.messages.length)
  for (let i = 0; i < batch.messages.length; i++) {
    const m = batch.messages[i] as (typeof batch.messages)[number]
    const bytes = m.value ?? Buffer.alloc(0) // a tombstone is an empty (invalid) record
    records[i] = { value: bytes.toString('utf8'), offset: m.offset, bytes, key: m.key ?? null }
  }
  return { topic: batch.topic, partition: batch.partition, records }
}

/** the offset of a batch's last record (rawBatch never gives an empty one) */
export const lastOffset = (batch: RawBatch): string => (batch.records[batch.records.length - 1] as RawRecord).offset

/**
 * Run `handler` on `batch`, heartbeating every `heartbeatMs` while it runs (a handler may wait longer than the session
 * timeout for its store or its flush). Resolves whether the handler handled the batch (false: it resolved false); a
 * handler that throws is logged and rethrown.
 */
export async function runHandler (
  batch: RawBatch, handler: BatchHandler, heartbeat: () => Promise<void>, heartbeatMs: number, log: KafkaLog
): Promise<boolean> {
  const { topic, partition } = batch
  const beat = setInterval(() => {
    heartbeat().catch((err: unknown) => log.info({ err, topic, partition }, 'kafka heartbeat during a batch failed'))
  }, heartbeatMs)
  try {
    return await handler(batch) !== false
  } catch (err) {
    const where = { topic, partition, first: batch.records[0]?.offset, last: lastOffset(batch) }
    log.error({ err, ...where }, 'batch handler failed; its records will be handed out again')
    throw err
  } finally {
    clearInterval(beat)
  }
}

/**
 * Hand one fetched batch to `handler` and await it (runHandler). Returns the batch's last offset once the handler has
 * resolved, or null when there was nothing to hand out (rawBatch) or the handler left it unhandled (resolved false). A
 * handler that throws is rethrown: kafkajs hands the batch out again.
 */
export async function handBatch (payload: EachBatchPayload, handler: BatchHandler, heartbeatMs: number, log: KafkaLog): Promise<string | null> {
  const batch = rawBatch(payload)
  if (batch === null) return null
  return await runHandler(batch, handler, payload.heartbeat, heartbeatMs, log) ? lastOffset(batch) : null
}

export interface CrashRestartOptions {
  /** runs the consumer (consumer.run with its eachBatch) */
  run: () => Promise<void>
  groupId: string
  log: KafkaLog
  /** true once the owner is stopping: crashes are then left alone */
  stopping: () => boolean
  /** a crash the consumer does not come back from */
  fatal: (err: unknown) => void
}

/**
 * Keeps a consumer running across crashes. kafkajs restarts its consumer after most failures
 * (restartOnFailure), but gives up for good when no broker answers while it looks for the group
 * coordinator (a broker restart, with one broker): it calls that non-retriable. The crash has
 * disconnected the consumer; this runs it again, later, backing off up to 10 s until the next join
 * (joined()). Any other crash kafkajs does not restart from is fatal.
 */
export class CrashRestarts {
  readonly #o: CrashRestartOptions
  #restarts = 0
  #timer: NodeJS.Timeout | undefined

  constructor (consumer: Consumer, options: CrashRestartOptions) {
    this.#o = options
    consumer.on(consumer.events.CRASH, ({ payload }) => this.#crashed(payload.error, payload.restart))
  }

  /** the consumer joined its group: the next crash starts the back-off afresh */
  joined (): void {
    this.#restarts = 0
  }

  /** no restart after this (the owner stops) */
  cancel (): void {
    clearTimeout(this.#timer)
  }

  #crashed (error: Error, restarting: boolean): void {
    // restartOnFailure has logged it and the consumer rejoins; or the owner is stopping, and a
    // join in flight failed because stop() disconnected under it
    if (restarting || this.#o.stopping()) return
    const { groupId, log } = this.#o
    if (!brokersGone(error)) {
      log.error({ err: error, groupId }, 'kafka consumer crashed and will not restart')
      this.#o.fatal(error)
      return
    }
    const delayMs = brokerBackoffMs(this.#restarts++)
    log.warn({ err: error, groupId, delayMs }, 'kafka consumer lost the brokers; restarting it')
    this.#timer = setTimeout(() => {
      if (this.#o.stopping()) return
      this.#o.run().catch((err: unknown) => {
        if (brokersGone(err)) { this.#crashed(err as Error, false); return } // still no broker: later again
        log.error({ err, groupId }, 'kafka consumer could not be restarted')
        this.#o.fatal(err)
      })
    }, delayMs)
  }
}

/** How a group member connects and behaves; a member's own options extend these. */
export interface GroupOptions {
  /** host:port list, or one comma-separated string */
  brokers: string | readonly string[]
  topics: readonly string[]
  groupId: string
  clientId?: string // the member's default client id
  /** heartbeats while a handler runs */
  heartbeatIntervalMs?: number // three seconds
  sessionTimeoutMs?: number // thirty seconds
  /** fetch size per partition: an upper bound on a batch */
  maxBytesPerPartition?: number // one MiB
  /** batches of different partitions handed to the handler at once (one partition's batches always one after another) */
  partitionsConsumedConcurrently?: number // one
  /** kafkajs retry options (the consumer restarts after the retries are spent) */
  retry?: RetryOptions
  log?: KafkaLog // errors to stderr
  /** what kafkajs itself logs */
  logLevel?: KafkaLogLevel // 'error'
  /** the member reaches no broker since `since` (epoch ms: a crash for lack of brokers), or does again (null: it rejoined) */
  onOutage?: (since: number | null) => void
}

/** One kafkajs consumer in a group, with its admin client; see the opening comment. */
export class GroupMember {
  readonly topics: readonly string[]
  readonly groupId: string
  readonly consumer: Consumer
  readonly admin: Admin
  readonly log: KafkaLog
  readonly heartbeatMs: number
  readonly #concurrently: number
  /** resolves when stopped; rejects when the consumer died for good (see fail) */
  readonly done: Promise<void>
  /** in the group: a join seen since the consumer last (re)started or began to rebalance */
  joined = false
  started = false
  stopping = false
  /** the client's open sockets: disconnect ends those kafkajs forgot (client.ts, trackingSocketFactory) */
  readonly #sockets = new Set<Socket>()
  #crashes: CrashRestarts | null = null
  #stopped: Promise<void> | null = null
  /** aborted by stop(): a start waiting out a broker outage gives up */
  readonly #stopSignal = new AbortController()
  /** run() has added its listeners (a start tried again must not add them twice) */
  #listening = false
  readonly #onOutage: ((since: number | null) => void) | undefined
  /** when the brokers were lost (a crash for lack of them), until the next join */
  #outageSince: number | null = null
  #resolve!: () => void
  #reject!: (err: unknown) => void

  /** `defaults`: the client id of this kind of member */
  constructor (options: GroupOptions, defaults: { clientId: string }) {
    this.topics = options.topics
    this.groupId = options.groupId
    if (this.topics.length === 0) throw new Error(`kafka consumer ${this.groupId}: no topics given`)
    this.log = options.log ?? STDERR_LOG
    this.heartbeatMs = options.heartbeatIntervalMs ?? 3000
    this.#concurrently = options.partitionsConsumedConcurrently ?? 1
    this.#onOutage = options.onOutage
    const kafka = createKafka({
      brokers: options.brokers, clientId: options.clientId ?? defaults.clientId, log: this.log, logLevel: options.logLevel ?? 'error', sockets: this.#sockets
    })
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.heartbeatMs,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      retry: {
        ...options.retry,
        restartOnFailure: async (err) => {
          this.joined = false
          if (this.stopping) return false
          this.log.warn({ err, groupId: this.groupId }, 'kafka consumer failed; restarting it')
          return true
        }
      }
    })
    this.admin = kafka.admin()
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.done.catch(() => undefined) // reported to whoever awaits done, never as unhandled
  }

  /** Connect the admin client and the consumer (start() of a member, before it reads positions). */
  async connect (): Promise<void> {
    if (this.started) throw new Error(`kafka consumer ${this.groupId}: already started`)
    this.started = true
    await this.admin.connect()
    await this.consumer.connect()
  }

  /**
   * Start the member: `attempt` (connect, read positions, run) is tried until it succeeds, the
   * member stops (resolves either way), or it fails for another reason than lost brokers (rejects).
   * A broker outage at start is waited out like one later, and reported while it lasts.
   */
  async start (attempt: () => Promise<void>): Promise<void> {
    await retryWhileBrokersGone(attempt, {
      what: `kafka consumer ${this.groupId}`,
      log: this.log,
      signal: this.#stopSignal.signal,
      onOutage: (since) => { if (since !== null) this.#outage(since) }, // a join ends it
      afterFailure: async () => {
        await this.disconnect()
        this.started = false
      }
    })
  }

  /**
   * Subscribe and run: `onJoin` is called synchronously on every (re)join with the assignment
   * (kafkajs does not await its GROUP_JOIN event: seek there), `eachBatch` for every batch, with no
   * auto-commit and partitionsConsumedConcurrently partitions at a time. Resolves once the consumer runs.
   */
  async run (onJoin: (assignment: Record<string, number[]>) => void, eachBatch: (payload: EachBatchPayload) => Promise<void>): Promise<void> {
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: true })
    const run = (): Promise<void> => this.consumer.run({
      autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: this.#concurrently, eachBatch
    })
    if (this.#listening) return await run()
    this.#listening = true
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joined = true
      this.#crashes?.joined()
      this.#outage(null)
      onJoin(payload.memberAssignment)
    })
    this.consumer.on(this.consumer.events.REBALANCING, () => { this.joined = false })
    // every crash, whether kafkajs restarts the consumer itself or CrashRestarts does
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => { if (brokersGone(payload.error)) this.#outage(Date.now()) })
    this.#crashes = new CrashRestarts(this.consumer, {
      run, groupId: this.groupId, log: this.log, stopping: () => this.stopping, fatal: (err) => this.fail(err)
    })
    await run()
  }

  /** an outage begins at `since` (a later crash of the same outage changes nothing), or ends (null) */
  #outage (since: number | null): void {
    if ((since === null) === (this.#outageSince === null)) return
    this.#outageSince = since
    this.#onOutage?.(since)
  }

  /** the consumer died for good: `done` rejects */
  fail (err: unknown): void {
    this.#reject(err)
  }

  /**
   * Finish the batch in hand (after `beforeStop`, e.g. a last commit), leave the group and
   * disconnect. While the consumer is still joining its group (which waits for the members the
   * coordinator knows of, a dead one until its session expires), it ends the connections first:
   * kafkajs's disconnect would otherwise wait for the join request to be answered.
   */
  stop (beforeStop?: () => Promise<void>): Promise<void> {
    this.#stopped ??= (async () => {
      this.stopping = true
      this.#stopSignal.abort()
      this.#crashes?.cancel()
      if (this.started) {
        await beforeStop?.()
        if (!this.joined) await endSockets(this.#sockets, 500)
        await this.consumer.stop().catch((err: unknown) => this.log.warn({ err }, 'kafka consumer did not stop cleanly'))
        await this.disconnect()
      }
      this.#resolve()
    })()
    return this.#stopped
  }

  /** Disconnect the consumer and the admin client, then end the sockets kafkajs forgot. Never throws. */
  async disconnect (): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined)
    await this.admin.disconnect().catch(() => undefined)
    await endSockets(this.#sockets)
  }
}
