"""Spark reads a Delta table (Hourglass's own gold): its rows as JSON, one object per line, and the table's version.

    python spark-read.py PATH
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples', 'spark'))
from hourly_gold import delta_session  # noqa: E402

path = sys.argv[1]
spark = delta_session('local[1]', 'hourglass-read')
try:
    df = spark.read.format('delta').load(path)
    for r in df.selectExpr("date_format(window_start, \"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'\") AS window_start", 'event_type', 'region',
                           'total_events', 'revenue_cents', 'date').collect():
        print(json.dumps(r.asDict()))
    version = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()[0].version
    print(json.dumps({'version': version}))
finally:
    spark.stop()
