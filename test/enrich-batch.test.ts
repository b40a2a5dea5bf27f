// The batch side of enrichment: the bronze sink enriches what the speed layer did not (and keeps what it did), bronze
// keeps text and enrichment, the batch job rolls sentiment partials and top entities into hourly and daily gold; gold
// and bronze written before these columns still read (sentiment 0, no entities), and compact beside newer files.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { listValue, timestampTZValue } from '@duckdb/node-api'
import { runBatch } from '../src/batch/batch-job.js'
import { readBronzeEvents } from '../src/batch/bronze-reader.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { dailyTableDir, hourlyTableDir } from '../src/batch/delta/own-layout.js'
import { BUILD_DAILY } from '../src/batch/gold-build-sql.js'
import { loadGoldFile } from '../src/batch/gold-file-cache.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { EnrichStage, WinkEnricher } from '../src/enrich/index.js'
import type { HourglassEvent } from '../src/model/event.js'
import { HOUR_MS, MINUTE_MS } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { goldState } from './helpers/own-gold.js'
import { SINK_DEFAULTS } from './helpers/settings.js'
import { tempData } from './helpers/temp-data.js'

const T0 = Date.UTC(2024, 4, 1, 0, 0, 0)
const H = (n: number): number => T0 + n * HOUR_MS
const TEXTS = ['Great service from Lufthansa in Berlin!', 'Terrible delay at Heathrow, awful.', 'The train left Paris on time.', 'Meh.']
const PRESET = { score: 0.123, label: 'neutral' as const, entities: ['Preset'] }
const tmp = tempData('hourglass-enrich-batch-')

/** every third event has text; of those, every other one was enriched by the speed layer already */
function events (): HourglassEvent[] {
  return new EventMaker(11).make(1500, H(0), H(24)).map((e, k) => {
    if (k % 3 !== 0) return e
    const text = TEXTS[Math.floor(k / 6) % TEXTS.length] as string
    return k % 6 === 0 ? { ...e, text, enrichment: { ...PRESET, entities: [...PRESET.entities] } } : { ...e, text }
  })
}

test('the bronze sink enriches what the speed layer did not; hourly and daily gold hold sentiment and top entities', async (t) => {
  const dataDir = join(tmp.dir, 'enriched')
  const stage = new EnrichStage({ enricher: new WinkEnricher(), budgetMs: Infinity })
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db, enrich: (es) => stage.enrich(es) })
  t.after(() => sink.close())
  const feed = new Feed(sink)
  feed.add(events())
  // the watermark (the slowest of the two partitions) past the day
  feed.add(['a', 'b'].map((id) => ({ event_id: `next-day-${id}`, ts: H(24) + 2 * MINUTE_MS, event_type: 'view', region: 'eu-west' })))
  await sink.flush()
  const withText = feed.all.filter((e) => e.text !== undefined)
  assert.equal(withText.length, 500)
  assert.ok(withText.every((e) => e.enrichment !== undefined), 'every text enriched at the flush')
  assert.equal(withText.filter((e) => e.enrichment?.score === PRESET.score).length, 250, 'the speed layer\'s enrichment kept, not redone')
  assert.ok(withText.some((e) => e.enrichment?.label === 'negative') && withText.some((e) => e.enrichment?.label === 'positive'))

  const back = await readBronzeEvents({ dataDir, db: tmp.db, from: H(0), to: H(25) })
  const byId = new Map(back.map((e) => [e.event_id, e]))
  for (const e of feed.all) assert.deepEqual(byId.get(e.event_id), e, 'bronze keeps text and enrichment as they were')

  const r = await runBatch({ dataDir, db: tmp.db, now: H(25), allowedLatenessMs: MINUTE_MS })
  assert.equal(r.published, true)
  const reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
  t.after(() => reader.close())
  const snap = reader.snapshot()
  assert.ok(snap !== null)
  assertRowsEqual(await reader.query(snap, H(0), H(24), {}), expected(feed.all, H(0), H(24)))

  // top entities per hour: the most frequent of the row, ties by name, at most 10
  const state = (await goldState(tmp.db, dataDir))!
  const conn = await tmp.db.connect()
  t.after(() => tmp.db.release(conn))
  const hourly = join(dataDir, state.hourly.files[0]!)
  const rows = await conn.rows(`SELECT CAST(epoch_ms(window_start) AS DOUBLE) AS ws, event_type, region, avg_sentiment, sentiment_count,
    CAST(top_entities AS VARCHAR) AS top FROM read_parquet($f, hive_partitioning = false)`, { f: hourly })
  let withEntities = 0
  for (const x of rows) {
    const counts = new Map<string, number>()
    for (const e of feed.all) {
      if (Math.floor(e.ts / HOUR_MS) * HOUR_MS !== x.ws || e.event_type !== x.event_type || e.region !== x.region) continue
      for (const entity of e.enrichment?.entities ?? []) counts.set(entity, (counts.get(entity) ?? 0) + 1)
    }
    const want = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10).map(([entity, n]) => `{'entity': ${entity}, 'n': ${n}}`)
    assert.equal(x.top, `[${want.join(', ')}]`)
    if (want.length > 0) withEntities++
    assert.equal(x.avg_sentiment === null, Number(x.sentiment_count) === 0)
  }
  assert.ok(withEntities > 10)

  // the daily table: the day's sentiment partials are the sum of its hours
  const daily = await conn.rows(`SELECT sum(sentiment_count) AS c, sum(sentiment_positive) AS p, sum(sentiment_negative) AS n
    FROM read_parquet($f::VARCHAR[], hive_partitioning = false)`, { f: listValue(state.daily.files.map((f) => join(dataDir, f))) })
  const enriched = feed.all.filter((e) => e.enrichment !== undefined)
  assert.deepEqual([Number(daily[0]!.c), Number(daily[0]!.p), Number(daily[0]!.n)],
    [enriched.length, enriched.filter((e) => e.enrichment?.label === 'positive').length, enriched.filter((e) => e.enrichment?.label === 'negative').length])
  assert.ok(hourlyTableDir(dataDir) !== dailyTableDir(dataDir))
})

test('gold and bronze from before the enrichment columns still read: sentiment 0 (avg null), no entities', async (t) => {
  const conn = await tmp.db.connect()
  t.after(() => tmp.db.release(conn))
  const old = join(tmp.dir, 'old-gold.parquet')
  await conn.run(`COPY (SELECT TIMESTAMPTZ '2024-05-01 00:00:00+00' AS window_start, 'click' AS event_type, 'eu' AS region, CAST(3 AS BIGINT) AS total_events,
    CAST(6.0 AS DOUBLE) AS latency_sum, CAST(3 AS BIGINT) AS latency_count, CAST(0 AS BIGINT) AS revenue_cents,
    [{'bin': 100, 'n': CAST(3 AS BIGINT)}] AS response_bins) TO '${old}' (FORMAT parquet)`)
  const data = await loadGoldFile(conn, old)
  assert.equal(data.rows, 1)
  assert.deepEqual([data.sentimentSum[0], data.sentimentCount[0], data.sentimentPositive[0], data.sentimentNeutral[0], data.sentimentNegative[0]], [0, 0, 0, 0, 0])
  assert.equal(data.events[0], 3)
  // the daily rollup over such hourly files
  await conn.exclusive((raw) => raw.run(BUILD_DAILY, { files: listValue([old]), from: timestampTZValue(BigInt(H(0)) * 1000n), to: timestampTZValue(BigInt(H(24)) * 1000n) }))
  const day = await conn.rows('SELECT total_events, sentiment_count, sentiment_sum, len(top_entities) AS n FROM gold_build')
  assert.deepEqual(day.map((r) => [Number(r.total_events), Number(r.sentiment_count), r.sentiment_sum, Number(r.n)]), [[3, 0, 0, 0]])
  // a bronze file of the first contract (no text, no enrichment) reads, and events come back without them
  const dataDir = join(tmp.dir, 'old-bronze')
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  t.after(() => sink.close())
  sink.add({ event_id: 'a', ts: H(1) + 5, event_type: 'click', region: 'eu' }, { topic: 'events', partition: 0, offset: '0' })
  const { files } = await sink.flush()
  await conn.run(`COPY (SELECT * EXCLUDE (text, sentiment_score, sentiment_label, entities) FROM read_parquet('${files[0]}')) TO '${files[0]}.old' (FORMAT parquet)`)
  const { rename } = await import('node:fs/promises')
  await rename(`${files[0]}.old`, files[0]!)
  assert.deepEqual(await readBronzeEvents({ dataDir, db: tmp.db, from: H(0), to: H(2) }), [{ event_id: 'a', ts: H(1) + 5, event_type: 'click', region: 'eu' }])
})
