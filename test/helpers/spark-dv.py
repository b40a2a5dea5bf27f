"""A gold Delta table written by Spark with deletion vectors on, and one row DELETEd (a deletion vector, not a rewrite).

    python spark-dv.py PATH
"""
import sys

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

path = sys.argv[1]
builder = (SparkSession.builder.master('local[1]').appName('hourglass-dv')
           .config('spark.sql.extensions', 'io.delta.sql.DeltaSparkSessionExtension')
           .config('spark.sql.catalog.spark_catalog', 'org.apache.spark.sql.delta.catalog.DeltaCatalog')
           .config('spark.sql.session.timeZone', 'UTC')
           .config('spark.ui.enabled', 'false')
           .config('spark.ui.showConsoleProgress', 'false'))
spark = configure_spark_with_delta_pip(builder).getOrCreate()
spark.sparkContext.setLogLevel('ERROR')
try:
    spark.sql(f"""CREATE TABLE delta.`{path}` (
        window_start TIMESTAMP, event_type STRING, region STRING, total_events BIGINT, latency_sum DOUBLE,
        latency_count BIGINT, revenue_cents BIGINT, response_bins ARRAY<STRUCT<bin: INT, n: BIGINT>>, date STRING)
      USING delta PARTITIONED BY (date)
      TBLPROPERTIES ('delta.enableDeletionVectors' = 'true', 'hourglass.complete_until' = '2026-01-02T00:00:00Z')""")
    spark.sql(f"""INSERT INTO delta.`{path}` VALUES
      (TIMESTAMP '2026-01-01 00:00:00', 'click', 'eu-west', 10, 50.0, 10, 0, array(named_struct('bin', 300, 'n', CAST(10 AS BIGINT))), '2026-01-01'),
      (TIMESTAMP '2026-01-01 00:00:00', 'purchase', 'eu-west', 3, 15.0, 3, 4500, array(named_struct('bin', 310, 'n', CAST(3 AS BIGINT))), '2026-01-01')""")
    spark.sql(f"DELETE FROM delta.`{path}` WHERE event_type = 'purchase'")
    dv = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()[0]
    print(f"version {dv.version}: {dv.operation} {dict(dv.operationMetrics or {})}")
finally:
    spark.stop()
