// The memory store with more than one process: each process would hold only the windows of its
// own partitions. Two real `hourglass serve --source kafka --store memory` processes in one consumer
// group over a REAL Kafka broker: alone, a process answers without a speed_partial gap; once the
// second has joined, both report the speed range as `speed_partial` (never a silently partial
// number); when the second stops, the first holds every partition again and reports what it held
// only in part as not covered instead.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { AssignerProtocol } from 'kafkajs'
import { eventKey } from '../src/ingest/kafka/index.js'
import { planQuery } from '../src/merger/plan.js'
import type { MetricsResult } from '../src/model/index.js'
import { batchEvents, M, makeLines, validRecords } from './helpers/events.js'
import { killAll, ServeProcess } from './helpers/serve-process.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const PARTITIONS = 4
const services = servicesForFile({ partitions: PARTITIONS })

test('plan: a partial speed layer is a speed_partial gap over the speed range up to now', () => {
  const now = Date.UTC(2026, 0, 1, 12, 30)
  const speed = { oldest: null, newest: null, watermark: now - 2 * M, maxEventTime: now - M, coveredFrom: now - 60 * M }
  const plan = planQuery({ from: now - 20 * M, to: now + M, granularity: 'minute', boundary: null, historyFrom: null, speed, now, speedStaleMs: 120_000, speedPartial: true })
  assert.deepEqual(plan.gaps, [{ from: new Date(now - 20 * M).toISOString(), to: new Date(now).toISOString(), reason: 'speed_partial' }])
  assert.deepEqual(planQuery({ from: now - 20 * M, to: now + M, granularity: 'minute', boundary: null, historyFrom: null, speed, now, speedStaleMs: 120_000 }).gaps, [])
})

test('two serve processes on memory stores in one group: both answer with a speed_partial gap; alone again, none', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-scale-memory-'))
  const topic = `scale-memory-${process.pid}`
  const group = `hg-${topic}`
  const procs: ServeProcess[] = []
  const unexpected: string[] = []
  t.after(async () => {
    await killAll(procs)
    await rm(dir, { recursive: true, force: true })
  })
  assert.equal(await services.writer.createTopic(topic, PARTITIONS), true)
  const now = Date.now()
  const lines = makeLines(now - 20 * M, now - M, 2000, 7, 'mem', { late: false })
  const distinct = batchEvents(validRecords(lines, now)).length
  await services.writer.send(topic, lines.map((line) => ({ key: eventKey(line), value: line })))
  const spawn = (name: string): ServeProcess => {
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
    Object.assign(env, {
      HOURGLASS_KAFKA_BROKERS: services.kafka.brokers,
      HOURGLASS_KAFKA_TOPICS: topic,
      HOURGLASS_KAFKA_GROUP: group,
      HOURGLASS_KAFKA_BRONZE_GROUP: `${group}-bronze`,
      HOURGLASS_DLQ_TOPIC: `${topic}.dlq`,
      HOURGLASS_ALLOWED_LATENESS: '60m',
      HOURGLASS_DATA_DIR: join(dir, 'data'),
      HOURGLASS_SEED_DAYS: '0',
      HOURGLASS_LOG_LEVEL: 'warn'
    })
    const p = new ServeProcess(name, ['serve', '--source', 'kafka', '--store', 'memory', '--port', '0'], env, (x, how) => unexpected.push(`${x.name} exited (${how})`))
    procs.push(p)
    return p
  }
  const members = async (): Promise<number[][]> => {
    const admin = services.writer.kafka.admin()
    await admin.connect()
    try {
      const g = (await admin.describeGroups([group])).groups[0]
      if (g?.state !== 'Stable') return []
      return g.members.map((m) => m.memberAssignment.length === 0 ? [] : [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [])])
    } finally {
      await admin.disconnect()
    }
  }
  const answers = async (p: ServeProcess): Promise<MetricsResult[]> => {
    const base = /listening on (http:\/\/\S+);/.exec(p.output)?.[1] ?? assert.fail(`${p.name} is listening`)
    const out: MetricsResult[] = []
    for (const path of [`/v1/metrics?from=${new Date(now - 30 * M).toISOString()}&granularity=minute`, '/v1/metrics/live?last=30m']) {
      const res = await fetch(base + path)
      assert.equal(res.status, 200, path)
      out.push(await res.json() as MetricsResult)
    }
    return out
  }
  const partial = (r: MetricsResult): boolean => r.meta.gaps.some((g) => g.reason === 'speed_partial')
  try {
    const a = spawn('a')
    let seen = ''
    await until(() => `a alone holding every partition and the ${distinct} events (${seen})`, async () => {
      assert.deepEqual(unexpected, [])
      const m = await members()
      seen = JSON.stringify(m)
      if (m.length !== 1 || m[0]?.length !== PARTITIONS || !/listening on/.test(a.output)) return false
      const [merged] = await answers(a)
      const sum = merged?.rows.reduce((n, r) => n + (r.total_events ?? 0), 0)
      seen += ` ${sum} events served`
      // at least: a rebuild that reads the partitions one after another may admit a duplicate older than the dedup horizon
      return sum !== undefined && sum >= distinct
    }, 120_000)
    for (const r of await answers(a)) assert.ok(!partial(r), `alone: ${JSON.stringify(r.meta.gaps)}`)

    const b = spawn('b')
    await until('two members sharing the partitions', async () => {
      assert.deepEqual(unexpected, [])
      const m = await members()
      return m.length === 2 && m.every((x) => x.length > 0) && /listening on/.test(b.output)
    }, 120_000)
    for (const p of [a, b]) {
      await until(`${p.name} to report speed_partial`, async () => (await answers(p)).every(partial), 30_000)
      for (const r of await answers(p)) {
        assert.equal(r.meta.complete, false)
        const gap = r.meta.gaps.find((g) => g.reason === 'speed_partial')
        assert.ok(gap !== undefined && Date.parse(gap.from) <= now - 20 * M, `${p.name}: the whole speed range is partial: ${JSON.stringify(r.meta.gaps)}`)
      }
    }
    assert.match(a.output + b.output, /the memory store holds \d of 4 partitions since another process joined/)

    assert.deepEqual(await b.terminate(), { code: 0, signal: null })
    await until('a alone again', async () => {
      const m = await members()
      return m.length === 1 && m[0]?.length === PARTITIONS
    }, 90_000)
    await until('a to drop speed_partial', async () => (await answers(a)).every((r) => !partial(r)), 30_000)
    const [merged] = await answers(a)
    assert.ok(merged?.meta.gaps.some((g) => g.reason === 'speed_not_covered' && Date.parse(g.from) <= now - 20 * M),
      `what a held in part is reported as not covered: ${JSON.stringify(merged?.meta.gaps)}`)
    assert.deepEqual(await a.terminate(), { code: 0, signal: null })
    assert.deepEqual(unexpected, [])
  } catch (err) {
    for (const p of procs) process.stderr.write(`----- ${p.name} (pid ${p.pid}) -----\n${p.output}\n`)
    throw err
  }
})
