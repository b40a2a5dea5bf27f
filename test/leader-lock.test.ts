// The leader lock of a data folder, in one process (test/leader.test.ts runs real processes): two
// apps on one folder, one leads and the other follows and takes over once the first closes; a
// lock this pid left in an earlier life (a restarted container) is taken over at once; a leader
// whose lock another process took over loses its leadership (`lost` rejects).
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import type { AppContext } from '../src/app/context.js'
import { Leadership, leaderLockPath } from '../src/app/leader.js'
import type { Db } from '../src/batch/index.js'
import { DEFAULTS } from './helpers/settings.js'
import { until } from './helpers/wait.js'

async function withFolder (body: (dataDir: string, ctx: (source?: string) => AppContext, lines: string[]) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hg-leader-lock-'))
  const lines: string[] = []
  const ctx = (source = 'kafka'): AppContext => ({
    config: { ...DEFAULTS, source, leaderTimeoutMs: 1000 },
    dataDir,
    db: null as unknown as Db, // not used by the lock
    now: Date.now,
    log: pino({ level: 'silent' }),
    progress: (line) => lines.push(line),
    stage: () => undefined,
    kafkaOutage: () => undefined
  })
  try {
    await body(dataDir, ctx, lines)
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

test('two apps on one folder: one leads, the other follows and takes over when the first closes; a synthetic source cannot follow', async () => {
  await withFolder(async (dataDir, ctx) => {
    const a = await Leadership.open(ctx())
    const b = await Leadership.open(ctx())
    assert.equal(a.leading, true)
    assert.equal(b.leading, false)
    await assert.rejects(Leadership.open(ctx('synthetic')), /is led by pid \d+ .*only --source kafka or none may share a data folder/)
    let led = 0
    b.follow(() => { led++ })
    a.follow(() => undefined)
    await a.close()
    await until('b to take over', () => b.leading, 10_000)
    assert.equal(led, 1)
    const lock = JSON.parse(await readFile(leaderLockPath(dataDir), 'utf8')) as { pid: number }
    assert.equal(lock.pid, process.pid)
    await b.close()
  })
})

test('a lock naming this pid that no app here holds (an earlier process with the same pid) is taken over at once', async () => {
  await withFolder(async (dataDir, ctx, lines) => {
    const left = { pid: process.pid, hostname: hostname(), started_at: new Date().toISOString(), token: 'earlier-life', purpose: 'serve (leader)' }
    await writeFile(leaderLockPath(dataDir), JSON.stringify(left))
    const l = await Leadership.open(ctx('synthetic'))
    assert.equal(l.leading, true)
    assert.ok(lines.some((x) => /left by an earlier process with this pid/.test(x)), lines.join('\n'))
    await l.close()
  })
})

test('a leader whose lock another process took over loses its leadership', async () => {
  await withFolder(async (dataDir, ctx) => {
    const l = await Leadership.open(ctx())
    l.follow(() => undefined)
    let lost: unknown = null
    l.lost.catch((err: unknown) => { lost = err })
    await writeFile(leaderLockPath(dataDir), JSON.stringify({ pid: 1, hostname: 'elsewhere', started_at: new Date().toISOString(), token: 'theirs', purpose: 'serve (leader)' }))
    await until('the leadership to be lost', () => lost !== null, 10_000)
    assert.match(String(lost), /was taken over by another process/)
    assert.equal(l.leading, false)
    await l.close()
    assert.equal((JSON.parse(await readFile(leaderLockPath(dataDir), 'utf8')) as { token: string }).token, 'theirs', 'the other holder\'s lock stays')
  })
})
