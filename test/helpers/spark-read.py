"""Read our gold Delta tables with Spark in one session: for each, its version, newest operation, file count and rows
(with `date` from the partition values).

    python spark-read.py PATH...    prints `RESULT <json list>` as its last line
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples', 'spark'))
from hourly_gold import delta_session  # noqa: E402

spark = delta_session('local[2]', 'hourglass-read')
try:
    out = []
    for path in sys.argv[1:]:
        history = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]
        rows = spark.sql(f"""SELECT date_format(window_start, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'") AS window_start, event_type, region,
            total_events, latency_sum, latency_count, revenue_cents, response_bins, date FROM delta.`{path}`""").collect()
        out.append({
            'path': path, 'version': history.version, 'operation': history.operation, 'files': detail.numFiles,
            'properties': dict(detail.properties or {}),
            'rows': [{
                'window_start': r.window_start, 'event_type': r.event_type, 'region': r.region, 'total_events': r.total_events,
                'latency_sum': r.latency_sum, 'latency_count': r.latency_count, 'revenue_cents': r.revenue_cents,
                'response_bins': [[b.bin, b.n] for b in (r.response_bins or [])], 'date': r.date,
            } for r in rows],
        })
    print('RESULT ' + json.dumps(out))
finally:
    spark.stop()
