// Reading a topic back in tests: every record from the beginning, with its bytes and headers.
import { createKafka } from '../../src/ingest/kafka/index.js'
import { sleep } from './wait.js'

export interface ConsumedRecord {
  partition: number
  offset: string
  key: Buffer | null
  value: Buffer
  headers: Record<string, string | undefined>
  timestamp: number
}

/**
 * Consume `topic` from the beginning with a fresh group until `expected` records arrived (then
 * `settleMs` more, so that extra records would be seen too) or `timeoutMs` passed. Each record is
 * returned once, by (partition, offset): a rebalance of the reading group (a loaded machine misses a
 * heartbeat) hands a partition back from its last commit, and the records read again are the same
 * records, not ones written twice (a producer's duplicate has an offset of its own and is kept).
 */
export async function consumeAll (brokers: string, topic: string, expected: number, timeoutMs: number, settleMs = 1000): Promise<ConsumedRecord[]> {
  const kafka = createKafka({ brokers, logLevel: 'nothing' })
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now()}-${Math.floor(Math.random() * 1e6)}` })
  const out = new Map<string, ConsumedRecord>()
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string | undefined> = {}
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v)
        out.set(`${partition}:${message.offset}`, { partition, offset: message.offset, key: message.key, value: message.value ?? Buffer.alloc(0), headers, timestamp: Number(message.timestamp) })
      }
    })
    const deadline = Date.now() + timeoutMs
    while (out.size < expected && Date.now() < deadline) await sleep(100)
    await sleep(settleMs)
    return [...out.values()]
  } finally {
    await consumer.disconnect()
  }
}
