// The SQL of the hourly rollup: bronze events of a time range → deduplicated → one row per
// (hour, event_type, region) with the partials of DESIGN.md and the sketch bins. Only constants
// and identifiers of our own are in the text; files, times and paths are bound ($files, $from,
// $to, $path).
import { SQL_BINS_TYPE, sqlBinOf, sqlQuantileRank } from './sql.js'

/** The quantile the gold p95_response column holds. */
export const GOLD_QUANTILE = 0.95

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
         src_topic, src_partition, src_offset
  FROM read_parquet($files::VARCHAR[], hive_partitioning = false)
  WHERE event_time >= $from AND event_time < $to
),
events AS (
  SELECT * FROM src
  QUALIFY row_number() OVER (PARTITION BY event_id, event_time ORDER BY src_topic, src_partition, src_offset) = 1
),
binned AS (
  SELECT date_trunc('hour', event_time) AS window_start, event_type, region, processing_time, revenue_cents,
         ${sqlBinOf('response_time')} AS bin
  FROM events
),
base AS (
  SELECT window_start, event_type, region,
         count(*) AS total_events,
         CAST(coalesce(sum(processing_time), 0) AS DOUBLE) AS latency_sum,
         count(processing_time) AS latency_count,
         CAST(coalesce(sum(revenue_cents), 0) AS BIGINT) AS revenue_cents
  FROM binned
  GROUP BY window_start, event_type, region
),
bins AS (
  SELECT window_start, event_type, region, bin, count(*) AS n
  FROM binned WHERE bin IS NOT NULL
  GROUP BY window_start, event_type, region, bin
),
cum AS (
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
)
SELECT b.window_start, b.event_type, b.region, b.total_events, b.latency_sum, b.latency_count, b.revenue_cents,
       coalesce(s.response_bins, CAST([] AS ${SQL_BINS_TYPE})) AS response_bins,
       s.p95_bin
FROM base b LEFT JOIN sketch s USING (window_start, event_type, region)`

export const CREATE_P95_VALUES = 'CREATE OR REPLACE TEMP TABLE p95_values (bin INTEGER, value DOUBLE)'

/** The gold file: contract columns in contract order, sorted by (window_start, event_type, region). */
export const COPY_GOLD = `COPY (
  SELECT g.window_start, g.event_type, g.region,
         g.total_events, g.latency_sum, g.latency_count, g.revenue_cents, g.response_bins,
         CASE WHEN g.latency_count = 0 THEN NULL ELSE g.latency_sum / g.latency_count END AS avg_latency,
         p.value AS p95_response,
         CAST(CAST(g.revenue_cents AS DECIMAL(18,0)) * CAST(0.01 AS DECIMAL(3,2)) AS DECIMAL(18,2)) AS total_revenue
  FROM gold_build g LEFT JOIN p95_values p ON p.bin = g.p95_bin
  ORDER BY g.window_start, g.event_type, g.region
) TO $path (FORMAT parquet, COMPRESSION zstd)`

export const GOLD_BUILD_TOTALS = 'SELECT count(*) AS rows, coalesce(sum(total_events), 0) AS events FROM gold_build'

export const GOLD_BUILD_P95_BINS = 'SELECT DISTINCT p95_bin AS bin FROM gold_build WHERE p95_bin IS NOT NULL'
