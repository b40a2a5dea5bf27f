// The reference of the ingest benches: raw kafkajs consumption of a topic with a no-op eachBatch
// handler, in a group of its own, from the start of the topic.
import type { Kafka } from 'kafkajs'

export interface RawRate {
  /** events/s from run() on, the group join included */
  events_per_s: number
  /** events/s from the first batch on */
  events_per_s_after_first_batch: number
}

/** Read `events` records of `topic` with one consumer in group `groupId`. */
export async function rawKafkajs (kafka: Kafka, topic: string, groupId: string, events: number): Promise<RawRate> {
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1_048_576 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  let n = 0
  let first = 0
  let done!: () => void
  const finished = new Promise<void>((resolve) => { done = resolve })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now()
      n += batch.messages.length
      if (n >= events) done()
    }
  })
  const t = performance.now()
  await finished
  const end = performance.now()
  await consumer.disconnect()
  return { events_per_s: Math.round(events / ((end - t) / 1000)), events_per_s_after_first_batch: Math.round(events / ((end - first) / 1000)) }
}
