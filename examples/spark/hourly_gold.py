"""Hourglass hourly gold from Hourglass bronze, as a Spark job writing a Delta Lake table.

What a Databricks (or any Spark) batch layer does to publish gold that `hourglass serve --gold delta:PATH` serves:
the hourly rollup of docs/design.md (deduplicated events → partials, sentiment partials and DDSketch bins per hour,
event_type and region),
written as a Delta table partitioned by `date`, and the boundary the service cuts queries at published as the table
property `hourglass.complete_until` after the data commit (a reader that sees the new rows before the property still
cuts at the old boundary, so it never serves a half-built hour).

    python examples/spark/hourly_gold.py --bronze DATA/bronze/events --gold PATH --until 2026-12-03T10:00:00Z
        [--from-date 2026-12-01] [--master local[2]]

Every date from --from-date (default: the first date in bronze) up to --until is rebuilt whole and replaces that date's
partition (replaceWhere), so a rerun, or bronze that grew for an hour already built, gives the same table again.
Needs pyspark and delta-spark (tested with pyspark 4.2.0 and delta-spark 4.4.0, whose jars Spark fetches from Maven
Central on the first run).
"""
import argparse
import sys
from datetime import datetime, timezone

# ln γ for γ = (1 + 0.01)/(1 − 0.01), as the exact double Hourglass's TypeScript and SQL use (src/model/sketch.ts,
# src/batch/sql.ts): the bin of x > 0 is ceil(ln x / ln γ), of 0 the zero bin −32768.
LN_GAMMA = '0.020000666706669435'
ZERO_BIN = -32768

ROLLUP = f"""
WITH src AS (
  SELECT event_id, event_time, event_type, region, processing_time, response_time, revenue_cents,
         src_topic, src_partition, src_offset, sentiment_score, sentiment_label
  FROM bronze
  WHERE event_time >= TIMESTAMP '{{start}}' AND event_time < TIMESTAMP '{{until}}'
),
events AS (
  SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY event_id, event_time ORDER BY src_topic, src_partition, src_offset) AS rn
    FROM src
  ) WHERE rn = 1
),
binned AS (
  SELECT date_trunc('HOUR', event_time) AS window_start, event_type, region, processing_time, revenue_cents,
         sentiment_score, sentiment_label,
         CASE WHEN response_time = 0 THEN {ZERO_BIN}
              ELSE CAST(ceil(ln(response_time) / CAST('{LN_GAMMA}' AS DOUBLE)) AS INT) END AS bin
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
         count(CASE WHEN sentiment_score IS NOT NULL AND sentiment_label = 'positive' THEN 1 END) AS sentiment_positive,
         count(CASE WHEN sentiment_score IS NOT NULL AND sentiment_label = 'neutral' THEN 1 END) AS sentiment_neutral,
         count(CASE WHEN sentiment_score IS NOT NULL AND sentiment_label = 'negative' THEN 1 END) AS sentiment_negative
  FROM binned
  GROUP BY window_start, event_type, region
),
bins AS (
  SELECT window_start, event_type, region, bin, count(*) AS n
  FROM binned WHERE bin IS NOT NULL
  GROUP BY window_start, event_type, region, bin
),
sketch AS (
  SELECT window_start, event_type, region,
         array_sort(collect_list(named_struct('bin', bin, 'n', n))) AS response_bins
  FROM bins
  GROUP BY window_start, event_type, region
)
SELECT b.window_start, b.event_type, b.region, b.total_events, b.latency_sum, b.latency_count, b.revenue_cents,
       coalesce(s.response_bins, CAST(array() AS ARRAY<STRUCT<bin: INT, n: BIGINT>>)) AS response_bins,
       b.sentiment_sum, b.sentiment_count, b.sentiment_positive, b.sentiment_neutral, b.sentiment_negative,
       date_format(b.window_start, 'yyyy-MM-dd') AS date
FROM base b LEFT JOIN sketch s ON s.window_start = b.window_start AND s.event_type = b.event_type AND s.region = b.region
"""


def hour_instant(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace('Z', '+00:00'))
    if t.tzinfo is None:
        raise SystemExit(f'--until must name its time zone (e.g. 2026-12-03T10:00:00Z): {text}')
    t = t.astimezone(timezone.utc)
    if (t.minute, t.second, t.microsecond) != (0, 0, 0):
        raise SystemExit(f'--until must be a whole UTC hour: {text}')
    return t


def delta_session(master: str, name: str):
    """A Spark session with Delta Lake (its jars fetched by Spark on first use), in UTC, for a small local job."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName(name)
               .config('spark.sql.extensions', 'io.delta.sql.DeltaSparkSessionExtension')
               .config('spark.sql.catalog.spark_catalog', 'org.apache.spark.sql.delta.catalog.DeltaCatalog')
               .config('spark.sql.session.timeZone', 'UTC')
               .config('spark.ui.enabled', 'false')
               .config('spark.ui.showConsoleProgress', 'false')
               .config('spark.sql.shuffle.partitions', '4')
               .config('spark.databricks.delta.snapshotPartitions', '2'))
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel('WARN')
    return spark


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description='Build Hourglass hourly gold (a Delta table) from Hourglass bronze with Spark.')
    p.add_argument('--bronze', required=True, help='the bronze events folder (DATA/bronze/events)')
    p.add_argument('--gold', required=True, help='the gold Delta table to write (a path)')
    p.add_argument('--until', required=True, help='the batch boundary: every hour before it is final (ISO-8601 UTC, whole hour)')
    p.add_argument('--from-date', help='the first date (YYYY-MM-DD) to rebuild; default: the first date in bronze')
    p.add_argument('--master', default='local[2]', help='the Spark master (default local[2])')
    a = p.parse_args(argv)
    until = hour_instant(a.until)

    from pyspark.sql.functions import lit

    spark = delta_session(a.master, 'hourglass-hourly-gold')
    try:
        # files from before the enrichment columns beside newer ones: merged by name; none has them: added as NULL
        bronze = spark.read.option('mergeSchema', 'true').parquet(a.bronze)
        for name, kind in (('sentiment_score', 'double'), ('sentiment_label', 'string')):
            if name not in bronze.columns:
                bronze = bronze.withColumn(name, lit(None).cast(kind))
        bronze.createOrReplaceTempView('bronze')
        first = a.from_date
        if first is None:
            row = spark.sql('SELECT min(event_time) AS t FROM bronze').collect()[0]
            if row.t is None:
                print('hourly_gold: bronze holds no event; nothing to build', file=sys.stderr)
                return 0
            first = row.t.astimezone(timezone.utc).strftime('%Y-%m-%d') if row.t.tzinfo else row.t.strftime('%Y-%m-%d')
        start = f'{first} 00:00:00'
        end = until.strftime('%Y-%m-%d %H:%M:%S')
        last_date = until.strftime('%Y-%m-%d') if until.hour > 0 else None
        gold = spark.sql(ROLLUP.format(start=start, until=end))
        dates = f"date >= '{first}'" + (f" AND date <= '{last_date}'" if last_date else f" AND date < '{until.strftime('%Y-%m-%d')}'")
        # mergeSchema: a table written before the sentiment columns takes them on
        (gold.write.format('delta').mode('overwrite').partitionBy('date')
             .option('replaceWhere', dates).option('mergeSchema', 'true').save(a.gold))
        stamp = until.strftime('%Y-%m-%dT%H:%M:%S.000Z')
        spark.sql(f"ALTER TABLE delta.`{a.gold}` SET TBLPROPERTIES ('hourglass.complete_until' = '{stamp}')")
        rows = spark.read.format('delta').load(a.gold).count()
        print(f'hourly_gold: {a.gold} holds {rows} rows; hourglass.complete_until = {stamp}')
    finally:
        spark.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
