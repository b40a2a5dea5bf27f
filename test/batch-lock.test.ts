// The batch lock across processes. Failures this guards against: two batch runs on one data
// folder at once (the second would publish over the first); a crashed run's lock blocking every
// later run forever.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { access, mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runBatch } from '../src/batch/batch-job.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { acquireLock, batchLockPath } from '../src/batch/lock.js'
import { HOUR_MS, MINUTE_MS } from '../src/model/time.js'
import { EventMaker, Feed } from './helpers/bronze.js'
import { goldState } from './helpers/own-gold.js'
import { tempData } from './helpers/temp-data.js'
import { sleep } from './helpers/wait.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const T0 = Date.UTC(2024, 4, 1)
const tmp = tempData('hourglass-lock-')

async function bronze (dataDir: string): Promise<void> {
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  new Feed(sink).add(new EventMaker(1).make(300, T0, T0 + 3 * HOUR_MS + 30 * MINUTE_MS))
  await sink.close()
}

async function writeLock (dataDir: string, pid: number, host = hostname()): Promise<string> {
  const path = batchLockPath(dataDir)
  await mkdir(join(dataDir, 'gold'), { recursive: true })
  await writeFile(path, JSON.stringify({ pid, hostname: host, started_at: new Date().toISOString(), token: 'theirs', purpose: 'batch' }))
  return path
}

test('a lock held by a dead pid is taken over; the run builds and releases the lock', async () => {
  const dataDir = join(tmp.dir, 'dead')
  await bronze(dataDir)
  const child = spawn(process.execPath, ['-e', ''])
  await once(child, 'exit')
  const path = await writeLock(dataDir, child.pid!)
  const progress: string[] = []
  const r = await runBatch({ dataDir, db: tmp.db, now: T0 + 4 * HOUR_MS, allowedLatenessMs: MINUTE_MS, onProgress: (l) => progress.push(l) })
  assert.equal(r.published, true)
  assert.ok(progress.some((l) => l.includes(`holder pid ${child.pid} on ${hostname()} is not running`)), progress.join('\n'))
  await assert.rejects(access(path), 'released')
})

test('a live holder blocks a second run: "another run is in progress", nothing built; a lock not touched for staleMs is taken over', async (t) => {
  const dataDir = join(tmp.dir, 'live')
  await bronze(dataDir)
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
  t.after(() => { child.kill() })
  const path = await writeLock(dataDir, child.pid!)
  const text = await readFile(path, 'utf8')
  const r = await runBatch({ dataDir, db: tmp.db, now: T0 + 4 * HOUR_MS, allowedLatenessMs: MINUTE_MS })
  assert.equal(r.published, false)
  assert.match(r.busy ?? '', new RegExp(`^another run is in progress \\(batch, pid ${child.pid} on `))
  assert.equal(await goldState(tmp.db, dataDir), null, 'nothing built')
  assert.equal(await readFile(path, 'utf8'), text, 'the holder keeps its lock')

  // a holder on another host is judged by its heartbeat: stale once not touched for staleMs
  await writeLock(dataDir, 1, 'some-other-host')
  const busy = await runBatch({ dataDir, db: tmp.db, now: T0 + 4 * HOUR_MS, allowedLatenessMs: MINUTE_MS, lock: { staleMs: 60_000 } })
  assert.match(busy.busy ?? '', /some-other-host/)
  const old = new Date(Date.now() - 120_000)
  await utimes(path, old, old)
  const r2 = await runBatch({ dataDir, db: tmp.db, now: T0 + 4 * HOUR_MS, allowedLatenessMs: MINUTE_MS, lock: { staleMs: 60_000 } })
  assert.equal(r2.published, true)
})

test('in one process, two takers of the lock: one wins; the holder heartbeats; release frees it', async () => {
  const path = join(tmp.dir, 'race', '_lock')
  const [a, b] = await Promise.all([acquireLock(path), acquireLock(path)])
  assert.equal([a, b].filter((x) => x.acquired).length, 1)
  const held = (a.acquired ? a : b) as Extract<typeof a, { acquired: true }>
  const beat = await acquireLock(path + '2', { staleMs: 40, heartbeatMs: 10 })
  assert.ok(beat.acquired)
  await sleep(60)
  const stolen = await acquireLock(path + '2', { staleMs: 40 })
  assert.equal(stolen.acquired, false, 'a holder that heartbeats is never stale')
  await beat.lock.release()
  await held.lock.release()
  const c = await acquireLock(path)
  assert.ok(c.acquired)
  await c.lock.release()
})

test('a lock appears whole or not at all (no temp file left); one that names no holder is stale after 30 s, not staleMs', async () => {
  const path = join(tmp.dir, 'whole', '_lock')
  const r = await acquireLock(path)
  assert.ok(r.acquired)
  const info = JSON.parse(await readFile(path, 'utf8')) as { pid: number, token: string }
  assert.equal(info.pid, process.pid)
  assert.deepEqual((await readdir(join(tmp.dir, 'whole'))).sort(), ['_lock'], 'the temp file it was linked from is gone')
  await r.lock.release()

  // an empty lock, as a writer killed between create and write left it in place
  await writeFile(path, '')
  const fresh = await acquireLock(path)
  assert.equal(fresh.acquired, false, 'it may be a live holder still writing')
  const old = new Date(Date.now() - 31_000)
  await utimes(path, old, old)
  const taken = await acquireLock(path)
  assert.ok(taken.acquired, 'judged stale well before the ten-minute heartbeat timeout')
  await taken.lock.release()
})
