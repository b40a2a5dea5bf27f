// The merged answer equals brute force: a fixed event set with duplicates, late and invalid
// records is replayed through the file source (speed layer + bronze sink) and the batch job; for
// ranges wholly in batch, wholly in speed, straddling B and straddling a gap, the merged answer
// must equal a brute-force computation over the raw events: counts and sums exact, p95 within 1%
// of the exact quantile, and the gap reported. Real Parquet, real DuckDB, the real app; the clock
// is injected so hour boundaries fall where the test says.
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { App } from '../src/app/index.js'
import type { MetricsResult } from '../src/model/index.js'
import { bucketStart, iso } from '../src/model/index.js'
import { assertEqualsBrute, batchEvents, brute, H, M, makeLines, speedEvents, validRecords } from './helpers/events.js'
import { runFile } from './helpers/file-app.js'

const T = Date.UTC(2026, 0, 20, 12, 30) // "now" of the first run: 12:30 UTC

async function query (app: App, qs: string): Promise<MetricsResult> {
  const res = await app.server.inject({ method: 'GET', url: '/v1/metrics?' + qs })
  assert.equal(res.statusCode, 200, res.body)
  return res.json<MetricsResult>()
}

test('merged answers equal brute force in batch, in speed, across B and across a gap', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-correct-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')

  // Run 1, at 12:30: six hours of events up to 12:29:50.
  const linesA = makeLines(T - 6 * H, T - 10_000, 24_000, 1, 'a', { texts: true })
  const fileA = join(dir, 'a.jsonl')
  await writeFile(fileA, linesA.join('\n') + '\n')
  const recordsA = validRecords(linesA, T)
  // a budget no loaded machine reaches: the speed layer enriches every text, as the brute force does
  const app1 = await runFile(dataDir, fileA, T, { enrichBudgetMs: '1m' })
  t.after(() => app1.close())
  const quality = app1.service.quality()
  assert.equal(quality.received, linesA.length, 'every record was received')
  assert.equal(quality.valid, recordsA.length, 'the same records are valid as by the brute force')
  assert.ok(quality.invalid > 100 && quality.duplicates > 100 && quality.late > 100, JSON.stringify(quality))
  assert.equal(app1.pipeline.deadLetters(10_000).length, quality.invalid, 'every invalid record is kept as a dead letter')

  const built = await app1.runBatchNow()
  assert.equal(built.completeUntil, T - 30 * M, 'B = 12:00: the hour 12:00-13:00 is not complete')
  const B = T - 30 * M
  const allA = batchEvents(recordsA)
  const speedA = speedEvents(recordsA)
  const G = ['event_type'] as ('event_type' | 'region')[]

  // wholly in batch
  const inBatch = await query(app1, `from=${iso(T - 6 * H - 30 * M)}&to=${iso(B - H)}&granularity=hour&group_by=event_type`)
  assert.deepEqual(inBatch.meta.sources.map((s) => s.layer), ['batch'])
  assert.equal(inBatch.meta.complete, true)
  assertEqualsBrute(inBatch, brute(allA, T - 6 * H - 30 * M, B - H, 'hour', G), G, 'wholly in batch')

  // wholly in speed, minute granularity
  const inSpeed = await query(app1, `from=${iso(B)}&to=${iso(T)}&granularity=minute&group_by=event_type,region`)
  assert.deepEqual(inSpeed.meta.sources.map((s) => s.layer), ['speed'])
  assert.equal(inSpeed.meta.complete, true, JSON.stringify(inSpeed.meta.gaps))
  assertEqualsBrute(inSpeed, brute(speedA, B, T, 'minute', ['event_type', 'region']), ['event_type', 'region'], 'wholly in speed')

  // straddling B: batch below 12:00, speed above, hourly and daily
  const across = await query(app1, `from=${iso(B - 3 * H)}&to=${iso(T)}&granularity=hour&group_by=event_type`)
  assert.deepEqual(across.meta.sources.map((s) => s.layer), ['batch', 'speed'])
  assert.equal(across.meta.boundary, iso(B))
  assert.equal(across.meta.complete, true)
  const expectAcross = brute(allA, B - 3 * H, B, 'hour', G)
  for (const [k, v] of brute(speedA, B, T, 'hour', G)) expectAcross.set(k, v)
  assertEqualsBrute(across, expectAcross, G, 'straddling B')

  const day = await query(app1, `from=${iso(T - 12 * H - 30 * M)}&granularity=day`)
  const mixed = [...allA.filter((e) => e.ts < B), ...speedA.filter((e) => e.ts >= B)]
  assertEqualsBrute(day, brute(mixed, bucketStart(T, 'day'), T + H, 'day', []), [], 'day straddling B')

  await app1.close()

  // Run 2, at 14:30: the speed layer restarted (in memory: it holds only what bronze replays of the
  // last hour, which is nothing) and the batch has not run since 12:30, so B is still 12:00.
  // The log then grows by 12:30-14:29; the file source resumes after what bronze already holds.
  const T2 = T + 2 * H
  const linesB = makeLines(T, T2 - 10_000, 8000, 2, 'b', { texts: true })
  await appendFile(fileA, linesB.join('\n') + '\n')
  const recordsB = validRecords(linesB, T2)
  const app2 = await runFile(dataDir, fileA, T2, { enrichBudgetMs: '1m' })
  t.after(() => app2.close())
  const speedB = speedEvents(recordsB)
  assert.equal(app2.service.quality().received, linesB.length, 'run 2 read only the new records')

  const gap = await query(app2, `from=${iso(B - 2 * H)}&to=${iso(T2)}&granularity=hour&group_by=event_type`)
  assert.equal(gap.meta.boundary, iso(B))
  assert.equal(gap.meta.complete, false)
  assert.deepEqual(gap.meta.gaps, [{ from: iso(B), to: iso(T2 - H), reason: 'speed_not_covered' }])
  // what is served is still exact for what each layer holds: batch below B, speed from 13:30 on
  const expectGap = brute(allA, B - 2 * H, B, 'hour', G)
  for (const [k, v] of brute(speedB, T2 - H, T2, 'hour', G)) expectGap.set(k, v)
  assertEqualsBrute(gap, expectGap, G, 'straddling a gap')

  // The batch catches up: bronze now holds both files, gold is rebuilt to 14:00, and the gap closes.
  const caught = await app2.runBatchNow()
  assert.equal(caught.completeUntil, T2 - 30 * M)
  const after = await query(app2, `from=${iso(B - 2 * H)}&to=${iso(T2)}&granularity=hour&group_by=event_type`)
  assert.equal(after.meta.complete, true, JSON.stringify(after.meta.gaps))
  assert.deepEqual(after.meta.sources.map((s) => s.layer), ['batch', 'speed'])
  const allAB = batchEvents([...recordsA, ...recordsB])
  const expectAfter = brute(allAB, B - 2 * H, T2 - 30 * M, 'hour', G)
  for (const [k, v] of brute(speedB, T2 - 30 * M, T2, 'hour', G)) expectAfter.set(k, v)
  assertEqualsBrute(after, expectAfter, G, 'after the batch caught up (late events now counted)')
})
