// Top entities (GET /v1/entities, GraphQL topEntities) over gold the project's own batch job built from events with
// enriched text: the answer equals a brute force over the events' entities (few enough that no hour × group holds
// more than gold keeps, so the top-k is exact), with filters and limits; the part after the batch boundary is a
// speed_no_entities gap; gold written before entities were kept answers none; bad parameters are 400 with their code.
import assert from 'node:assert/strict'
import { cp, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse } from 'graphql'
import { buildServer, type HourglassServer } from '../src/api/server.js'
import { operationCost } from '../src/api/graphql/limits.js'
import { runBatch } from '../src/batch/batch-job.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { readTopEntities } from '../src/batch/gold-entities.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { MergingMetricsService } from '../src/merger/index.js'
import { type EntityCount, type HourglassEvent, HOUR_MS, iso, MINUTE_MS, TOP_ENTITIES_PER_ROW } from '../src/model/index.js'
import { prng } from '../src/ingest/synthetic.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { EventMaker, Feed } from './helpers/bronze.js'
import { goldState } from './helpers/own-gold.js'
import { LIMITS_DEFAULTS, SINK_DEFAULTS, STORE_DEFAULTS } from './helpers/settings.js'
import { tempData } from './helpers/temp-data.js'

const T0 = Date.UTC(2024, 4, 1, 0, 0, 0)
const H = (n: number): number => T0 + n * HOUR_MS
const HOURS = 6
/** fewer than gold keeps per row, so every hour × group keeps all of its entities */
const POOL = ['Acme', 'Berlin', 'Heathrow', 'Lufthansa', 'Oslo', 'Paris', 'Rome', 'Tokyo']
const tmp = tempData('hourglass-entities-')

/** events over [H(0), H(HOURS)); about two in three carry text the speed layer enriched with one or two entities (skewed) */
function events (): HourglassEvent[] {
  const rand = prng(5)
  return new EventMaker(17).make(1200, H(0), H(HOURS)).map((e) => {
    if (rand() < 0.35) return e
    const first = POOL[Math.floor(rand() ** 2 * POOL.length)] as string
    const second = POOL[Math.floor(rand() * POOL.length)] as string
    const entities = rand() < 0.4 && second !== first ? [first, second] : [first]
    return { ...e, text: `about ${entities.join(' and ')}`, enrichment: { score: 0.5, label: 'positive' as const, entities } }
  })
}

/** brute force: entity counts of the events in [from, to) that pass the filters, top `limit` by n then name */
function bruteForce (all: HourglassEvent[], from: number, to: number, limit: number, f: { event_type?: string[], region?: string[] } = {}): EntityCount[] {
  const counts = new Map<string, number>()
  for (const e of all) {
    if (e.ts < from || e.ts >= to) continue
    if (f.event_type !== undefined && !f.event_type.includes(e.event_type)) continue
    if (f.region !== undefined && !f.region.includes(e.region)) continue
    for (const entity of e.enrichment?.entities ?? []) counts.set(entity, (counts.get(entity) ?? 0) + 1)
  }
  return [...counts].map(([entity, n]) => ({ entity, n })).sort((a, b) => b.n - a.n || (a.entity < b.entity ? -1 : 1)).slice(0, limit)
}

describe('top entities over gold built by the batch job', () => {
  let all: HourglassEvent[]
  let dataDir: string
  let reader: GoldReader
  let store: MemorySpeedStore
  let app: HourglassServer
  let B: number
  const clock = { now: H(HOURS + 1) }

  before(async () => {
    dataDir = join(tmp.dir, 'gold')
    const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
    const feed = new Feed(sink)
    feed.add(events())
    // the watermark (the slowest of the two partitions) past the last hour
    feed.add(['a', 'b'].map((id) => ({ event_id: `next-${id}`, ts: H(HOURS) + 2 * MINUTE_MS, event_type: 'view', region: 'eu-west' })))
    await sink.flush()
    await sink.close()
    all = feed.all
    const built = await runBatch({ dataDir, db: tmp.db, now: clock.now, allowedLatenessMs: MINUTE_MS })
    assert.equal(built.published, true)
    reader = await GoldReader.open({ dataDir, db: tmp.db, pollMs: 0 })
    B = reader.snapshot()?.completeUntil as number
    assert.equal(B, H(HOURS))
    store = new MemorySpeedStore({ ...STORE_DEFAULTS, now: () => clock.now })
    const quality = { counts: () => ({ received: 0, valid: 0, invalid: 0, invalid_by_reason: {}, duplicates: 0, late: 0 }), deadLetters: () => [] }
    const service = new MergingMetricsService({ gold: reader, speed: store, quality, allowedLatenessMs: MINUTE_MS, now: () => clock.now, limits: LIMITS_DEFAULTS })
    app = buildServer({ service, now: () => clock.now })
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await store?.close()
    await reader?.close()
  })

  const get = async (query: string) => {
    const res = await app.inject({ url: `/v1/entities?${query}` })
    return { status: res.statusCode, body: res.json() as { entities: EntityCount[], meta: Record<string, unknown>, code?: string } }
  }

  test('the test data keeps every entity of each hour × group (the top-k is then exact)', async () => {
    const distinct = new Map<string, Set<string>>()
    for (const e of all) {
      const key = `${Math.floor(e.ts / HOUR_MS)}|${e.event_type}|${e.region}`
      for (const entity of e.enrichment?.entities ?? []) distinct.set(key, (distinct.get(key) ?? new Set()).add(entity))
    }
    assert.ok(distinct.size > 20)
    assert.ok([...distinct.values()].every((s) => s.size <= TOP_ENTITIES_PER_ROW))
  })

  test('the whole range: the brute force top 10 (the default) and top 3, served by gold, complete', async () => {
    const { status, body } = await get(`from=${iso(H(0))}&to=${iso(H(HOURS))}`)
    assert.equal(status, 200)
    assert.deepEqual(body.entities, bruteForce(all, H(0), H(HOURS), 10))
    assert.equal(body.entities.length, POOL.length)
    assert.deepEqual(body.meta.sources, [{ layer: 'batch', from: iso(H(0)), to: iso(B) }])
    assert.deepEqual(body.meta.gaps, [])
    assert.equal(body.meta.complete, true)
    assert.equal(body.meta.boundary, iso(B))
    assert.equal(body.meta.granularity, 'hour')
    assert.equal(body.meta.batch_version, reader.snapshot()?.version)
    const top3 = await get(`from=${H(0)}&to=${H(HOURS)}&limit=3`)
    assert.deepEqual(top3.body.entities, bruteForce(all, H(0), H(HOURS), 3))
    assert.equal(top3.body.entities.length, 3)
  })

  test('a part of the range (aligned outward to whole hours), and the filters as lists', async () => {
    const part = await get(`from=${iso(H(1) + 20 * MINUTE_MS)}&to=${iso(H(3) + 5 * MINUTE_MS)}&limit=100`)
    assert.equal(part.body.meta.from, iso(H(1)))
    assert.equal(part.body.meta.to, iso(H(4)))
    assert.deepEqual(part.body.entities, bruteForce(all, H(1), H(4), 100))
    assert.ok(part.body.entities.length > 3)
    const byType = await get(`from=${iso(H(0))}&to=${iso(H(HOURS))}&event_type=click,purchase&limit=5`)
    assert.deepEqual(byType.body.entities, bruteForce(all, H(0), H(HOURS), 5, { event_type: ['click', 'purchase'] }))
    assert.equal(byType.body.entities.length, 5)
    const both = await get(`from=${iso(H(0))}&to=${iso(H(HOURS))}&event_type=view&region=eu-west,ap-south`)
    assert.deepEqual(both.body.entities, bruteForce(all, H(0), H(HOURS), 10, { event_type: ['view'], region: ['eu-west', 'ap-south'] }))
    assert.ok(both.body.entities.length > 3)
    assert.notDeepEqual(both.body.entities, bruteForce(all, H(0), H(HOURS), 10))
    const none = await get(`from=${iso(H(0))}&to=${iso(H(HOURS))}&region=nowhere`)
    assert.deepEqual(none.body.entities, [])
  })

  test('a range past the boundary: gold serves up to it, the rest up to now is a speed_no_entities gap', async () => {
    const { status, body } = await get(`from=${iso(H(HOURS - 2))}&to=${iso(H(HOURS + 2))}`)
    assert.equal(status, 200)
    assert.deepEqual(body.entities, bruteForce(all, H(HOURS - 2), B, 10))
    assert.deepEqual(body.meta.sources, [{ layer: 'batch', from: iso(H(HOURS - 2)), to: iso(B) }])
    assert.deepEqual(body.meta.gaps, [{ from: iso(B), to: iso(clock.now), reason: 'speed_no_entities' }])
    assert.equal(body.meta.complete, false)
    // wholly after the boundary: no entities, no source
    const after = await get(`from=${iso(B)}&to=${iso(clock.now)}`)
    assert.deepEqual(after.body.entities, [])
    assert.deepEqual(after.body.meta.sources, [])
    assert.deepEqual(after.body.meta.gaps, [{ from: iso(B), to: iso(clock.now), reason: 'speed_no_entities' }])
  })

  test('GraphQL topEntities answers what REST answers, and is counted in the cost', async () => {
    const query = `{ topEntities(from: "${iso(H(0))}", to: "${iso(H(HOURS + 1))}", filter: { region: ["us-east"] }, limit: 4) {
      entities { entity n } meta { sources { layer from to } gaps { from to reason } complete } } }`
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query } })
    assert.equal(res.statusCode, 200)
    const data = (res.json() as { data: { topEntities: { entities: EntityCount[], meta: Record<string, unknown> } } }).data.topEntities
    const rest = await get(`from=${iso(H(0))}&to=${iso(H(HOURS + 1))}&region=us-east&limit=4`)
    assert.deepEqual(data.entities, rest.body.entities)
    assert.deepEqual(data.entities, bruteForce(all, H(0), H(HOURS), 4, { region: ['us-east'] }))
    assert.deepEqual(data.meta, { sources: rest.body.meta.sources, gaps: rest.body.meta.gaps, complete: false })
    // 1 for the field, 2 per row under entities (limit rows), 1 for meta and 1 for each field under it
    const cost = operationCost(parse(`{ topEntities(from: "${iso(H(0))}", limit: 50) { entities { entity n } meta { complete } } }`), null, {}, LIMITS_DEFAULTS, clock.now)
    assert.equal(cost, 1 + 50 * 2 + 2)
    const defaultCost = operationCost(parse(`{ topEntities(from: "${iso(H(0))}") { entities { entity } } }`), null, {}, LIMITS_DEFAULTS, clock.now)
    assert.equal(defaultCost, 1 + 10)
  })

  test('bad parameters: 400 with the catalogue code, over REST and GraphQL', async () => {
    const from = iso(H(0))
    const cases: Array<[string, string]> = [
      ['', 'HG_ERR_MISSING_PARAMETER'],
      [`from=${from}&limit=0`, 'HG_ERR_BAD_LIMIT'],
      [`from=${from}&limit=101`, 'HG_ERR_BAD_LIMIT'],
      [`from=${from}&limit=ten`, 'HG_ERR_BAD_LIMIT'],
      [`from=${from}&to=${from}`, 'HG_ERR_EMPTY_RANGE'],
      ['from=yesterday', 'HG_ERR_BAD_TIMESTAMP'],
      [`from=${iso(clock.now + 2 * HOUR_MS)}`, 'HG_ERR_FROM_IN_FUTURE'],
      [`from=${iso(clock.now - (LIMITS_DEFAULTS.maxRangeDays + 1) * 24 * HOUR_MS)}`, 'HG_ERR_RANGE_TOO_LARGE'],
      [`from=${from}&region=`, 'HG_ERR_BAD_FILTER_VALUE'],
      [`from=${from}&group_by=region`, 'HG_ERR_UNKNOWN_PARAMETER']
    ]
    for (const [query, code] of cases) {
      const { status, body } = await get(query)
      assert.equal(status, 400, query)
      assert.equal(body.code, code, query)
    }
    for (const limit of [0, 101]) {
      const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query: `{ topEntities(from: "${from}", limit: ${limit}) { entities { entity } } }` } })
      const errors = (res.json() as { errors: Array<{ extensions: { code: string } }> }).errors
      assert.equal(errors[0]?.extensions.code, 'HG_ERR_BAD_LIMIT')
    }
  })

  test('gold written before entities were kept answers no entities, not an error (and its metrics still read)', async () => {
    // a copy of the gold above, its hourly files rewritten without the column
    const oldDir = join(tmp.dir, 'old-gold')
    await cp(dataDir, oldDir, { recursive: true })
    const state = (await goldState(tmp.db, oldDir))!
    const conn = await tmp.db.connect()
    try {
      for (const f of state.hourly.files) {
        const path = join(oldDir, f)
        await conn.run(`COPY (SELECT * EXCLUDE (top_entities) FROM read_parquet($p)) TO '${path}.old' (FORMAT parquet)`, { p: path })
        await rename(`${path}.old`, path)
        const columns = await conn.rows('SELECT name FROM parquet_schema($p)', { p: path })
        assert.ok(columns.length > 5 && !columns.some((c) => c.name === 'top_entities'))
      }
    } finally {
      tmp.db.release(conn)
    }
    const old = await GoldReader.open({ dataDir: oldDir, db: tmp.db, pollMs: 0 })
    try {
      const snap = old.snapshot()!
      assert.deepEqual(await old.topEntities(snap, H(0), H(HOURS), {}, 10), [])
      assert.ok((await old.query(snap, H(0), H(HOURS), {})).length > 0)
    } finally {
      await old.close()
    }
  })
})

test('a table keeping region in partition values, beside plain files with and without entities: one sum over all', async () => {
  const conn = await tmp.db.connect()
  try {
    const file = join(tmp.dir, 'by-region.parquet')
    await conn.run(`COPY (SELECT TIMESTAMPTZ '2024-05-01 00:00:00+00' AS window_start, 'click' AS event_type,
      [{'entity': 'Paris', 'n': CAST(2 AS BIGINT)}, {'entity': 'Oslo', 'n': CAST(1 AS BIGINT)}] AS top_entities) TO '${file}' (FORMAT parquet)`)
    const files = [{ path: file, partitionValues: { region: 'eu-west' } }]
    assert.deepEqual(await readTopEntities(conn, files, H(0), H(1), { region: ['eu-west'] }, 10), [{ entity: 'Paris', n: 2 }, { entity: 'Oslo', n: 1 }])
    assert.deepEqual(await readTopEntities(conn, files, H(0), H(1), { region: ['us-east'] }, 10), [])
    assert.deepEqual(await readTopEntities(conn, files, H(1), H(2), {}, 10), [])
    assert.deepEqual(await readTopEntities(conn, files, H(0), H(1), {}, 1), [{ entity: 'Paris', n: 2 }])
    const plain = join(tmp.dir, 'plain.parquet')
    const old = join(tmp.dir, 'plain-old.parquet')
    await conn.run(`COPY (SELECT TIMESTAMPTZ '2024-05-01 00:00:00+00' AS window_start, 'view' AS event_type, 'us-east' AS region,
      [{'entity': 'Oslo', 'n': CAST(4 AS BIGINT)}] AS top_entities) TO '${plain}' (FORMAT parquet)`)
    await conn.run(`COPY (SELECT TIMESTAMPTZ '2024-05-01 00:00:00+00' AS window_start, 'view' AS event_type, 'us-east' AS region) TO '${old}' (FORMAT parquet)`)
    const mixed = [...files, { path: old }, { path: plain, partitionValues: { date: '2024-05-01' } }]
    assert.deepEqual(await readTopEntities(conn, mixed, H(0), H(1), {}, 10), [{ entity: 'Oslo', n: 5 }, { entity: 'Paris', n: 2 }])
    assert.deepEqual(await readTopEntities(conn, mixed, H(0), H(1), { event_type: ['view'] }, 10), [{ entity: 'Oslo', n: 4 }])
    assert.deepEqual(await readTopEntities(conn, [{ path: old }], H(0), H(1), {}, 10), [])
  } finally {
    tmp.db.release(conn)
  }
})
