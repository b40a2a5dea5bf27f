// Writing events to Kafka: `hourglass produce`, the tests and the benchmarks.
//
// produce() sends synthetic traffic (TrafficGenerator: the same mix of event types, regions,
// duplicates, late and invalid records as the embedded source) or the lines of a JSON Lines file,
// keyed by event_id so that duplicates of an event land in the same partition, at a given rate, in
// batches acknowledged by all in-sync replicas (acks = all), with a progress report every second.
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { type IHeaders, type Kafka, Partitioners, type Producer } from 'kafkajs'
import { TrafficGenerator, type Shares } from '../synthetic.js'
import { createKafka, createTopicAndWait, type KafkaLog, type KafkaLogLevel } from './client.js'

export interface OutgoingRecord {
  key?: string | Buffer | null
  value: string | Buffer
  /** record timestamp (epoch ms); default: when it is sent */
  timestamp?: number
  headers?: IHeaders
}

export interface KafkaWriterOptions {
  brokers: string | readonly string[]
  clientId?: string // 'hourglass-producer'
  /** records per produce request */
  maxBatch?: number // five thousand
  log?: KafkaLog
  logLevel?: KafkaLogLevel // 'error'
}

const KEY_PREFIX = '{"event_id":"'

/**
 * The key of a record: its event_id when the line is a JSON object that has one (a string), else
 * null. The common shape (event_id first, no escapes) is read without parsing the whole line.
 */
export function eventKey (line: string): string | null {
  if (line.startsWith(KEY_PREFIX)) {
    const end = line.indexOf('"', KEY_PREFIX.length)
    if (end > KEY_PREFIX.length) {
      const id = line.slice(KEY_PREFIX.length, end)
      if (!id.includes('\\')) return id
    }
  }
  try {
    const v: unknown = JSON.parse(line)
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const id = (v as Record<string, unknown>).event_id
      if (typeof id === 'string') return id
    }
  } catch { /* not JSON: no key */ }
  return null
}

/** A connected kafkajs producer that sends record lists in batches with acks = all. */
export class KafkaWriter {
  readonly #kafka: Kafka
  #producer: Producer
  readonly #maxBatch: number

  constructor (options: KafkaWriterOptions) {
    this.#kafka = createKafka({
      brokers: options.brokers, clientId: options.clientId ?? 'hourglass-producer',
      ...(options.log === undefined ? {} : { log: options.log }), logLevel: options.logLevel ?? 'error'
    })
    this.#producer = this.#newProducer()
    this.#maxBatch = options.maxBatch ?? 5000
  }

  // idempotent: a send retried after a timeout (its first attempt may have landed) is not written
  // twice; it takes one request in flight per broker and retries until the broker answers
  #newProducer (): Producer {
    return this.#kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1
    })
  }

  get kafka (): Kafka {
    return this.#kafka
  }

  async connect (): Promise<void> {
    await this.#producer.connect()
  }

  /** Create the topic when missing (returns false when it existed). */
  async createTopic (topic: string, numPartitions?: number): Promise<boolean> {
    const admin = this.#kafka.admin()
    await admin.connect()
    try {
      if ((await admin.listTopics()).includes(topic)) return false
      return await createTopicAndWait(admin, topic, numPartitions)
    } finally {
      await admin.disconnect()
    }
  }

  /** Send records in order, at most maxBatch per request; resolves when all are acknowledged. */
  async send (topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += this.#maxBatch) {
      const messages = records.slice(i, i + this.#maxBatch).map((r) => ({
        key: r.key ?? null,
        value: r.value,
        ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
        ...(r.headers === undefined ? {} : { headers: r.headers })
      }))
      try {
        await this.#producer.send({ topic, acks: -1, messages })
      } catch (err) {
        if ((err as { type?: string }).type !== 'OUT_OF_ORDER_SEQUENCE_NUMBER') throw err
        // kafkajs's idempotent producer is dead after this (its sequences are out of step with the broker's; seen on
        // the first send to a topic created just before, on a loaded broker): a new producer (a new producer id) sends
        // the batch again. Partitions of it that had landed are then written twice (duplicates of an event are
        // dropped by its event_id downstream); dying instead would lose the rest of the stream.
        await this.#producer.disconnect().catch(() => undefined)
        this.#producer = this.#newProducer()
        await this.#producer.connect()
        await this.#producer.send({ topic, acks: -1, messages })
      }
    }
  }

  async close (): Promise<void> {
    await this.#producer.disconnect()
  }
}

export interface ProduceOptions {
  brokers: string | readonly string[]
  topic: string
  /** records per second; Infinity: as fast as the broker takes them */
  rate: number
  /** stop after this many records */
  count?: number
  /** stop after this long (ms) */
  durationMs?: number
  /** a JSON Lines file to send instead of synthetic traffic (blank lines are skipped) */
  file?: string
  /** each line's record value (default: the line itself, JSON), e.g. Avro: avro-encode.ts */
  encode?: (line: string) => Buffer | string
  /** synthetic traffic */
  seed?: number // the clock
  shares: Shares
  /** called about every second, and once at the end */
  onProgress?: (p: ProduceProgress) => void
  signal?: AbortSignal
  log?: KafkaLog
  logLevel?: KafkaLogLevel
}

export interface ProduceProgress {
  sent: number
  elapsedMs: number
  /** records per second over the last interval */
  rate: number
  done: boolean
}

export interface ProduceSummary {
  topic: string
  sent: number
  bytes: number
  elapsedMs: number
  /** mean records per second */
  rate: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** at most one produce request per this much time at low rates; more often at high ones */
const TICK_MS = 20
const MAX_BATCH = 5000

/** Send synthetic events or a file's lines to a topic at a rate; resolves with a summary when done or aborted. */
export async function produce (options: ProduceOptions): Promise<ProduceSummary> {
  const { topic } = options
  const limit = options.count ?? Infinity
  const rate = options.rate
  if (!(rate > 0)) throw new Error('produce: the rate must be above 0')
  const writer = new KafkaWriter({
    brokers: options.brokers,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel })
  })
  await writer.connect()
  const started = Date.now()
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs
  let sent = 0
  let bytes = 0
  let lastReport = { at: started, sent: 0 }
  const report = (done: boolean): void => {
    const t = Date.now()
    const span = t - lastReport.at
    options.onProgress?.({ sent, elapsedMs: t - started, rate: span > 0 ? ((sent - lastReport.sent) * 1000) / span : 0, done })
    lastReport = { at: t, sent }
  }
  const next = options.file === undefined ? synthetic(options.seed ?? Date.now() % 2_147_483_647, options.shares) : fileLines(options.file)
  try {
    let exhausted = false
    while (!exhausted && sent < limit && Date.now() < deadline && options.signal?.aborted !== true) {
      const t = Date.now()
      // what is due by now at the rate (all of it, in batches, when the rate is unlimited)
      const due = rate === Infinity ? MAX_BATCH : Math.min(MAX_BATCH, Math.floor((rate * (t - started)) / 1000) - sent)
      const n = Math.min(due, limit - sent)
      if (n <= 0) {
        await sleep(Math.max(1, Math.min(TICK_MS, Math.ceil((1000 * (sent + 1)) / rate) - (t - started))))
      } else {
        const records: OutgoingRecord[] = []
        for (let i = 0; i < n; i++) {
          const line = await next(t)
          if (line === null) { exhausted = true; break }
          const value = options.encode === undefined ? line : options.encode(line)
          records.push({ key: eventKey(line), value })
          bytes += typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength
        }
        if (records.length > 0) await writer.send(topic, records)
        sent += records.length
      }
      if (Date.now() - lastReport.at >= 1000) report(false)
    }
  } finally {
    await writer.close().catch(() => undefined)
  }
  report(true)
  const elapsedMs = Date.now() - started
  return { topic, sent, bytes, elapsedMs, rate: elapsedMs > 0 ? (sent * 1000) / elapsedMs : sent }
}

/** synthetic lines with event time = when they are made */
function synthetic (seed: number, shares: Shares): (now: number) => Promise<string> {
  const gen = new TrafficGenerator({ seed, shares })
  return async (now) => gen.record(now)
}

/** the file's non-blank lines, then null */
function fileLines (path: string): () => Promise<string | null> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })[Symbol.asyncIterator]()
  return async () => {
    for (;;) {
      const r = await lines.next()
      if (r.done === true) return null
      if (r.value.trim() !== '') return r.value
    }
  }
}
