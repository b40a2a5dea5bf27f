// The Delta schema of Hourglass's own gold files (gold-build-sql.ts COPY_GOLD), as DuckDB describes
// them: TIMESTAMPTZ → timestamp, BIGINT → long, DOUBLE → double, VARCHAR → string, the bins list →
// array<struct<bin: integer, n: long>>, DECIMAL(18,2) → decimal(18,2). `date` is the partition column:
// the files do not hold it, Delta readers take it from each add's partitionValues.

type DeltaType = string | { type: 'array', elementType: DeltaType, containsNull: boolean } | {
  type: 'struct', fields: Array<{ name: string, type: DeltaType, nullable: boolean, metadata: Record<string, never> }>
}

const field = (name: string, type: DeltaType): { name: string, type: DeltaType, nullable: boolean, metadata: Record<string, never> } =>
  ({ name, type, nullable: true, metadata: {} })

const BINS: DeltaType = {
  type: 'array',
  elementType: { type: 'struct', fields: [field('bin', 'integer'), field('n', 'long')] },
  containsNull: true
}

const TOP_ENTITIES: DeltaType = {
  type: 'array',
  elementType: { type: 'struct', fields: [field('entity', 'string'), field('n', 'long')] },
  containsNull: true
}

/** The schemaString of the hourly and daily tables (both hold the same columns). */
export const GOLD_SCHEMA_STRING = JSON.stringify({
  type: 'struct',
  fields: [
    field('window_start', 'timestamp'),
    field('event_type', 'string'),
    field('region', 'string'),
    field('total_events', 'long'),
    field('latency_sum', 'double'),
    field('latency_count', 'long'),
    field('revenue_cents', 'long'),
    field('response_bins', BINS),
    field('avg_latency', 'double'),
    field('p95_response', 'double'),
    field('total_revenue', 'decimal(18,2)'),
    field('sentiment_sum', 'double'),
    field('sentiment_count', 'long'),
    field('sentiment_positive', 'long'),
    field('sentiment_neutral', 'long'),
    field('sentiment_negative', 'long'),
    field('avg_sentiment', 'double'),
    field('top_entities', TOP_ENTITIES),
    field('date', 'string')
  ]
})

export const GOLD_PARTITION_COLUMNS = ['date']
