# delta-rs (PyPI `deltalake`) as an independent writer and reader of gold Delta tables for the tests.
# Usage: python delta-rs.py '<json command>'; prints a JSON answer on stdout.
import json
import os
import sys
from datetime import datetime

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

BINS = pa.list_(pa.struct([('bin', pa.int32()), ('n', pa.int64())]))
SCHEMA = pa.schema([
    ('window_start', pa.timestamp('us', tz='UTC')),
    ('event_type', pa.string()),
    ('region', pa.string()),
    ('total_events', pa.int64()),
    ('latency_sum', pa.float64()),
    ('latency_count', pa.int64()),
    ('revenue_cents', pa.int64()),
    ('response_bins', BINS),
    ('date', pa.string()),
])


def arrow(rows, naive=False):
    # naive: window_start as a timestamp without zone (Delta timestamp_ntz, Parquet TIMESTAMP), in UTC
    schema = SCHEMA.set(0, pa.field('window_start', pa.timestamp('us'))) if naive else SCHEMA
    cols = {f.name: [] for f in schema}
    for r in rows:
        ws = datetime.fromisoformat(r['window_start'].replace('Z', '+00:00'))
        if naive:
            ws = ws.replace(tzinfo=None)
        cols['window_start'].append(ws)
        cols['date'].append(r.get('date', ws.strftime('%Y-%m-%d')))
        for k in ('event_type', 'region', 'total_events', 'latency_sum', 'latency_count', 'revenue_cents'):
            cols[k].append(r[k])
        cols['response_bins'].append([{'bin': b, 'n': n} for b, n in r['response_bins']])
    return pa.table(cols, schema=schema)


def main():
    cmd = json.loads(sys.argv[1])
    op, path = cmd['op'], cmd['path']
    if op in ('append', 'overwrite'):
        kwargs = {'mode': op, 'partition_by': cmd.get('partition_by', ['date'])}
        if 'predicate' in cmd:
            kwargs['predicate'] = cmd['predicate']
        if 'configuration' in cmd:
            kwargs['configuration'] = cmd['configuration']  # delta.* settings only, when the table is created
        write_deltalake(path, arrow(cmd['rows'], cmd.get('naive', False)), **kwargs)
    elif op == 'properties':
        pass
    elif op == 'compact':
        DeltaTable(path).optimize.compact()
    elif op == 'checkpoint':
        DeltaTable(path).create_checkpoint()
    elif op == 'delete':
        DeltaTable(path).delete(cmd['predicate'])
    elif op == 'vacuum':
        DeltaTable(path).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    elif op != 'read':
        raise SystemExit('unknown op ' + op)
    if 'properties' in cmd:
        # a commit of its own: write_deltalake refuses properties outside delta.* when it creates a table
        DeltaTable(path).alter.set_table_properties(cmd['properties'], raise_if_not_exists=False)
    dt = DeltaTable(path)
    out = {'version': dt.version(), 'files': len(dt.file_uris())}
    if cmd.get('history'):
        out['operation'] = dt.history(1)[0].get('operation')
    if op == 'read':
        t = dt.to_pyarrow_table()
        rows = []
        for r in t.to_pylist():
            ws = r['window_start']
            rows.append({
                'window_start': ws.strftime('%Y-%m-%dT%H:%M:%S.000Z'),
                'event_type': r['event_type'], 'region': r['region'],
                'total_events': r['total_events'], 'latency_sum': r['latency_sum'], 'latency_count': r['latency_count'],
                'revenue_cents': r['revenue_cents'], 'response_bins': [[b['bin'], b['n']] for b in (r['response_bins'] or [])],
            })
        out['rows'] = rows
    print(json.dumps(out))


main()
# Leave at once, without the interpreter's teardown: delta-rs's runtime threads may still be running then, and on a
# loaded machine its C++ side aborted the exit ("terminate called without an active exception") after a good answer
# (delta-io/delta-rs#2184: the process exits before the runtime's threads end).
sys.stdout.flush()
os._exit(0)
