"""A gold Delta table written by Spark with deletion vectors on, and one row DELETEd (a deletion vector, not a rewrite).

    python spark-dv.py PATH
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples', 'spark'))
from hourly_gold import delta_session  # noqa: E402

path = sys.argv[1]
spark = delta_session('local[1]', 'hourglass-dv')
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
