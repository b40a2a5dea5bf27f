// The bronze consumer: a kafkajs consumer group of its own (kafkaBronzeGroup) over the same topics as the
// speed layer, so a slow Parquet write never delays the speed layer and a speed store that forgets (memory) never
// makes bronze skip records. It resumes after the caller's positions (what bronze has flushed; else from startFrom()),
// continues between joins after what it handed out (the handler buffers it), and never commits by itself.
// A handler that throws gets the batch again (it must skip what it already holds); crashes as in group-run.ts.
import type { EachBatchPayload } from 'kafkajs'
import { partitionKey } from '../../model/source-position.js'
import type { BatchHandler, RecordSource } from '../source.js'
import { GroupMember, type GroupOptions, handBatch } from './group-run.js'

export interface BronzeSourceOptions extends GroupOptions {
  /** the last offset of a partition that bronze holds (null: none); reading resumes after it */
  positions: (topic: string, partition: number) => Promise<string | null>
  /** a partition bronze holds nothing of starts at its first record at or after this time (epoch ms); default: its earliest */
  startFrom?: () => number
  /** where each partition starts, before any record is handed out (awaited) */
  onStart?: (starts: StartPosition[]) => void | Promise<void>
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

export class BronzeKafkaSource implements RecordSource {
  readonly topics: readonly string[]
  readonly groupId: string
  readonly done: Promise<void>
  readonly #m: GroupMember
  readonly #options: BronzeSourceOptions
  /** the next offset to read per partition: stored + 1, a start offset, or handed out + 1 */
  readonly #next = new Map<string, bigint>()
  #starts: StartPosition[] = []
  /** commits run one after the other, so an older one never lands after a newer one */
  #commits: Promise<void> = Promise.resolve()

  constructor (options: BronzeSourceOptions) {
    this.#options = options
    this.#m = new GroupMember(options, { clientId: 'hourglass-bronze' })
    this.topics = this.#m.topics
    this.groupId = this.#m.groupId
    this.done = this.#m.done
  }

  /** Where each partition of the topics started (known once start() resolved). */
  get startPositions (): readonly StartPosition[] {
    return this.#starts
  }

  /** Connect, read the positions, join the group and run; resolves once running (or stopped meanwhile); waits out a broker outage. */
  async start (handler: BatchHandler): Promise<void> {
    if (this.#m.started) throw new Error('bronze kafka source: already started')
    if (this.#m.stopping) return
    await this.#m.start(async () => {
      await this.#m.connect()
      await this.#readPositions()
      if (this.#m.stopping) return // stop() disconnects
      await this.#options.onStart?.(this.#starts.map((p) => ({ ...p })))
      if (this.#m.stopping) return
      await this.#m.run((assignment) => {
        for (const [topic, partitions] of Object.entries(assignment)) {
          for (const partition of partitions) {
            const next = this.#next.get(partitionKey(topic, partition))
            if (next !== undefined) this.#m.consumer.seek({ topic, partition, offset: next.toString() })
          }
        }
      }, (payload) => this.#eachBatch(payload, handler))
    })
  }

  /**
   * Commit offsets to Kafka (a hint for lag tools; the caller's positions are the truth): call it
   * only for records that are safely stored (renamed into place in bronze), so that a committed offset is a valid start
   * for whoever reads the group's offsets. Failures are logged, not thrown.
   */
  commit (offsets: readonly CommitOffset[]): Promise<void> {
    if (offsets.length === 0 || !this.#m.started) return this.#commits
    this.#commits = this.#commits.then(async () => {
      try {
        await this.#m.consumer.commitOffsets(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })))
      } catch (err) {
        this.#m.log.info({ err }, 'kafka offset commit failed (a hint only: the bronze state holds the positions)')
      }
    })
    return this.#commits
  }

  /** Finish the batch in hand, leave the group and disconnect. Commits nothing by itself. */
  stop (): Promise<void> {
    return this.#m.stop(() => this.#commits)
  }

  /** Where each partition continues: after the stored position, else from startFrom() or the earliest offset. */
  async #readPositions (): Promise<void> {
    const { topics } = await this.#m.admin.fetchTopicMetadata({ topics: [...this.topics] })
    const starts: StartPosition[] = []
    for (const t of topics) {
      const [positions, offsets] = await Promise.all([
        Promise.all(t.partitions.map((p) => this.#options.positions(t.name, p.partitionId))),
        this.#m.admin.fetchTopicOffsets(t.name)
      ])
      const missing = t.partitions.some((_, i) => positions[i] == null)
      const byTime = missing && this.#options.startFrom !== undefined ? await this.#m.admin.fetchTopicOffsetsByTimestamp(t.name, this.#options.startFrom()) : []
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
          if (position !== null) {
            this.#m.log.warn({ topic: t.name, partition: p.partitionId, from: from.toString(), low: o.low },
              'records bronze had not read yet were removed by the topic\'s retention')
          }
          from = BigInt(o.low)
        }
        this.#next.set(partitionKey(t.name, p.partitionId), from)
        starts.push({ topic: t.name, partition: p.partitionId, from: from.toString(), end, stored: position !== null })
      })
    }
    this.#starts = starts.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  async #eachBatch (payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch: { topic, partition }, resolveOffset, heartbeat } = payload
    const last = await handBatch(payload, handler, this.#m.heartbeatMs, this.#m.log)
    if (last === null) return
    resolveOffset(last)
    const key = partitionKey(topic, partition)
    const next = BigInt(last) + 1n
    if ((this.#next.get(key) ?? -1n) < next) this.#next.set(key, next)
    await heartbeat() // a rebalance under way surfaces here, after the batch is done
  }
}
