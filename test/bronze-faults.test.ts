// The bronze sink killed with SIGKILL mid-write and restarted leaves
// no duplicate and no missing event. Against a REAL Apache Kafka broker (started here by
// scripts/services, loopback only); the consumer is a real `hourglass serve --source kafka`
// child process (the CLI from the sources), killed and restarted from outside like an orchestrator
// would.
//
// A known record stream (valid events with duplicates, late events and invalid records, over 3
// partitions keyed by event_id) is produced while the process runs, and it is SIGKILLed at several
// moments of its bronze writing, with a small flush size so that it flushes all the time (the
// moments are caught with inotify on the hour folders and the kill is sent from the callback):
//   write   as soon as a Parquet temp file of the process appears: a file half written (the kind is
//           repeated, up to 4 more times, until one kill has left a temp file behind);
//   rename  as soon as a new Parquet file is renamed into place: often before the flush's other
//           files are renamed and before the state records the flush;
//   random  0 to 2.5 s after its first new file.
// Each restart first evicts the dead member from both consumer groups (as an orchestrator would),
// and a backlog is produced for it to start on.
// After each kill, the Kafka offsets committed for the bronze group must not be ahead of what the
// bronze state records (they are committed only after the rename). At the end every valid record's
// (topic, partition, offset) must be in bronze exactly once, with its event (read back with
// DuckDB from the files a listing returns), no temp file may be left, the per-partition watermark
// must be each partition's newest event time, the group's committed offsets the state's last
// offsets + 1, and the gold the batch job builds from that bronze must equal a brute force over the
// valid events (deduplicated by event_id + timestamp, late ones included). Last, a process killed
// and restarted without evicting it from the bronze group (whose rebalance then waits for the dead
// member's session to expire) serves meanwhile, and a SIGTERM while its bronze consumer is still
// joining stops it cleanly (kafkajs alone would wait for the join to be answered).
//
// FAULTS_SEED=n changes the seeded randomness (event set, kill moments and their order);
// FAULTS_SHOW_OUTPUT=1 prints the processes' output even when the test passes.
import assert from 'node:assert/strict'
import { type FSWatcher, watch } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { listValue } from '@duckdb/node-api'
import type { GroupDescription } from 'kafkajs'
import { runBatch } from '../src/batch/batch-job.js'
import { parseBronzeName } from '../src/batch/bronze-coverage.js'
import { bronzeEventsDir, bronzeHourDir, compareOffsets, listBronzeHours, readBronzeState, topicSafe } from '../src/batch/bronze-layout.js'
import { Db, num } from '../src/batch/duckdb.js'
import { GoldReader } from '../src/batch/gold-reader.js'
import { eventKey, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import { prng } from '../src/ingest/synthetic.js'
import type { HourglassEvent } from '../src/model/event.js'
import { HOUR_MS } from '../src/model/time.js'
import { assertRowsEqual, expected } from './helpers/bronze.js'
import { M, makeLines, validRecords } from './helpers/events.js'
import { consumeAll } from './helpers/kafka.js'
import { evictGroup, ServeProcess } from './helpers/serve-process.js'
import { servicesForFile } from './helpers/services.js'
import { sleep, until } from './helpers/wait.js'

const PARTITIONS = 3
const SEED = Number(process.env.FAULTS_SEED ?? 20240612)
const FLUSH_EVENTS = 250

const services = servicesForFile({ partitions: PARTITIONS })

/** Records to produce, in order: ~150 minutes of event time ending a minute ago, with defects. */
function makePool (seed: number, n: number, end: number): OutgoingRecord[] {
  const lines = makeLines(end - 150 * M, end, n, seed, 'bf') // duplicates, late events, invalid records
  const rand = prng(seed + 1)
  const out: OutgoingRecord[] = []
  lines.forEach((line, i) => {
    out.push({ key: eventKey(line), value: line })
    // a duplicate long after its original (same bytes, same key: another record, another offset)
    if (i > 500 && rand() < 0.01) {
      const d = lines[Math.floor(rand() * (i - 400))] as string
      out.push({ key: eventKey(d), value: d })
    }
    if (rand() < 0.002) out.push({ key: `bf-binary-${i}`, value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x80 + (i % 64), 0x22, 0x7d]) })
  })
  return out
}

/** Sends the pool in order, `perTick` records every 50 ms, until stopped or sent; `burst` sends a backlog at once. */
class Producer {
  sent = 0
  #stopped = false
  #loop: Promise<void> = Promise.resolve()
  constructor (readonly topic: string, readonly pool: readonly OutgoingRecord[], readonly perTick: number) {}
  get exhausted (): boolean { return this.sent >= this.pool.length }
  start (): void {
    this.#loop = (async () => {
      while (!this.#stopped && !this.exhausted) {
        await this.burst(this.perTick)
        await sleep(50)
      }
    })()
  }

  async burst (n: number): Promise<void> {
    const from = this.sent
    this.sent = Math.min(this.pool.length, from + n)
    if (this.sent > from) await services.writer.send(this.topic, this.pool.slice(from, this.sent))
  }

  async stop (): Promise<void> {
    this.#stopped = true
    await this.#loop
  }
}

interface Listing {
  /** sink file names (not temp) */
  files: Set<string>
  /** temp file names of sink files */
  temps: string[]
}

async function listBronze (dataDir: string): Promise<Listing> {
  const out: Listing = { files: new Set(), temps: [] }
  const root = bronzeEventsDir(dataDir)
  for (const date of await readdir(root).catch(() => [] as string[])) {
    for (const hour of await readdir(join(root, date)).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, date, hour)).catch(() => [] as string[])) {
        if (name.startsWith('.')) out.temps.push(name)
        else if (name.endsWith('.parquet')) out.files.add(name)
      }
    }
  }
  return out
}

/**
 * Watch the hour folders (inotify) and call `fire` synchronously, the moment a file whose name
 * `matches` appears in one (a temp file created, a file renamed into place); false after `ms`.
 */
function watchBronze (dirs: readonly string[], matches: (name: string) => boolean, fire: () => void, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const watchers: FSWatcher[] = []
    let done = false
    const finish = (fired: boolean): void => {
      if (done) return
      done = true
      for (const w of watchers) w.close()
      clearTimeout(timer)
      resolve(fired)
    }
    const timer = setTimeout(() => finish(false), ms)
    for (const dir of dirs) {
      watchers.push(watch(dir, (_event, name) => {
        if (!done && name !== null && matches(name)) {
          fire()
          finish(true)
        }
      }))
    }
  })
}

test('bronze: the process SIGKILLed mid-write, after a rename and at random moments, and restarted, leaves every valid record in bronze exactly once; gold equals brute force', { timeout: 300_000 }, async (t) => {
  const id = `${process.pid}`
  const topic = `bronze-faults-${id}`
  const group = `hg-bf-speed-${id}`
  const bronzeGroup = `hg-bf-bronze-${id}`
  const dir = await mkdtemp(join(tmpdir(), 'hg-bronze-faults-'))
  const dataDir = join(dir, 'data')
  const procs: ServeProcess[] = []
  const unexpected: string[] = []
  const db = await Db.open()
  t.after(async () => {
    for (const p of procs) if (p.alive) p.signal('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    db.close()
    await rm(dir, { recursive: true, force: true })
  })
  const dump = (): string => procs.map((p) => `----- ${p.name} (pid ${p.pid}) -----\n${p.output.trimEnd()}`).join('\n')
  const spawnServe = (): ServeProcess => {
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
    Object.assign(env, {
      HOURGLASS_KAFKA_BROKERS: services.kafka.brokers,
      HOURGLASS_KAFKA_TOPICS: topic,
      HOURGLASS_KAFKA_GROUP: group,
      HOURGLASS_KAFKA_BRONZE_GROUP: bronzeGroup,
      HOURGLASS_DLQ_TOPIC: `${topic}.dlq`,
      HOURGLASS_DATA_DIR: dataDir,
      HOURGLASS_SEED_DAYS: '0',
      HOURGLASS_RETENTION: '1m', // the speed layer's rebuild from Kafka at each start stays short
      HOURGLASS_BRONZE_FLUSH: '1s',
      HOURGLASS_BRONZE_FLUSH_EVENTS: String(FLUSH_EVENTS),
      HOURGLASS_LOG_LEVEL: 'warn'
    })
    const p = new ServeProcess(`serve#${procs.length + 1}`, ['serve', '--source', 'kafka', '--port', '0'], env, (x, how) => unexpected.push(`${x.name} exited on its own (${how})`))
    procs.push(p)
    return p
  }
  const kafkaAdmin = services.writer.kafka.admin()
  await kafkaAdmin.connect()
  t.after(() => kafkaAdmin.disconnect())
  /** Committed offsets of the bronze group per partition (−1: none). */
  const committed = async (): Promise<bigint[]> => {
    const out = new Array<bigint>(PARTITIONS).fill(-1n)
    for (const tp of await kafkaAdmin.fetchOffsets({ groupId: bronzeGroup, topics: [topic] })) {
      for (const p of tp.partitions) out[p.partition] = BigInt(p.offset)
    }
    return out
  }
  /** The state's last offset per partition (−1: none). */
  const stateOffsets = async (): Promise<bigint[]> => {
    const out = new Array<bigint>(PARTITIONS).fill(-1n)
    for (const p of (await readBronzeState(dataDir)).partitions) if (p.topic === topic) out[p.partition] = BigInt(p.last_offset)
    return out
  }

  try {
    assert.equal(await services.writer.createTopic(topic, PARTITIONS), true)
    // the hour folders the events go to, made beforehand so that they can be watched (an empty
    // one is nothing to a reader)
    const end = Date.now() - M
    const hourDirs: string[] = []
    for (let h = Math.floor((end - 175 * M) / HOUR_MS) * HOUR_MS; h < end; h += HOUR_MS) hourDirs.push(bronzeHourDir(dataDir, h))
    for (const d of hourDirs) await mkdir(d, { recursive: true })
    const pool = makePool(SEED, 30_000, end)
    const producer = new Producer(topic, pool, 20)
    await producer.burst(2000) // a backlog for the first incarnation
    producer.start()

    const rand = prng(SEED + 2)
    const kinds = ['write', 'rename', 'random', 'write', 'rename', 'random'].map((k) => ({ k, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.k)
    const moments: string[] = []
    let midWrite = 0
    let afterRename = 0
    let serve = spawnServe()
    for (let i = 0; i < kinds.length || (midWrite === 0 && i < kinds.length + 4); i++) {
      const kind = kinds[i] ?? 'write'
      const known = (await listBronze(dataDir)).files
      const pid = serve.pid
      const victim = serve
      const matches = kind === 'write'
        ? (n: string) => n.endsWith('.parquet') === false && n.includes(`.tmp-${pid}-`) && n.startsWith('.')
        : (n: string) => !n.startsWith('.') && n.endsWith('.parquet') && !known.has(n)
      const fired = await watchBronze(hourDirs, matches, () => { if (kind !== 'random') victim.signal('SIGKILL') }, 60_000)
      assert.deepEqual(unexpected, [], dump())
      assert.ok(fired, `${serve.name} to write bronze (${kind})\n${dump()}`)
      if (kind === 'random') {
        await sleep(Math.floor(rand() * 2500))
        serve.signal('SIGKILL')
      }
      await serve.exited

      // what the kill left: a temp file (killed mid-write), files the state does not record (killed
      // between a rename and the state write), or neither (between flushes)
      const left = await listBronze(dataDir)
      const last = await stateOffsets()
      const pending = new Set(((await readBronzeState(dataDir)).pending ?? []).filter((x) => x.topic === topic).map((x) => x.partition))
      const unrecorded = [...left.files].filter((n) => {
        const r = parseBronzeName(n)?.[0]
        if (r === undefined || r.topic !== topicSafe(topic)) return false
        const recorded = last[r.partition] ?? -1n
        return recorded < 0n ? pending.has(r.partition) : compareOffsets(r.first, String(recorded)) > 0
      })
      const temps = left.temps.filter((n) => n.includes(`.tmp-${pid}-`))
      if (temps.length > 0) midWrite++
      if (unrecorded.length > 0) afterRename++
      // Kafka offsets are committed only after the rename and the state write
      const c = await committed()
      c.forEach((o, p) => assert.ok(o <= (last[p] as bigint) + 1n, `partition ${p}: committed ${o} is ahead of bronze (state ${last[p]})`))
      moments.push(`${kind}: ${serve.name} after ${((Date.now() - serve.startedAt) / 1000).toFixed(1)} s; ${temps.length} temp, ${unrecorded.length} unrecorded file(s) left; state ${last.join('/')}, committed ${c.join('/')}; ${producer.sent} produced`)

      await evictGroup(services.writer.kafka, services.kafka.port, group)
      await evictGroup(services.writer.kafka, services.kafka.port, bronzeGroup)
      await producer.burst(1500) // a backlog for the next incarnation to start on
      serve = spawnServe()
    }
    for (const m of moments) t.diagnostic(`SIGKILL ${m}`)
    assert.ok(midWrite > 0, 'at least one kill landed while a Parquet file was being written')
    t.diagnostic(`${midWrite} kill(s) mid-write, ${afterRename} between a rename and the state write`)

    // the last incarnation runs to the end of the stream
    await producer.burst(pool.length)
    await producer.stop()
    const records = await consumeAll(services.kafka.brokers, topic, pool.length, 60_000, 500)
    assert.equal(records.length, pool.length, 'the topic holds every record produced')
    const texts = records.map((r) => r.value.toString('utf8'))
    const valid = validRecords(texts, Date.now())
    const want = new Map(valid.map(({ e, line }) => [`${records[line]?.partition}/${records[line]?.offset}`, e]))
    const lastValid = new Array<bigint>(PARTITIONS).fill(-1n)
    const newest = new Array<number>(PARTITIONS).fill(-Infinity)
    for (const { e, line } of valid) {
      const r = records[line] as (typeof records)[number]
      if (BigInt(r.offset) > (lastValid[r.partition] as bigint)) lastValid[r.partition] = BigInt(r.offset)
      newest[r.partition] = Math.max(newest[r.partition] as number, e.ts)
    }
    assert.ok(valid.length < records.length && valid.length > 25_000, `${valid.length} valid of ${records.length}`)
    let last: bigint[] = []
    await until(() => `bronze to reach the last valid offset of every partition (${lastValid.join('/')}); state ${last.join('/')}\n${dump()}`, async () => {
      assert.deepEqual(unexpected, [], dump())
      last = await stateOffsets()
      return last.every((o, p) => o >= (lastValid[p] as bigint))
    }, 120_000)
    const stopping = Date.now()
    assert.deepEqual(await serve.terminate(), { code: 0, signal: null }, 'a SIGTERM stops it cleanly')
    t.diagnostic(`${serve.name} stopped ${Date.now() - stopping} ms after a SIGTERM`)

    // every valid record exactly once, nothing else, with its event; no temp file left
    const files = [...(await listBronzeHours(dataDir)).values()].flat()
    const conn = await db.connect()
    const rows = await conn.rows(`SELECT src_topic, src_partition, CAST(src_offset AS VARCHAR) AS src_offset, event_id, epoch_ms(event_time) AS ts, count(*) OVER (PARTITION BY src_topic, src_partition, src_offset) AS n
      FROM read_parquet($files::VARCHAR[])`, { files: listValue(files) })
    db.release(conn)
    const twice = rows.filter((r) => num(r.n) > 1)
    assert.equal(twice.length, 0, `records in bronze more than once: ${twice.slice(0, 5).map((r) => `${r.src_partition}/${r.src_offset}`).join(', ')}`)
    assert.ok(rows.every((r) => r.src_topic === topic))
    const got = new Map(rows.map((r) => [`${num(r.src_partition)}/${String(r.src_offset)}`, r]))
    const missing = [...want.keys()].filter((k) => !got.has(k))
    const extra = [...got.keys()].filter((k) => !want.has(k))
    assert.deepEqual(missing, [], `valid records missing from bronze (${missing.length})`)
    assert.deepEqual(extra, [], `records in bronze that are not valid records of the topic (${extra.length})`)
    for (const [k, e] of want) {
      const r = got.get(k) as Record<string, unknown>
      assert.equal(r.event_id, e.event_id, k)
      assert.equal(num(r.ts), e.ts, k)
    }
    const leftover = await listBronze(dataDir)
    assert.deepEqual(leftover.temps, [], 'no temp file is left')
    assert.equal(leftover.files.size, files.length, 'every Parquet file is one a listing returns')
    t.diagnostic(`${want.size} valid records of ${records.length} in ${files.length} files, each exactly once`)

    // the per-partition watermark, and the group's offsets committed after the renames
    const state = await readBronzeState(dataDir)
    assert.equal(state.pending, undefined)
    for (let p = 0; p < PARTITIONS; p++) {
      const s = state.partitions.find((x) => x.topic === topic && x.partition === p)
      assert.equal(s?.last_offset, String(lastValid[p]), `partition ${p}: last offset`)
      assert.equal(Date.parse(s?.max_event_time ?? ''), newest[p], `partition ${p}: watermark = its newest event time`)
    }
    assert.deepEqual(await committed(), lastValid.map((o) => o + 1n), 'committed offsets = the state\'s last offsets + 1')

    // gold built from this bronze equals brute force
    const built = await runBatch({ dataDir, db, now: Date.now(), allowedLatenessMs: M })
    assert.ok(built.completeUntil !== null)
    const events: HourglassEvent[] = [...want.values()].map((e) => ({
      event_id: e.event_id,
      ts: e.ts,
      event_type: e.event_type,
      region: e.region,
      ...(e.processing_time === undefined ? {} : { processing_time: e.processing_time }),
      ...(e.response_time === undefined ? {} : { response_time: e.response_time }),
      ...(e.revenue === undefined ? {} : { revenue_cents: Math.round(e.revenue * 100) })
    }))
    const from = Math.floor(Math.min(...events.map((e) => e.ts)) / HOUR_MS) * HOUR_MS
    const to = built.completeUntil
    assert.ok(to - from >= HOUR_MS, `at least an hour of gold (${new Date(from).toISOString()} to ${new Date(to).toISOString()})`)
    const reader = await GoldReader.open({ dataDir, db, pollMs: 0 })
    try {
      const snapshot = reader.snapshot()
      assert.ok(snapshot !== null)
      assertRowsEqual(await reader.query(snapshot, from, to, {}), expected(events, from, to))
    } finally {
      await reader.close()
    }
    t.diagnostic(`gold ${new Date(from).toISOString()} to ${new Date(to).toISOString()} equals brute force`)

    // A process SIGKILLed and restarted without evicting it from the bronze group: the dead member
    // holds up that group's rebalance until its session expires (30 s). The new process serves
    // meanwhile (the speed layer does not wait for bronze), and a SIGTERM while its bronze consumer
    // is still joining stops it at once and cleanly, with bronze as it was.
    const a = spawnServe()
    await until(`${a.name}'s bronze consumer to start`, () => a.output.includes('bronze: consumer group'))
    await until(`${a.name}'s bronze consumer to join its group`, async () => {
      const g = (await kafkaAdmin.describeGroups([bronzeGroup])).groups[0]
      return g?.state === 'Stable' && g.members.length === 1
    }, 30_000)
    a.signal('SIGKILL')
    await a.exited
    await evictGroup(services.writer.kafka, services.kafka.port, group) // the speed group only
    const b = spawnServe()
    await until(`${b.name} to serve while its bronze consumer waits for the group`, () => b.output.includes('Hourglass is serving'))
    // b's join request has reached the coordinator, which now waits for the dead member
    let g: GroupDescription | undefined
    await until(() => `the bronze group to wait for its dead member (${g?.state}, ${g?.members.length} members)`, async () => {
      g = (await kafkaAdmin.describeGroups([bronzeGroup])).groups[0]
      return g?.state === 'PreparingRebalance'
    }, 20_000)
    const t0 = Date.now()
    assert.deepEqual(await b.terminate(20_000), { code: 0, signal: null }, 'a SIGTERM while bronze joins its group stops it cleanly')
    t.diagnostic(`stopped ${Date.now() - t0} ms after a SIGTERM while its bronze consumer was joining`)
    assert.deepEqual((await readBronzeState(dataDir)).partitions, state.partitions, 'bronze as it was')
    assert.deepEqual((await listBronze(dataDir)).temps, [])
  } catch (err) {
    process.stderr.write(`\n===== bronze-faults: process output =====\n${dump()}\n===== end =====\n`)
    throw err
  } finally {
    if (process.env.FAULTS_SHOW_OUTPUT === '1') process.stderr.write(`\n===== bronze-faults: process output =====\n${dump()}\n`)
  }
})
