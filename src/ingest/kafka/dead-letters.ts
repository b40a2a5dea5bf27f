// The dead-letter topic (dlqTopic): every invalid record with its original key and bytes, and headers
// (DLQ_HEADERS) saying why and where it came from. The pipeline awaits its dead letters before it applies the batch:
// at least once into the topic. The sends of one tick are coalesced into one produce request.
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

interface Pending { message: Message, resolve: () => void, reject: (err: unknown) => void }

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
      if (!existing.includes(this.topic)) await createTopicAndWait(admin, this.topic)
    } catch (err) {
      this.#log.warn({ err, topic: this.topic }, 'dead-letter topic could not be checked or created; relying on the broker to create it')
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  }

  /** Send one dead letter; resolves when the broker has it (acks = all). Without `original.bytes`, `raw` as UTF-8. */
  send (letter: DeadLetter, original: OriginalRecord = {}): Promise<void> {
    if (!this.#connected) return Promise.reject(new Error('dead-letter producer: not connected'))
    const message: Message = {
      key: original.key ?? null,
      value: original.bytes ?? Buffer.from(letter.raw, 'utf8'),
      headers: {
        [DLQ_HEADERS.reason]: letter.reason,
        [DLQ_HEADERS.detail]: letter.detail,
        [DLQ_HEADERS.topic]: letter.source.topic,
        [DLQ_HEADERS.partition]: String(letter.source.partition),
        [DLQ_HEADERS.offset]: letter.source.offset
      }
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ message, resolve, reject })
      if (this.#scheduled) return
      this.#scheduled = true
      setImmediate(() => this.#flush())
    })
  }

  #flush (): void {
    this.#scheduled = false
    const batch = this.#pending
    this.#pending = []
    if (batch.length === 0) return
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

  /** Wait for the sends under way, then disconnect. */
  async close (): Promise<void> {
    if (this.#pending.length > 0) this.#flush()
    await Promise.all(this.#inFlight)
    this.#connected = false
    await this.#producer.disconnect().catch(() => undefined)
  }
}
