// The dead-letter topic (dlqTopic): every invalid record with its original key and bytes, and headers
// (DLQ_HEADERS) saying why and where it came from. The pipeline awaits its dead letters before it applies the batch:
// at least once into the topic. The sends of one tick are coalesced into produce requests of at most REQUEST_BYTES
// each (a letter larger than that goes alone), and a topic created here takes records up to TOPIC_MAX_MESSAGE_BYTES:
// a letter is its record plus our headers, and the broker refuses a record batch over its limit (1 MB by default)
// for good, which would hold the partition's batch back for ever.
import { type Kafka, type Message, Partitioners, type Producer } from 'kafkajs'
import type { DeadLetter } from '../../model/index.js'
import { createKafka, createTopicAndWait, type KafkaLog, type KafkaLogLevel, STDERR_LOG } from './client.js'

export const DLQ_HEADERS = {
  reason: 'hourglass-reason',
  detail: 'hourglass-detail',
  topic: 'hourglass-source-topic',
  partition: 'hourglass-source-partition',
  offset: 'hourglass-source-offset'
} as const

export interface DeadLetterProducerOptions {
  brokers: string | readonly string[]
  topic: string
  clientId?: string // 'hourglass-dlq'
  /** create the topic at connect when it is missing (broker defaults for partitions and replication) */
  createTopic?: boolean // true
  log?: KafkaLog
  logLevel?: KafkaLogLevel // 'error'
}

/** The original record, as consumed (DeadLetter.raw is text, lossy for bytes that are not UTF-8). */
export interface OriginalRecord {
  bytes?: Buffer
  key?: Buffer | null
}

interface Pending { message: Message, bytes: number, resolve: () => void, reject: (err: unknown) => void }

/** the most bytes (values, keys, headers) one produce request of dead letters carries */
export const REQUEST_BYTES = 512 * 1024
/** `max.message.bytes` of a dead-letter topic created here */
export const TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024

/** Split pending letters, in order, into runs of at most `max` bytes (a larger letter is a run of its own). */
export function byRequest<T extends { bytes: number }> (pending: readonly T[], max = REQUEST_BYTES): T[][] {
  const out: T[][] = []
  let run: T[] = []; let size = 0
  for (const p of pending) {
    if (run.length > 0 && size + p.bytes > max) { out.push(run); run = []; size = 0 }
    run.push(p); size += p.bytes
  }
  if (run.length > 0) out.push(run)
  return out
}

export class DeadLetterProducer {
  readonly topic: string
  readonly #kafka: Kafka
  readonly #producer: Producer
  readonly #options: DeadLetterProducerOptions
  readonly #log: KafkaLog
  #pending: Pending[] = []
  #scheduled = false
  #inFlight = new Set<Promise<void>>()
  #connected = false
  /** records acknowledged by the broker */
  sent = 0

  constructor (options: DeadLetterProducerOptions) {
    this.#options = options
    this.topic = options.topic
    this.#log = options.log ?? STDERR_LOG
    const kafka = createKafka({
      brokers: options.brokers, clientId: options.clientId ?? 'hourglass-dlq', log: this.#log, logLevel: options.logLevel ?? 'error'
    })
    this.#kafka = kafka
    // idempotent, as KafkaWriter: a retried send does not write a dead letter twice
    this.#producer = kafka.producer({
      allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1
    })
  }

  async connect (): Promise<void> {
    await this.#producer.connect()
    this.#connected = true
    if (this.#options.createTopic === false) return
    const admin = this.#kafka.admin()
    try {
      await admin.connect()
      const existing = await admin.listTopics()
      if (!existing.includes(this.topic)) {
        await createTopicAndWait(admin, this.topic, undefined, [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }])
      }
    } catch (err) {
      this.#log.warn({ err, topic: this.topic }, 'dead-letter topic could not be checked or created; relying on the broker to create it')
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  }

  /** Send one dead letter; resolves when the broker has it (acks = all). Without `original.bytes`, `raw` as UTF-8. */
  send (letter: DeadLetter, original: OriginalRecord = {}): Promise<void> {
    if (!this.#connected) return Promise.reject(new Error('dead-letter producer: not connected'))
    const value = original.bytes ?? Buffer.from(letter.raw, 'utf8')
    const headers = {
      [DLQ_HEADERS.reason]: letter.reason,
      [DLQ_HEADERS.detail]: letter.detail,
      [DLQ_HEADERS.topic]: letter.source.topic,
      [DLQ_HEADERS.partition]: String(letter.source.partition),
      [DLQ_HEADERS.offset]: letter.source.offset
    }
    const message: Message = { key: original.key ?? null, value, headers }
    let bytes = value.length + (original.key?.length ?? 0)
    for (const [k, v] of Object.entries(headers)) bytes += k.length + Buffer.byteLength(v)
    return new Promise((resolve, reject) => {
      this.#pending.push({ message, bytes, resolve, reject })
      if (this.#scheduled) return
      this.#scheduled = true
      setImmediate(() => this.#flush())
    })
  }

  #flush (): void {
    this.#scheduled = false
    const pending = this.#pending
    this.#pending = []
    for (const batch of byRequest(pending)) {
      const sending = this.#producer.send({ topic: this.topic, acks: -1, messages: batch.map((p) => p.message) }).then(
        () => { this.sent += batch.length; for (const p of batch) p.resolve() },
        (err: unknown) => {
          this.#log.error({ err, topic: this.topic, records: batch.length }, 'dead letters could not be sent')
          for (const p of batch) p.reject(err)
        }
      )
      this.#inFlight.add(sending)
      void sending.finally(() => this.#inFlight.delete(sending))
    }
  }

  /** Wait for the sends under way, then disconnect. */
  async close (): Promise<void> {
    if (this.#pending.length > 0) this.#flush()
    await Promise.all(this.#inFlight)
    this.#connected = false
    await this.#producer.disconnect().catch(() => undefined)
  }
}
