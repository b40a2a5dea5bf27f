// How the Kafka consumers read record values: each topic's format (HOURGLASS_KAFKA_FORMAT) and, for Avro, the schema
// registry the writer schemas come from. While the registry does not answer, a batch that needs a schema waits and
// readiness names the registry (docs/design.md, "Event"); nothing is dead-lettered for it.
import { SchemaRegistryClient, writerSchemaSource } from '../ingest/kafka/index.js'
import { topicFormats } from '../model/index.js'
import type { ValueFormats } from '../speed/index.js'
import type { AppContext } from './context.js'

/** `who`: the consumer these formats are for, named in readiness while the registry does not answer it */
export function valueFormats (ctx: AppContext, who: string, signal?: AbortSignal): ValueFormats {
  const { config, log } = ctx
  const formatOf = topicFormats(config.kafkaFormat)
  if (config.schemaRegistryUrl === '') return { formatOf }
  const client = new SchemaRegistryClient({
    url: config.schemaRegistryUrl, username: config.schemaRegistryUser, password: config.schemaRegistryPassword
  })
  const writerSchemas = writerSchemaSource(client, {
    now: ctx.now,
    ...(signal === undefined ? {} : { signal }),
    onUnavailable: (since, err) => {
      if (since === null) log.info({ registry: client.url, who }, 'the schema registry answers again')
      else log.warn({ registry: client.url, who, err }, 'the schema registry does not answer: batches needing a writer schema wait')
      const text = since === null ? null : `the schema registry does not answer ${who} (${err?.message ?? 'unknown'})`
      ctx.problem?.(`schema registry for ${who}`, text, since ?? undefined)
    }
  })
  return { formatOf, writerSchemas }
}
