// The SQL of the hourly rollup: bronze events of a time range → deduplicated → one row per
// (hour, event_type, region) with the partials of docs/design.md and the sketch bins. Only constants
// and identifiers of our own are in the text; files, times and paths are bound ($files, $from,
// $to, $path).
import { LATENCY_DECIMALS, SENTIMENT_DECIMALS } from '../model/partials.js'
import { bronzeFiles } from './bronze-columns.js'
import { TOP_ENTITIES, TOP_ENTITIES_TYPE, withEnrichmentColumns } from './gold-file-cache.js'
import { SQL_BINS_TYPE, sqlBinOf, sqlQuantileRank } from './sql.js'

/** The quantile the gold p95_response column holds. */
export const GOLD_QUANTILE = 0.95

/**
 * The common tail of both builds: from CTEs base(window_start, event_type, region, partials…),
 * bins(window_start, event_type, region, bin, n) and entity_counts(window_start, event_type, region, entity, n), the rows
 * of gold_build with the sketch as a sorted list, p95_bin, the bin holding rank floor(0.95·(n−1)) as in model
 * sketchQuantile, and the row's most frequent entities (ties by name).
 */
const SKETCH_TAIL = `cum AS (
  SELECT *,
         sum(n) OVER (PARTITION BY window_start, event_type, region ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
         sum(n) OVER (PARTITION BY window_start, event_type, region) AS total
  FROM bins
),
sketch AS (
  SELECT window_start, event_type, region,
         list({'bin': bin, 'n': n} ORDER BY bin) AS response_bins,
         min(bin) FILTER (WHERE running > ${sqlQuantileRank(GOLD_QUANTILE, 'total')}) AS p95_bin
  FROM cum
  GROUP BY window_start, event_type, region
),
top AS (
  SELECT window_start, event_type, region, list({'entity': entity, 'n': n} ORDER BY n DESC, entity) AS top_entities
  FROM (
    SELECT *, row_number() OVER (PARTITION BY window_start, event_type, region ORDER BY n DESC, entity) AS r FROM entity_counts
  )
  WHERE r <= ${TOP_ENTITIES}
  GROUP BY window_start, event_type, region
)
SELECT b.window_start, b.event_type, b.region, b.total_events, b.latency_sum, b.latency_count, b.revenue_cents,
       coalesce(s.response_bins, CAST([] AS ${SQL_BINS_TYPE})) AS response_bins,
       s.p95_bin,
       b.sentiment_sum, b.sentiment_count, b.sentiment_positive, b.sentiment_neutral, b.sentiment_negative,
       coalesce(t.top_entities, CAST([] AS ${TOP_ENTITIES_TYPE})) AS top_entities
FROM base b LEFT JOIN sketch s USING (window_start, event_type, region) LEFT JOIN top t USING (window_start, event_type, region)`

/**
 * Builds TEMP TABLE gold_build(window_start, event_type, region, total_events, latency_sum,
 * latency_count, revenue_cents, response_bins, p95_bin) from bronze files $files, for event times in
 * [$from, $to). Dedup keeps one event per (event_id, event_time): the one with the lowest source
 * position, so the choice does not depend on file order. p95_bin is the bin holding rank
 * floor(0.95·(n−1)), as in model sketchQuantile; its value is looked up from binValue in TS.
 */
export const BUILD_GOLD = `CREATE OR REPLACE TEMP TABLE gold_build AS
WITH src AS (
  SELECT event_id, event_time, event_type, region, processing_time, response_time, revenue_cents,
         src_topic, src_partition, src_offset, sentiment_score, sentiment_label, entities
  FROM ${bronzeFiles()}
  WHERE event_time >= $from AND event_time < $to
),
events AS (
  SELECT * FROM src
  QUALIFY row_number() OVER (PARTITION BY event_id, event_time ORDER BY src_topic, src_partition, src_offset) = 1
),
binned AS (
  SELECT date_trunc('hour', event_time) AS window_start, event_type, region, processing_time, revenue_cents,
         sentiment_score, sentiment_label, entities,
         ${sqlBinOf('response_time')} AS bin
  FROM events
),
base AS (
  SELECT window_start, event_type, region,
         count(*) AS total_events,
         CAST(coalesce(sum(processing_time), 0) AS DOUBLE) AS latency_sum,
         count(processing_time) AS latency_count,
         CAST(coalesce(sum(revenue_cents), 0) AS BIGINT) AS revenue_cents,
         CAST(coalesce(sum(sentiment_score), 0) AS DOUBLE) AS sentiment_sum,
         count(sentiment_score) AS sentiment_count,
         count(*) FILTER (WHERE sentiment_score IS NOT NULL AND sentiment_label = 'positive') AS sentiment_positive,
         count(*) FILTER (WHERE sentiment_score IS NOT NULL AND sentiment_label = 'neutral') AS sentiment_neutral,
         count(*) FILTER (WHERE sentiment_score IS NOT NULL AND sentiment_label = 'negative') AS sentiment_negative
  FROM binned
  GROUP BY window_start, event_type, region
),
entity_counts AS (
  SELECT window_start, event_type, region, entity, count(*) AS n
  FROM (SELECT window_start, event_type, region, unnest(entities) AS entity FROM binned WHERE entities IS NOT NULL)
  GROUP BY ALL
),
bins AS (
  SELECT window_start, event_type, region, bin, count(*) AS n
  FROM binned WHERE bin IS NOT NULL
  GROUP BY window_start, event_type, region, bin
),
${SKETCH_TAIL}`

/**
 * Daily gold: the same TEMP TABLE gold_build, one row per (UTC day, event_type, region), rolled up
 * from the hourly gold files $files with window_start in [$from, $to): partials summed, sketches
 * summed bin by bin. No event is read again, so a day equals the sum of its hours exactly.
 */
export const BUILD_DAILY = `CREATE OR REPLACE TEMP TABLE gold_build AS
WITH h AS (
  SELECT window_start, event_type, region, total_events, latency_sum, latency_count, revenue_cents, response_bins,
         sentiment_sum, sentiment_count, sentiment_positive, sentiment_neutral, sentiment_negative, top_entities
  FROM ${withEnrichmentColumns('read_parquet($files::VARCHAR[], hive_partitioning = false, union_by_name = true)')}
  WHERE window_start >= $from AND window_start < $to
),
base AS (
  SELECT date_trunc('day', window_start) AS window_start, event_type, region,
         CAST(sum(total_events) AS BIGINT) AS total_events,
         CAST(sum(latency_sum) AS DOUBLE) AS latency_sum,
         CAST(sum(latency_count) AS BIGINT) AS latency_count,
         CAST(sum(revenue_cents) AS BIGINT) AS revenue_cents,
         CAST(coalesce(sum(sentiment_sum), 0) AS DOUBLE) AS sentiment_sum,
         CAST(coalesce(sum(sentiment_count), 0) AS BIGINT) AS sentiment_count,
         CAST(coalesce(sum(sentiment_positive), 0) AS BIGINT) AS sentiment_positive,
         CAST(coalesce(sum(sentiment_neutral), 0) AS BIGINT) AS sentiment_neutral,
         CAST(coalesce(sum(sentiment_negative), 0) AS BIGINT) AS sentiment_negative
  FROM h
  GROUP BY 1, 2, 3
),
entity_counts AS (
  SELECT date_trunc('day', window_start) AS window_start, event_type, region, e.entity AS entity, CAST(sum(e.n) AS BIGINT) AS n
  FROM (SELECT window_start, event_type, region, unnest(top_entities) AS e FROM h WHERE top_entities IS NOT NULL)
  GROUP BY 1, 2, 3, 4
),
bins AS (
  SELECT date_trunc('day', window_start) AS window_start, event_type, region, b.bin AS bin, CAST(sum(b.n) AS BIGINT) AS n
  FROM (SELECT window_start, event_type, region, unnest(response_bins) AS b FROM h)
  GROUP BY 1, 2, 3, 4
),
${SKETCH_TAIL}`

export const CREATE_P95_VALUES = 'CREATE OR REPLACE TEMP TABLE p95_values (bin INTEGER, value DOUBLE)'

/**
 * Rows per Parquet row group of a gold file. A day of hourly gold is 24 × types × regions rows,
 * each with a sketch of ~50–150 bins; 4096 rows keep a row group near a few MB of bins while
 * giving a direct reader (Spark, Power BI, DuckDB) several row groups per busy day to skip.
 */
export const GOLD_ROW_GROUP_SIZE = 4096

/**
 * The gold file: contract columns in contract order, sorted by (window_start, event_type, region).
 *
 * Why time first: every query that reaches gold is a time range (the merger's batch part is
 * [from, min(to, B))), and a file spans a whole date, so sorting by window_start makes each row
 * group cover a narrow, non-overlapping span of hours whose min/max statistics let a reader skip
 * the rest of the day; within an hour, rows are clustered by event_type then region, so a
 * dimension filter still narrows a row group's min/max. Sorting by (event_type, region) first
 * would spread every hour over all row groups, and a time range, the one predicate every query
 * has, could then skip nothing. Our own reader also relies on the time order (binary search).
 */
export const COPY_GOLD = `COPY (
  SELECT g.window_start, g.event_type, g.region,
         g.total_events, g.latency_sum, g.latency_count, g.revenue_cents, g.response_bins,
         CASE WHEN g.latency_count = 0 THEN NULL ELSE round(g.latency_sum / g.latency_count, ${LATENCY_DECIMALS}) END AS avg_latency,
         round(p.value, ${LATENCY_DECIMALS}) AS p95_response,
         CAST(CAST(g.revenue_cents AS DECIMAL(18,0)) * CAST(0.01 AS DECIMAL(3,2)) AS DECIMAL(18,2)) AS total_revenue,
         g.sentiment_sum, g.sentiment_count, g.sentiment_positive, g.sentiment_neutral, g.sentiment_negative,
         CASE WHEN g.sentiment_count = 0 THEN NULL ELSE round(g.sentiment_sum / g.sentiment_count, ${SENTIMENT_DECIMALS}) END AS avg_sentiment,
         g.top_entities
  FROM gold_build g LEFT JOIN p95_values p ON p.bin = g.p95_bin
  ORDER BY g.window_start, g.event_type, g.region
) TO $path (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${GOLD_ROW_GROUP_SIZE})`

export const GOLD_BUILD_TOTALS = 'SELECT count(*) AS rows, coalesce(sum(total_events), 0) AS events FROM gold_build'

export const GOLD_BUILD_P95_BINS = 'SELECT DISTINCT p95_bin AS bin FROM gold_build WHERE p95_bin IS NOT NULL'
