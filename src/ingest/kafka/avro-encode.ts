// Writing events as Confluent-framed Avro (`hourglass produce --format avro`): the contract's schema registered under
// the topic's subject (TopicNameStrategy: `<topic>-value`), each valid event encoded with it. A line that is not a valid
// event has no Avro form and is sent as it is (JSON): on an `avro` topic it is then dead-lettered as not_avro.
import avro from 'avsc'
import { EVENT_AVRO_SCHEMA, frameAvro, parseEvent, toWire, wireToAvro } from '../../model/index.js'
import type { SchemaRegistryClient } from './schema-registry.js'

const TYPE = avro.Type.forSchema(EVENT_AVRO_SCHEMA as unknown as avro.Schema)

/** Register the contract's schema for `topic`; a function turning a JSON line into its framed Avro record. */
export async function avroEncoder (client: SchemaRegistryClient, topic: string): Promise<{ id: number, encode: (line: string) => Buffer | string }> {
  const id = await client.register(`${topic}-value`, JSON.stringify(EVENT_AVRO_SCHEMA))
  return {
    id,
    encode: (line) => {
      const v = parseEvent(line, Number.MAX_SAFE_INTEGER)
      return v.ok ? frameAvro(id, TYPE.toBuffer(wireToAvro(toWire(v.event)))) : line
    }
  }
}
