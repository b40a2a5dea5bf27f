// One leader per data folder: three real `hourglass serve --source none` processes share one data
// folder (as API processes beside the Kafka consumers would). Exactly one leads: it builds gold
// from the bronze the test writes, and the others only read the versions it publishes. The leader
// is SIGKILLed: another takes the folder over (its pid is dead on this host, so at the next try:
// within a quarter of the timeout, which is long enough that a loaded machine's stalls never pass it),
// builds the hour that completes next, and every process left answers from that version. No two
// processes ever publish: every "published gold" line comes from the leader of its time, and the
// versions count up one by one. A process with a source that writes bronze itself (synthetic)
// refuses to start on a folder another process leads.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { BronzeSink, Db } from '../src/batch/index.js'
import { HOUR_MS, MINUTE_MS } from '../src/model/index.js'
import { EventMaker, expected, Feed } from './helpers/bronze.js'
import { hourglass } from './helpers/cli.js'
import { goldState } from './helpers/own-gold.js'
import { killAll, ServeProcess } from './helpers/serve-process.js'
import { SINK_DEFAULTS } from './helpers/settings.js'
import { until } from './helpers/wait.js'

const LED = /leader: this process (leads|took over)/

function env (dataDir: string): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
  return {
    ...base,
    HOURGLASS_DATA_DIR: dataDir,
    HOURGLASS_LEADER_TIMEOUT: '8s',
    HOURGLASS_BATCH_INTERVAL: '10s',
    HOURGLASS_GOLD_POLL: '200ms',
    HOURGLASS_LOG_LEVEL: 'warn'
  }
}

function address (p: ServeProcess): string | null {
  return /listening on (http:\/\/\S+);/.exec(p.output)?.[1] ?? null
}

async function lockPid (dataDir: string): Promise<number | null> {
  try {
    return (JSON.parse(await readFile(join(dataDir, '_leader.lock'), 'utf8')) as { pid: number }).pid
  } catch {
    return null
  }
}

interface Answer { batch_version: number | null, rows: { window_start: string, total_events: number }[] }

/** The hourly answer; with `startingIsNull`, null while the process is still starting (503 HG_ERR_NOT_READY). */
async function hourly (p: ServeProcess, from: number, startingIsNull = false): Promise<Answer | null> {
  const res = await fetch(`${address(p) ?? ''}/v1/metrics?from=${new Date(from).toISOString()}&granularity=hour`)
  if (startingIsNull && res.status === 503 && (await res.clone().json() as { code?: string }).code === 'HG_ERR_NOT_READY') return null
  assert.equal(res.status, 200, `${p.name}: ${await res.clone().text()}`)
  const body = await res.json() as { rows: Answer['rows'], meta: { batch_version: number | null } }
  return { batch_version: body.meta.batch_version, rows: body.rows }
}

test('one leader per data folder builds gold, the others read it; the leader SIGKILLed, another takes over; never two publishers', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-leader-'))
  const procs: ServeProcess[] = []
  const db = await Db.open()
  t.after(async () => {
    await killAll(procs)
    db.close()
    await rm(dir, { recursive: true, force: true })
  })
  const dataDir = join(dir, 'data')
  const H = Math.floor(Date.now() / HOUR_MS) * HOUR_MS
  const maker = new EventMaker(5)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db })
  const feed = new Feed(sink)
  // hour H-3h complete (the bronze watermark passes its end + the allowed lateness), H-2h not yet
  feed.add(maker.make(3000, H - 3 * HOUR_MS, H - 2 * HOUR_MS))
  feed.add(maker.make(20, H - 2 * HOUR_MS, H - 2 * HOUR_MS + 5 * MINUTE_MS))
  await sink.flush()

  try {
    for (const name of ['a', 'b', 'c']) {
      procs.push(new ServeProcess(name, ['serve', '--source', 'none', '--port', '0'], env(dataDir), (p, how) => assert.fail(`${p.name} exited (${how})`)))
    }
    await until('three processes listening and saying whether they lead', () => procs.every((p) => address(p) !== null && /leader: /.test(p.output)), 90_000)
    const leaders = procs.filter((p) => LED.test(p.output))
    assert.equal(leaders.length, 1, 'exactly one process leads')
    const first = leaders[0] as ServeProcess
    assert.equal(await lockPid(dataDir), first.pid, 'the lock names the leader')
    for (const p of procs) if (p !== first) assert.match(p.output, new RegExp(`is led by pid ${first.pid} `))

    await until('gold v1 published', async () => (await goldState(db, dataDir))?.version === 1, 60_000)
    const want1 = [...expected(feed.all, H - 3 * HOUR_MS, H - 2 * HOUR_MS).values()].reduce((n, p) => n + p.events, 0)
    for (const p of procs) {
      await until(`${p.name} to serve gold v1`, async () => (await hourly(p, H - 4 * HOUR_MS, true))?.batch_version === 1, 90_000)
      const a = await hourly(p, H - 4 * HOUR_MS) as Answer
      assert.equal(a.rows.find((r) => Date.parse(r.window_start) === H - 3 * HOUR_MS)?.total_events, want1, `${p.name}: the hour gold holds`)
    }

    first.signal('SIGKILL')
    await first.exited
    const rest = procs.filter((p) => p !== first)
    await until('another process to take the data folder over', () => rest.some((p) => /leader: this process took over/.test(p.output)), 30_000)
    const second = rest.filter((p) => /leader: this process took over/.test(p.output))
    assert.equal(second.length, 1, 'exactly one takes over')
    const next = second[0] as ServeProcess
    await until('the lock to name the new leader', async () => (await lockPid(dataDir)) === next.pid, 10_000)

    // the next hour completes; the new leader builds it (its batch timer: at most 10 s)
    const sink2 = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db })
    const feed2 = new Feed(sink2)
    feed2.offsets[0] = feed.offsets[0] as number
    feed2.offsets[1] = feed.offsets[1] as number
    feed2.add(maker.make(2000, H - 2 * HOUR_MS + 5 * MINUTE_MS, H - HOUR_MS))
    feed2.add(maker.make(20, H - HOUR_MS, H - HOUR_MS + 5 * MINUTE_MS))
    await sink2.close()
    await sink.close()
    await until('gold v2 published', async () => (await goldState(db, dataDir))?.version === 2, 60_000)
    const want2 = [...expected([...feed.all, ...feed2.all], H - 2 * HOUR_MS, H - HOUR_MS).values()].reduce((n, p) => n + p.events, 0)
    for (const p of rest) {
      await until(`${p.name} to serve gold v2`, async () => (await hourly(p, H - 4 * HOUR_MS, true))?.batch_version === 2, 90_000)
      const a = await hourly(p, H - 4 * HOUR_MS) as Answer
      assert.equal(a.rows.find((r) => Date.parse(r.window_start) === H - 2 * HOUR_MS)?.total_events, want2, `${p.name}: the new hour`)
      assert.equal(a.rows.find((r) => Date.parse(r.window_start) === H - 3 * HOUR_MS)?.total_events, want1, `${p.name}: the first hour`)
    }

    // who published what: v1 by the first leader, v2 by the second, no one else
    const published = (p: ServeProcess): string[] => [...p.output.matchAll(/batch: published gold v(\d+)/g)].map((m) => m[1] as string)
    assert.deepEqual(published(first), ['1'])
    assert.deepEqual(published(next), ['2'])
    for (const p of rest) if (p !== next) assert.deepEqual(published(p), [], `${p.name} never publishes`)

    // a source that writes bronze itself cannot follow: it refuses to start
    const refused = await hourglass(['serve', '--source', 'synthetic', '--port', '0'], { HOURGLASS_DATA_DIR: dataDir, HOURGLASS_SEED_DAYS: '0', HOURGLASS_LOG_LEVEL: 'warn' })
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(refused.stderr, new RegExp(`is led by pid ${next.pid} .*only --source kafka or none may share a data folder`))

    for (const p of rest) assert.deepEqual(await p.terminate(), { code: 0, signal: null })
    assert.equal(await lockPid(dataDir), null, 'the leader releases its lock when it stops')
  } catch (err) {
    for (const p of procs) process.stderr.write(`----- ${p.name} (pid ${p.pid}) -----\n${p.output}\n`)
    throw err
  }
})
