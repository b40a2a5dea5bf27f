// The Kafka record source: a kafkajs consumer group (kafkaGroup) with no auto-commit. Fetching runs ahead of applying:
// a fetched batch is handed to the handler and taken (kafkajs resolves it and fetches the next) without awaiting the
// apply; a partition has at most one batch in flight, its next batch waits for it (a slow store slows the fetches:
// backpressure). A batch not applied (the handler threw or resolved false) moves its partition back to after what was
// applied, and the batches of it fetched meanwhile are dropped (lanes.ts): none is applied with a gap before it.
// Offsets are committed to Kafka only for applied batches.
// The speed store's positions are the truth, Kafka's committed offsets only a hint: every join seeks each assigned
// partition past what the store holds, and an empty store is rebuilt by a rewind to rebuildFrom() (onRebuild, then
// onCaughtUp). Correctness never depends on the seeks: the pipeline skips records at or below the stored position
// and the store's compare-and-set rejects overlapping writers; the seeks avoid re-reading. Crashes: see group-run.ts.
import type { EachBatchPayload } from 'kafkajs'
import { partitionKey } from '../../model/source-position.js'
import type { BatchHandler, RawBatch, RawRecord, RecordSource } from '../source.js'
import { GroupMember, type GroupOptions, lastOffset, rawBatch, runHandler } from './group-run.js'
import { Lanes } from './lanes.js'

export interface KafkaSourceOptions extends GroupOptions {
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
  /** on every (re)join: how many partitions are assigned here, of how many the topics have */
  onAssigned?: (assigned: number, total: number) => void
  /** how often handled offsets are committed to Kafka (a hint only; also on stop) */
  commitIntervalMs?: number // five seconds
  /**
   * a batch fetched while its partition's batch in flight is applied: work that does not depend on that one (decoding
   * in threads) may start meanwhile. The same batch object is handed to the handler later, or dropped.
   */
  onFetchedAhead?: (batch: RawBatch) => void
}

export interface RebuildPartition {
  topic: string
  partition: number
  /** the first offset read */
  from: string
  /** the log end offset at the rewind: caught up once everything below it is handled */
  until: string
}

const REBUILD_SLACK_MS = 5 * 60_000

export class KafkaSource implements RecordSource {
  readonly topics: readonly string[]
  readonly groupId: string
  readonly done: Promise<void>
  readonly #m: GroupMember
  readonly #options: KafkaSourceOptions
  readonly #commitIntervalMs: number
  /** the next offset to read per partition: stored + 1, a rebuild offset, or applied + 1 */
  readonly #next = new Map<string, bigint>()
  /** applied + 1 and not yet committed */
  readonly #uncommitted = new Map<string, { topic: string, partition: number, offset: string }>()
  /** rebuilt partitions not yet caught up */
  readonly #rebuilding = new Map<string, RebuildPartition>()
  #rebuilt: RebuildPartition[] = []
  #rebuildFrom = 0
  /** the partitions assigned here, by partitionKey */
  #assigned = new Map<string, { topic: string, partition: number }>()
  #lastCommit = 0
  /** partitions of the topics, as of the last read of their metadata */
  #partitionTotal = 0
  /** counts rebuild() calls: a batch handled across one is not acknowledged */
  #generation = 0
  #rebuildRunning: Promise<void> | null = null
  /** per partition: the batch in flight, and whether the partition moved since its last batch */
  readonly #lanes = new Lanes()

  constructor (options: KafkaSourceOptions) {
    this.#options = options
    this.#m = new GroupMember(options, { clientId: 'hourglass' })
    this.topics = this.#m.topics
    this.groupId = this.#m.groupId
    this.done = this.#m.done
    this.#commitIntervalMs = options.commitIntervalMs ?? 5000
  }

  /** whether a rebuild is in progress (the store was empty and the rewound partitions are not caught up) */
  get rebuilding (): boolean {
    return this.#rebuilding.size > 0
  }

  async start (handler: BatchHandler): Promise<void> {
    if (this.#m.started) throw new Error('kafka source: already started')
    // a broker outage at start is waited out (GroupMember.start)
    await this.#m.start(async () => {
      this.#next.clear()
      this.#rebuilding.clear()
      await this.#m.connect()
      await this.#readPositions()
      await this.#m.run((assignment) => this.#onJoin(assignment), (payload) => this.#eachBatch(payload, handler))
    })
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
      await this.#readPositions(true)
      this.#seekAssigned()
      this.#checkCaughtUp()
    })().finally(() => { this.#rebuildRunning = null })
    return this.#rebuildRunning
  }

  /** Stop fetching (all topics) until resume(); the batch in hand still finishes. */
  pause (): void {
    this.#m.consumer.pause(this.topics.map((topic) => ({ topic })))
  }

  resume (): void {
    this.#m.consumer.resume(this.topics.map((topic) => ({ topic })))
  }

  /** Finish the batches in flight, commit what was applied (a hint), leave the group and disconnect. */
  stop (): Promise<void> {
    return this.#m.stop(async () => {
      await this.#lanes.idle()
      await this.#commit(true)
    })
  }

  /**
   * Stored positions of every partition, and where a partition without one (or an empty store) starts. `lost`: the
   * store lost its state, so this is a rebuild even where a partition's first batch has landed since (it started there).
   */
  async #readPositions (lost = false): Promise<void> {
    const { topics } = await this.#m.admin.fetchTopicMetadata({ topics: [...this.topics] })
    const missing: { topic: string, partition: number }[] = []
    this.#partitionTotal = topics.reduce((n, t) => n + t.partitions.length, 0)
    let stored = 0
    for (const t of topics) {
      const positions = await Promise.all(t.partitions.map((p) => this.#options.positions(t.name, p.partitionId)))
      t.partitions.forEach((p, i) => {
        const position = positions[i] ?? null
        if (position === null) missing.push({ topic: t.name, partition: p.partitionId })
        else { stored++; this.#next.set(partitionKey(t.name, p.partitionId), BigInt(position) + 1n) }
      })
    }
    if (missing.length === 0) return
    const from = this.#options.rebuildFrom()
    const since = from - (this.#options.rebuildSlackMs ?? REBUILD_SLACK_MS)
    const rebuild = stored === 0 || lost
    const rewound: RebuildPartition[] = []
    for (const topic of new Set(missing.map((m) => m.topic))) {
      const [starts, ends] = await Promise.all([
        this.#m.admin.fetchTopicOffsetsByTimestamp(topic, since),
        rebuild ? this.#m.admin.fetchTopicOffsets(topic) : Promise.resolve([])
      ])
      for (const { partition, offset } of starts) {
        if (!missing.some((m) => m.topic === topic && m.partition === partition)) continue
        this.#next.set(partitionKey(topic, partition), BigInt(offset))
        if (!rebuild) continue
        const until = ends.find((e) => e.partition === partition)?.high ?? offset
        const p: RebuildPartition = { topic, partition, from: offset, until }
        rewound.push(p)
        if (BigInt(until) > BigInt(offset)) this.#rebuilding.set(partitionKey(topic, partition), p)
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
    this.#assigned = new Map(assigned.map((a) => [partitionKey(a.topic, a.partition), a]))
    this.#seekAssigned()
    for (const key of this.#uncommitted.keys()) if (!this.#assigned.has(key)) this.#uncommitted.delete(key)
    this.#lanes.keepFailures((key) => this.#assigned.has(key))
    this.#checkCaughtUp()
    this.#options.onAssigned?.(assigned.length, this.#partitionTotal)
    this.#refresh(assigned).catch((err: unknown) => this.#m.log.warn({ err }, 'kafka source: could not re-read the stored positions'))
  }

  /** Seek every partition assigned here to where it continues (#next), where that is known. */
  #seekAssigned (): void {
    if (this.#m.stopping) return
    for (const [key, { topic, partition }] of this.#assigned) {
      const next = this.#next.get(key)
      if (next === undefined) continue
      this.#lanes.moved(key)
      this.#m.consumer.seek({ topic, partition, offset: next.toString() })
    }
  }

  /** After a rebalance: the store may be ahead of what this member knew (another member applied meanwhile). */
  async #refresh (assigned: { topic: string, partition: number }[]): Promise<void> {
    const stored = await Promise.all(assigned.map((a) => this.#options.positions(a.topic, a.partition)))
    const unknown: { topic: string, partition: number }[] = []
    assigned.forEach(({ topic, partition }, i) => {
      const position = stored[i] ?? null
      const key = partitionKey(topic, partition)
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
      for (const { partition, offset } of await this.#m.admin.fetchTopicOffsetsByTimestamp(topic, since)) {
        if (unknown.some((u) => u.topic === topic && u.partition === partition) && !this.#next.has(partitionKey(topic, partition))) {
          this.#seek(topic, partition, BigInt(offset))
        }
      }
    }
  }

  #seek (topic: string, partition: number, next: bigint): void {
    const key = partitionKey(topic, partition)
    this.#next.set(key, next)
    if (!this.#assigned.has(key) || this.#m.stopping) return
    this.#lanes.moved(key)
    this.#m.consumer.seek({ topic, partition, offset: next.toString() })
  }

  /**
   * Take a fetched batch once its partition's batch in flight has settled: hand it to the handler without awaiting the
   * apply, and resolve it, so kafkajs fetches the next batches meanwhile. A batch fetched before its partition moved is
   * dropped; the next one after a handler threw rethrows its error instead (kafkajs backs off, then fetches again).
   */
  async #eachBatch (payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch: { topic, partition }, resolveOffset, heartbeat } = payload
    const key = partitionKey(topic, partition)
    const ahead = this.#options.onFetchedAhead !== undefined && this.#lanes.busy(key) ? rawBatch(payload) : null
    if (ahead !== null) this.#options.onFetchedAhead?.(ahead)
    await this.#lanes.settled(key) // its heartbeats run meanwhile
    const { take, failure } = this.#lanes.next(key)
    if (this.#m.stopping) return
    if (failure !== null) throw failure.err
    const batch = take && payload.isRunning() && !payload.isStale() ? ahead ?? rawBatch(payload) : null
    if (batch === null) return
    resolveOffset(lastOffset(batch))
    this.#lanes.run(key, this.#apply(batch, handler, payload.heartbeat))
    await heartbeat() // a rebalance under way surfaces here
  }

  /** Apply a taken batch (the handler), then acknowledge it, or move its partition back to after what was applied. */
  async #apply (batch: RawBatch, handler: BatchHandler, heartbeat: () => Promise<void>): Promise<void> {
    const { topic, partition } = batch
    const key = partitionKey(topic, partition)
    const generation = this.#generation
    let handled
    try {
      handled = await runHandler(batch, handler, heartbeat, this.#m.heartbeatMs, this.#m.log)
    } catch (err) {
      this.#moveBack(batch, err)
      return
    }
    // not handled, or rebuild() rewound the partitions meanwhile: nothing of this batch is acknowledged
    if (!handled || generation !== this.#generation) {
      this.#moveBack(batch)
      return
    }
    const next = BigInt(lastOffset(batch)) + 1n
    if ((this.#next.get(key) ?? -1n) < next) this.#next.set(key, next)
    this.#uncommitted.set(key, { topic, partition, offset: next.toString() })
    const rebuilding = this.#rebuilding.get(key)
    if (rebuilding !== undefined && next >= BigInt(rebuilding.until)) {
      this.#rebuilding.delete(key)
      this.#checkCaughtUp()
    }
    await this.#commit(this.#m.stopping)
  }

  /**
   * A taken batch was not applied: its partition continues after what was applied (#next; the batch's first offset
   * when unknown, as every batch before it was applied). Later batches of it already fetched are dropped (lanes).
   */
  #moveBack (batch: RawBatch, failure?: unknown): void {
    const { topic, partition } = batch
    const key = partitionKey(topic, partition)
    this.#lanes.moved(key, failure)
    if (this.#m.stopping) return
    const next = this.#next.get(key) ?? BigInt((batch.records[0] as RawRecord).offset)
    // not only while assigned here: a join seeks every assigned partition again anyway
    try {
      this.#m.consumer.seek({ topic, partition, offset: next.toString() })
    } catch (err) {
      this.#m.log.warn({ err, topic, partition }, 'kafka source: could not seek a partition back')
    }
  }

  /** Fire onCaughtUp once no assigned rebuilt partition is behind. */
  #checkCaughtUp (): void {
    if (!this.#m.joined || this.#rebuilt.length === 0) return
    for (const key of this.#rebuilding.keys()) if (this.#assigned.has(key)) return
    const partitions = this.#rebuilt
    this.#rebuilt = []
    Promise.resolve(this.#options.onCaughtUp?.(partitions, this.#rebuildFrom))
      .catch((err: unknown) => this.#m.log.error({ err }, 'kafka source: onCaughtUp failed'))
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
      await this.#m.consumer.commitOffsets(offsets)
    } catch (err) {
      this.#m.log.info({ err }, 'kafka offset commit failed (a hint only: the store holds the positions)')
    }
  }
}
