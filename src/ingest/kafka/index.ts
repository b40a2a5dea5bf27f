// Kafka: the consumer-group record source, the dead-letter topic and the producer (kafkajs).
export { BronzeKafkaSource, type BronzeSourceOptions, type CommitOffset, type StartPosition } from './bronze-source.js'
export {
  brokersGone, createKafka, endSockets, type KafkaClientOptions, type KafkaLog, type KafkaLogLevel, parseBrokers, retryWhileBrokersGone
} from './client.js'
export { KafkaSource, type KafkaSourceOptions, type RebuildPartition } from './consumer.js'
export { avroEncoder } from './avro-encode.js'
export { DeadLetterProducer, type DeadLetterProducerOptions, DLQ_HEADERS, type OriginalRecord } from './dead-letters.js'
export {
  type Compatibility, RegistryUnavailableError, SchemaRegistryClient, type SchemaRegistryOptions, SchemaRejectedError, UnknownSchemaError,
  writerSchemaSource, type WriterSchemaSourceOptions
} from './schema-registry.js'
export {
  eventKey, KafkaWriter, type KafkaWriterOptions, type OutgoingRecord, produce, type ProduceOptions, type ProduceProgress,
  type ProduceSummary
} from './producer.js'
