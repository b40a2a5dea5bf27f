// Kafka: the consumer-group record source, the dead-letter topic and the producer (kafkajs).
export { createKafka, type KafkaClientOptions, type KafkaLog, type KafkaLogLevel, parseBrokers } from './client.js'
export { DEFAULT_GROUP, DEFAULT_TOPICS, KafkaSource, type KafkaSourceOptions, type RebuildPartition } from './consumer.js'
export { DEFAULT_DLQ_TOPIC, DeadLetterProducer, type DeadLetterProducerOptions, DLQ_HEADERS, type OriginalRecord } from './dead-letters.js'
export {
  eventKey, KafkaWriter, type KafkaWriterOptions, type OutgoingRecord, produce, type ProduceOptions, type ProduceProgress,
  type ProduceSummary
} from './producer.js'
