// Many processes, one service: real `hourglass serve --source kafka --store redis` processes in one
// consumer group over a 6-partition topic of a REAL Kafka broker, one REAL Redis and one shared data
// folder. Each process consumes only its partitions, yet every one answers `/v1/metrics` and
// `/v1/metrics/live` equal to a brute force over every record produced: the speed part is read
// from the shared store, not from what the process consumed. The data folder's leader (the only
// bronze writer and batch publisher) is SIGKILLed mid-stream: the other two take its partitions
// over (once its session expires) and one of them the data folder, and the answers are still
// exact; a fourth process joins: the group rebalances, and the answers, the newcomer's too, are
// exact. Bronze holds every valid record exactly once at the end: one writer at a time.
//
// The record stream and why no event is late whatever the interleaving: test/helpers/kafka-faults.ts.
// The stream is paused at each check, so that the store can be read once it holds everything produced.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { listValue } from '@duckdb/node-api'
import { AssignerProtocol } from 'kafkajs'
import { Db, listBronzeHours } from '../src/batch/index.js'
import type { MetricsResult } from '../src/model/index.js'
import { RedisSpeedStore } from '../src/speed/index.js'
import { assertEqualsBrute, batchEvents, brute, M, validRecords } from './helpers/events.js'
import { DEDUP_WINDOW_MS, makePool, RETENTION_MS, SEED, Stream } from './helpers/kafka-faults.js'
import { killAll, ServeProcess } from './helpers/serve-process.js'
import { servicesForFile } from './helpers/services.js'
import { sleep, until } from './helpers/wait.js'

const PARTITIONS = 6
const services = servicesForFile({ partitions: PARTITIONS, redis: true })
const GROUP_BY: ('event_type' | 'region')[] = ['event_type', 'region']

class Cluster {
  readonly topic = `scale-${process.pid}`
  readonly group = `hg-scale-${process.pid}`
  readonly prefix = `scale-${process.pid}`
  readonly procs: ServeProcess[] = []
  readonly unexpected: string[] = []
  readonly store: RedisSpeedStore

  constructor (readonly dataDir: string) {
    this.store = new RedisSpeedStore({ url: services.redis.url, keyPrefix: this.prefix, retentionMs: RETENTION_MS, dedupWindowMs: DEDUP_WINDOW_MS })
  }

  spawn (name: string): ServeProcess {
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
    Object.assign(env, {
      HOURGLASS_KAFKA_BROKERS: services.kafka.brokers,
      HOURGLASS_KAFKA_TOPICS: this.topic,
      HOURGLASS_KAFKA_GROUP: this.group,
      HOURGLASS_KAFKA_BRONZE_GROUP: `${this.group}-bronze`,
      HOURGLASS_DLQ_TOPIC: `${this.topic}.dlq`,
      HOURGLASS_REDIS_URL: services.redis.url,
      HOURGLASS_REDIS_PREFIX: this.prefix,
      HOURGLASS_ALLOWED_LATENESS: '60m',
      HOURGLASS_RETENTION: '2h',
      HOURGLASS_DEDUP_WINDOW: '30m',
      HOURGLASS_DATA_DIR: this.dataDir,
      HOURGLASS_SEED_DAYS: '0',
      HOURGLASS_BRONZE_FLUSH: '2s',
      HOURGLASS_BRONZE_FLUSH_CHECK: '500ms',
      HOURGLASS_LEADER_TIMEOUT: '8s',
      HOURGLASS_LOG_LEVEL: 'warn'
    })
    const p = new ServeProcess(name, ['serve', '--source', 'kafka', '--store', 'redis', '--port', '0'], env, (x, how) => {
      this.unexpected.push(`${x.name} exited on its own (${how})`)
    })
    this.procs.push(p)
    return p
  }

  get alive (): ServeProcess[] {
    return this.procs.filter((p) => p.alive)
  }

  async leaderPid (): Promise<number | null> {
    try {
      return (JSON.parse(await readFile(join(this.dataDir, '_leader.lock'), 'utf8')) as { pid: number }).pid
    } catch {
      return null
    }
  }

  /** the group's state and the partitions each member holds */
  async members (): Promise<{ state: string, partitions: number[][] }> {
    const admin = services.writer.kafka.admin()
    await admin.connect()
    try {
      const g = (await admin.describeGroups([this.group])).groups[0]
      if (g === undefined) return { state: 'Unknown', partitions: [] }
      return {
        state: g.state,
        partitions: g.members.map((m) => m.memberAssignment.length === 0 ? [] : [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[this.topic] ?? [])])
      }
    } finally {
      await admin.disconnect()
    }
  }

  async untilMembers (n: number, ms: number): Promise<void> {
    let last = ''
    await until(() => `${n} members sharing the ${PARTITIONS} partitions (last: ${last})`, async () => {
      assert.deepEqual(this.unexpected, [])
      const g = await this.members()
      last = JSON.stringify(g)
      return g.state === 'Stable' && g.partitions.length === n && g.partitions.every((p) => p.length > 0) &&
        g.partitions.reduce((k, p) => k + p.length, 0) === PARTITIONS
    }, ms)
  }

  /** until the store's position of every partition is its end offset − 1 */
  async untilCaughtUp (ms = 90_000): Promise<void> {
    const admin = services.writer.kafka.admin()
    await admin.connect()
    let ends: bigint[] = []
    try {
      ends = (await admin.fetchTopicOffsets(this.topic)).sort((a, b) => a.partition - b.partition).map((o) => BigInt(o.high))
    } finally {
      await admin.disconnect()
    }
    await until(() => `the store to reach ${ends.join('/')}`, async () => {
      assert.deepEqual(this.unexpected, [])
      for (let p = 0; p < PARTITIONS; p++) {
        const v = await this.store.position(this.topic, p)
        if ((v === null ? -1n : BigInt(v)) !== (ends[p] as bigint) - 1n) return false
      }
      return true
    }, ms)
  }

  dump (): string {
    return this.procs.map((p) => `----- ${p.name} (pid ${p.pid}, ${p.alive ? 'alive' : 'exited'}) -----\n${p.output.trimEnd()}`).join('\n')
  }
}

function address (p: ServeProcess): string {
  const m = /listening on (http:\/\/\S+);/.exec(p.output)
  assert.ok(m !== null, `${p.name} is listening`)
  return m[1] as string
}

async function get (p: ServeProcess, path: string): Promise<MetricsResult> {
  const res = await fetch(address(p) + path)
  const body = await res.text()
  assert.equal(res.status, 200, `${p.name} ${path}: ${body}`)
  return JSON.parse(body) as MetricsResult
}

/** Every live process answers /v1/metrics (minute buckets) and /v1/metrics/live equal to the brute force over `sent`. */
async function assertAnswers (c: Cluster, sent: readonly (string | null)[], t0: number, label: string, t: TestContext): Promise<void> {
  const events = batchEvents(validRecords(sent.filter((x): x is string => x !== null), Date.now()))
  const from = t0 - 25 * M
  const want = brute(events, from, Date.now() + M, 'minute', GROUP_BY)
  for (const p of c.alive) {
    const merged = await get(p, `/v1/metrics?from=${new Date(from).toISOString()}&granularity=minute&group_by=event_type,region`)
    assert.deepEqual({ complete: merged.meta.complete, gaps: merged.meta.gaps }, { complete: true, gaps: [] }, `${label} ${p.name}`)
    assert.ok(merged.meta.sources.every((s) => s.layer === 'speed'), `${label} ${p.name}: the speed layer answers`)
    assertEqualsBrute(merged, want, GROUP_BY, `${label} ${p.name} /v1/metrics`)
    const live = await get(p, '/v1/metrics/live?last=60m&group_by=event_type,region')
    assert.equal(live.meta.complete, true, `${label} ${p.name} live: ${JSON.stringify(live.meta.gaps)}`)
    assertEqualsBrute(live, want, GROUP_BY, `${label} ${p.name} /v1/metrics/live`)
  }
  t.diagnostic(`${label}: ${sent.length} records, ${events.length} distinct valid events; ${c.alive.map((p) => p.name).join(', ')} answer exactly`)
}

/** Pause the stream, wait until the store holds everything produced, check every process, resume. */
async function checkpoint (c: Cluster, stream: Stream, t0: number, label: string, t: TestContext): Promise<void> {
  stream.paused = true
  await sleep(100) // a tick in flight finishes
  await c.untilCaughtUp()
  await assertAnswers(c, stream.sent, t0, label, t)
  stream.paused = false
}

test('three serve processes on Redis answer exactly; the leader SIGKILLed, the others take over; one added, rebalanced, exact; one bronze writer', { timeout: 720_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-scale-'))
  const c = new Cluster(join(dir, 'data'))
  const db = await Db.open()
  t.after(async () => {
    await killAll(c.procs)
    await c.store.close().catch(() => undefined)
    db.close()
    await rm(dir, { recursive: true, force: true })
  })
  assert.equal(await services.writer.createTopic(c.topic, PARTITIONS), true)
  const t0 = Date.now()
  const stream = new Stream(services.writer, c.topic, makePool(SEED + 21, 'scale', 40_000), 10)
  try {
    stream.paused = true
    stream.start()
    await stream.burst(600) // a backlog to start on
    for (const name of ['a', 'b', 'c']) c.spawn(name)
    await c.untilMembers(3, 240_000)
    const leaders = c.procs.filter((p) => /leader: this process leads/.test(p.output))
    assert.equal(leaders.length, 1, 'one process leads the data folder')
    const leader = leaders[0] as ServeProcess
    assert.equal(await c.leaderPid(), leader.pid)
    stream.paused = false
    await sleep(2000)
    await checkpoint(c, stream, t0, 'three processes, two partitions each', t)

    // the leader dies mid-stream: its partitions stall until its session expires, then the others take them
    await sleep(1000)
    assert.ok(!stream.exhausted)
    leader.signal('SIGKILL')
    await leader.exited
    await until('another process to take the data folder over', () => c.alive.some((p) => /leader: this process took over/.test(p.output)), 30_000)
    assert.equal(c.alive.filter((p) => /leader: this process took over/.test(p.output)).length, 1, 'exactly one takes over')
    await c.untilMembers(2, 240_000) // the session (30 s) expires late on a loaded broker
    await sleep(1000)
    await checkpoint(c, stream, t0, `the leader ${leader.name} SIGKILLed, two processes left`, t)

    // one process added: the group rebalances over three again
    const d = c.spawn('d')
    await c.untilMembers(3, 240_000)
    assert.ok(d.alive)
    await sleep(1000)
    await stream.stop()
    await c.untilCaughtUp()
    await assertAnswers(c, stream.sent, t0, 'a process added, three again', t)

    // bronze: every valid record exactly once (one writer at a time, the new leader resuming from the state)
    const valid = validRecords(stream.sent.filter((x): x is string => x !== null), Date.now()).length
    let counted = { rows: 0, distinct: 0 }
    await until(() => `bronze to hold the ${valid} valid records (${JSON.stringify(counted)})`, async () => {
      const files = [...(await listBronzeHours(c.dataDir)).values()].flat()
      if (files.length === 0) return false
      const conn = await db.connect()
      try {
        const r = await conn.rows(`SELECT count(*) AS n, count(DISTINCT (src_partition, src_offset)) AS d FROM read_parquet($files::VARCHAR[])`, { files: listValue(files) })
        counted = { rows: Number(r[0]?.n), distinct: Number(r[0]?.d) }
      } finally {
        db.release(conn)
      }
      return counted.rows >= valid
    }, 90_000)
    assert.deepEqual(counted, { rows: valid, distinct: valid }, 'every valid record in bronze exactly once')

    for (const p of c.alive) assert.deepEqual(await p.terminate(), { code: 0, signal: null }, `${p.name} stops cleanly`)
    assert.deepEqual(c.unexpected, [])
  } catch (err) {
    process.stderr.write(`\n===== scale-out: process output =====\n${c.dump()}\n===== end =====\n`)
    throw err
  } finally {
    await stream.stop().catch(() => undefined)
  }
})
