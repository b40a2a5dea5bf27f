// `serve --gold delta:PATH`: gold written by an independent engine (delta-rs from PyPI) through appends, a partition
// overwrite, compaction, a checkpoint, vacuum and property commits is served equal to brute force over what was
// written, which is also what delta-rs reads back; meta.batch_version is the Delta version, the boundary the
// table property. Tables Hourglass cannot read are refused at start, naming why.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { type App, buildApp } from '../src/app/index.js'
import { loadConfig } from '../src/config.js'
import { bruteForce, DeltaRs, type GoldRow, goldRow, sortRows } from './helpers/delta-rs.js'
import { tempData } from './helpers/temp-data.js'
import { until } from './helpers/wait.js'

const HOUR = 3_600_000
const DAY1 = Date.parse('2026-01-01T00:00:00Z')
const TYPES = ['click', 'purchase']
const REGIONS = ['eu-west', 'us-east']
const UNTIL = 'hourglass.complete_until'

const t = tempData('hourglass-delta-gold-')
let rs: DeltaRs
before(async () => { rs = await DeltaRs.open() }, { timeout: 900_000 })

function hours (fromMs: number, count: number, salt = 0): GoldRow[] {
  const out: GoldRow[] = []
  for (let h = 0; h < count; h++) for (const e of TYPES) for (const r of REGIONS) out.push(goldRow(fromMs + h * HOUR, e, r, salt))
  return out
}

async function serve (table: string, extra: Record<string, string> = {}): Promise<App> {
  const config = loadConfig({
    HOURGLASS_DATA_DIR: join(t.dir, 'data-' + Math.random().toString(36).slice(2)),
    HOURGLASS_SOURCE: 'none',
    HOURGLASS_SEED_DAYS: '0',
    HOURGLASS_GOLD: `delta:${table}`,
    HOURGLASS_GOLD_POLL: '100ms',
    HOURGLASS_LOG_LEVEL: 'silent',
    ...extra
  })
  return await buildApp(config, { schedule: false, progress: () => {} })
}

/** The Parquet data files in a table's folder. */
async function dataFiles (table: string): Promise<string[]> {
  return (await readdir(table, { recursive: true })).filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log'))
}

interface Answer { rows: Array<Record<string, unknown>>, meta: { boundary: string, batch_version: number, sources: Array<{ layer: string }> } }

async function hourly (app: App, from: number, to: number): Promise<Answer> {
  const url = `/v1/metrics?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&granularity=hour&group_by=event_type,region`
  const res = await app.server.inject(url)
  assert.equal(res.statusCode, 200, res.body)
  return res.json<Answer>()
}

/** The app serves exactly `rows` (and delta-rs reads exactly them) at Delta version `version`. */
async function servesExactly (app: App, table: string, rows: GoldRow[], version: number, completeUntil: string): Promise<void> {
  await until(() => `gold version ${version} (have ${app.gold.snapshot()?.version})`, () => app.gold.snapshot()?.version === version, 30_000)
  assert.deepEqual(sortRows(await rs.read(table)), sortRows(rows), 'delta-rs reads what was written')
  const to = Date.parse(completeUntil)
  const a = await hourly(app, DAY1, to)
  assert.equal(a.meta.batch_version, version)
  assert.equal(a.meta.boundary, new Date(to).toISOString())
  assert.deepEqual(a.meta.sources.map((s) => s.layer), ['batch'])
  assert.deepEqual(a.rows, bruteForce(rows, DAY1, to))
}

test('delta-rs writes gold through appends, a partition overwrite, compaction, a checkpoint and vacuum: each version served equal to brute force', async () => {
  const table = join(t.dir, 'hourly')
  let rows = hours(DAY1, 24)
  await rs.run({ op: 'append', path: table, rows, properties: { [UNTIL]: '2026-01-02T00:00:00Z' } })
  const morning = hours(DAY1 + 24 * HOUR, 12)
  const afternoon = hours(DAY1 + 36 * HOUR, 12)
  await rs.run({ op: 'append', path: table, rows: morning })
  let v = (await rs.run({ op: 'append', path: table, rows: afternoon, properties: { [UNTIL]: '2026-01-03T00:00:00Z' } })).version
  rows = [...rows, ...morning, ...afternoon]
  const app = await serve(table)
  try {
    await servesExactly(app, table, rows, v, '2026-01-03T00:00:00Z')

    // day 2 written again (a partition overwrite): its old rows go, the new ones count
    const day2 = hours(DAY1 + 24 * HOUR, 24, 1)
    v = (await rs.run({ op: 'overwrite', path: table, rows: day2, predicate: "date = '2026-01-02'" })).version
    rows = [...rows.filter((r) => !r.window_start.startsWith('2026-01-02')), ...day2]
    await servesExactly(app, table, rows, v, '2026-01-03T00:00:00Z')
    const extra = hours(DAY1 + 30 * HOUR, 3, 2) // a second file in day 2's partition, for compaction to merge
    v = (await rs.run({ op: 'append', path: table, rows: extra })).version
    rows = [...rows, ...extra]

    // compaction rewrites the files of day 2 (dataChange false): the same rows
    const compacted = await rs.run({ op: 'compact', path: table })
    assert.ok(compacted.version > v)
    v = compacted.version
    await servesExactly(app, table, rows, v, '2026-01-03T00:00:00Z')

    // a checkpoint, then commits after it: the replay starts at the checkpoint
    await rs.run({ op: 'checkpoint', path: table })
    const day3 = hours(DAY1 + 48 * HOUR, 24)
    v = (await rs.run({ op: 'append', path: table, rows: day3, properties: { [UNTIL]: '2026-01-04T00:00:00Z' } })).version
    rows = [...rows, ...day3]
    await servesExactly(app, table, rows, v, '2026-01-04T00:00:00Z')

    // vacuum deletes the files no longer in the table
    const before = await dataFiles(table)
    const vacuumed = await rs.run({ op: 'vacuum', path: table })
    v = vacuumed.version
    assert.ok((await dataFiles(table)).length === vacuumed.files && vacuumed.files < before.length, `${before.length} files, ${vacuumed.files} after vacuum`)
    await servesExactly(app, table, rows, v, '2026-01-04T00:00:00Z')

    // after the boundary the speed layer answers (none here): gold rows past it are not served as batch
    const late = hours(DAY1 + 72 * HOUR, 2)
    v = (await rs.run({ op: 'append', path: table, rows: late })).version
    await until('the version with rows past the boundary', () => app.gold.snapshot()?.version === v, 30_000)
    const past = await hourly(app, DAY1 + 72 * HOUR, DAY1 + 74 * HOUR)
    assert.equal(past.meta.boundary, '2026-01-04T00:00:00.000Z')
    assert.ok(!past.meta.sources.some((s) => s.layer === 'batch'), JSON.stringify(past.meta.sources))
  } finally {
    await app.close()
  }
})

test('other partitionings and zone-less timestamps: a table partitioned by event_type and region with timestamp_ntz is served the same instants', async () => {
  const table = join(t.dir, 'by-type-region')
  // a partition value with a space, a colon and a percent sign: its folder name is escaped, its add path a URI
  const rows = [...hours(DAY1, 30, 3), goldRow(DAY1 + HOUR, 'click', 'ap south: 50%', 4)]
  const { version } = await rs.run({
    op: 'append', path: table, rows, naive: true, partition_by: ['event_type', 'region'], properties: { [UNTIL]: '2026-01-02T06:00:00Z' }
  })
  const app = await serve(table)
  try {
    await servesExactly(app, table, rows, version, '2026-01-02T06:00:00Z')
  } finally {
    await app.close()
  }
})

test('a table without hourglass.complete_until is refused at start, naming the property', async () => {
  const table = join(t.dir, 'no-property')
  await rs.run({ op: 'append', path: table, rows: hours(DAY1, 2) })
  await assert.rejects(serve(table), /hourglass\.complete_until/)
})

test('deletion vectors and column mapping are refused at start, naming the feature (deleted rows are never served)', async () => {
  const dv = join(t.dir, 'deletion-vectors')
  await rs.run({ op: 'append', path: dv, rows: hours(DAY1, 3), configuration: { 'delta.enableDeletionVectors': 'true' }, properties: { [UNTIL]: '2026-01-01T03:00:00Z' } })
  await rs.run({ op: 'delete', path: dv, predicate: "region = 'eu-west'" })
  await assert.rejects(serve(dv), /deletionVectors/)

  const cm = join(t.dir, 'column-mapping')
  await rs.run({ op: 'append', path: cm, rows: hours(DAY1, 3), configuration: { 'delta.columnMapping.mode': 'name' }, properties: { [UNTIL]: '2026-01-01T03:00:00Z' } })
  await assert.rejects(serve(cm), /columnMapping/)
})

/** The daily rows of hourly rows: one per (day, event type, region), summed (bins merged). */
function daily (rows: readonly GoldRow[]): GoldRow[] {
  const byKey = new Map<string, GoldRow>()
  for (const r of rows) {
    const day = r.window_start.slice(0, 10) + 'T00:00:00.000Z'
    const key = `${day}|${r.event_type}|${r.region}`
    const d = byKey.get(key)
    if (d === undefined) {
      byKey.set(key, { ...r, window_start: day, response_bins: r.response_bins.map(([b, n]) => [b, n]) })
      continue
    }
    d.total_events += r.total_events; d.latency_sum += r.latency_sum; d.latency_count += r.latency_count; d.revenue_cents += r.revenue_cents
    for (const [b, n] of r.response_bins) {
      const have = d.response_bins.find((x) => x[0] === b)
      if (have !== undefined) have[1] += n; else d.response_bins.push([b, n])
    }
  }
  return [...byKey.values()]
}

test('--gold-daily: whole days both tables call final are read from the daily table, other days rolled up from hourly rows', async () => {
  const hourlyTable = join(t.dir, 'h2')
  const dailyTable = join(t.dir, 'd2')
  const rows = hours(DAY1, 48)
  await rs.run({ op: 'append', path: hourlyTable, rows, properties: { [UNTIL]: '2026-01-03T00:00:00Z' } })
  // day 1's daily rows keep their totals but put every response in one bin (so they are told apart from a roll-up);
  // day 2 is in the daily table too, but past its boundary: it must come from the hourly rows
  const marked = daily(rows).map((r) => r.window_start.startsWith('2026-01-01') ? { ...r, response_bins: [[900, r.total_events]] as Array<[number, number]> } : r)
  await rs.run({ op: 'append', path: dailyTable, rows: marked, properties: { [UNTIL]: '2026-01-02T00:00:00Z' } })
  const app = await serve(hourlyTable, { HOURGLASS_GOLD_DAILY: `delta:${dailyTable}` })
  try {
    const res = await app.server.inject('/v1/metrics?from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z&granularity=day&group_by=event_type,region')
    assert.equal(res.statusCode, 200, res.body)
    const expected = [
      ...bruteForce(marked.filter((r) => r.window_start.startsWith('2026-01-01')), DAY1, DAY1 + 24 * HOUR),
      ...bruteForce(daily(rows).filter((r) => r.window_start.startsWith('2026-01-02')), DAY1 + 24 * HOUR, DAY1 + 48 * HOUR)
    ]
    assert.deepEqual(res.json<Answer>().rows, expected)
  } finally {
    await app.close()
  }
})

test('a later version Hourglass cannot read is not served: the version before stays in force, and the reason is reported', async () => {
  const table = join(t.dir, 'turns-unreadable')
  const rows = hours(DAY1, 4)
  const { version } = await rs.run({ op: 'append', path: table, rows, properties: { [UNTIL]: '2026-01-01T04:00:00Z' } })
  const app = await serve(table)
  try {
    await servesExactly(app, table, rows, version, '2026-01-01T04:00:00Z')
    await rs.run({ op: 'properties', path: table, properties: { 'delta.enableDeletionVectors': 'true' } })
    await until('the new version to be refused', () => /deletionVectors/.test(app.gold.lastError?.message ?? ''), 30_000)
    const a = await hourly(app, DAY1, DAY1 + 4 * HOUR)
    assert.equal(a.meta.batch_version, version)
    assert.deepEqual(a.rows, bruteForce(rows, DAY1, DAY1 + 4 * HOUR))
  } finally {
    await app.close()
  }
})
