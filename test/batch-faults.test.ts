// The batch job killed mid-run leaves gold whole: `hourglass batch` runs as a child process
// (the CLI from the sources) over a data folder with a previous gold version in force and days of new
// bronze (new hours, late files that force rebuilds of built dates, duplicates), and is SIGKILLed
// at moments spread over its run: some at random delays, some right after it reported a date.
// After each kill: the hourly Delta table's log (the publish) is the previous one byte for byte or holds one
// complete new version; every file that version holds exists, reads fully through DuckDB and holds exactly the brute-force rows of
// its hours (days); the batch lock left by the killed holder does not block the next run. Last, a
// run to completion publishes gold equal to brute force over every event, and releases the lock.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cp, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runBatch } from '../src/batch/batch-job.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import { loadGoldFile } from '../src/batch/gold-file-cache.js'
import { batchLockPath } from '../src/batch/lock.js'
import { prng } from '../src/ingest/synthetic.js'
import type { HourglassEvent } from '../src/model/event.js'
import type { PartialRow } from '../src/model/partials.js'
import { DAY_MS, HOUR_MS, iso } from '../src/model/time.js'
import { assertRowsEqual, EventMaker, expected, Feed } from './helpers/bronze.js'
import { goldState, type GoldState, logText } from './helpers/own-gold.js'
import { tempData } from './helpers/temp-data.js'
import { SINK_DEFAULTS } from './helpers/settings.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ENTRY = join(ROOT, 'scripts', 'hourglass-dev.ts')
const T0 = Date.UTC(2024, 4, 1)
const D = (n: number): number => T0 + n * DAY_MS
/** days of new bronze the killed runs have to build (each a gold file, and a daily file) */
const NEW_DAYS = 8
const RUN_TIMEOUT_MS = 120_000

const tmp = tempData('hourglass-batch-faults-')

interface Kill { afterMs?: number, afterLine?: { pattern: RegExp, nth: number, jitterMs: number } }
interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, pid: number, ms: number, firstLineMs: number | null }

/** `hourglass batch --data DIR` as a child process, SIGKILLed as `kill` says (never: run to the end). */
async function batchRun (dataDir: string, kill: Kill = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'batch', '--data', dataDir], { cwd: ROOT, env: base, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let firstLineMs: number | null = null
  let seen = 0
  const timers: NodeJS.Timeout[] = [setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)]
  if (kill.afterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), kill.afterMs))
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s
    firstLineMs ??= performance.now() - started
    const k = kill.afterLine
    if (k === undefined) return
    const seenBefore = seen
    seen = stdout.split('\n').filter((l) => k.pattern.test(l)).length
    if (seenBefore < k.nth && seen >= k.nth) timers.push(setTimeout(() => child.kill('SIGKILL'), k.jitterMs))
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c, s) => resolve([c, s]))
    })
    return { code, signal, stdout, stderr, pid: child.pid!, ms: performance.now() - started, firstLineMs }
  } finally {
    for (const t of timers) clearTimeout(t)
  }
}

function toRows (data: Awaited<ReturnType<typeof loadGoldFile>>): PartialRow[] {
  const rows: PartialRow[] = []
  for (let i = 0; i < data.rows; i++) {
    const response = new Map<number, number>()
    for (let j = data.binStart[i]!; j < data.binStart[i + 1]!; j++) response.set(data.bins[j]!, data.counts[j]!)
    rows.push({
      window_start: data.windowStart[i]!,
      event_type: data.eventType[i]!,
      region: data.region[i]!,
      partials: {
        events: data.events[i]!, latency_sum: data.latencySum[i]!, latency_count: data.latencyCount[i]!, revenue_cents: data.revenueCents[i]!, response,
        sentiment_sum: data.sentimentSum[i]!, sentiment_count: data.sentimentCount[i]!, sentiment_positive: data.sentimentPositive[i]!,
        sentiment_neutral: data.sentimentNeutral[i]!, sentiment_negative: data.sentimentNegative[i]!
      }
    })
  }
  return rows
}

const bruteForceCache = new Map<string, ReturnType<typeof expected>>()

/** expected() of the helpers, kept per event set (always a prefix of one growing array) and range. */
function bruteForce (events: HourglassEvent[], from: number, to: number, bucket: number): ReturnType<typeof expected> {
  const key = `${events.length}|${from}|${to}|${bucket}`
  let r = bruteForceCache.get(key)
  if (r === undefined) bruteForceCache.set(key, r = expected(events, from, to, bucket))
  return r
}

/**
 * Every file the published version holds exists, reads fully through DuckDB, and holds exactly the
 * brute-force rows (over `events`) of the hours (days) it holds; together the hourly files cover
 * [complete_from, complete_until) with no hour twice, the daily files every complete date.
 */
async function assertGoldMatches (dataDir: string, m: GoldState, events: HourglassEvent[]): Promise<void> {
  const completeUntil = Date.parse(m.complete_until!)
  const from = Date.parse(m.complete_from!)
  const conn = await tmp.db.connect()
  try {
    for (const [table, bucket] of [['hourly_metrics', HOUR_MS], ['daily_metrics', DAY_MS]] as const) {
      const t = table === 'hourly_metrics' ? m.hourly : m.daily
      const want = bruteForce(events, from, completeUntil, bucket)
      const covered = new Set<number>()
      let total = 0
      for (const rel of t.files) {
        const path = join(dataDir, rel)
        // every column of every row decodes (the direct readers' columns too)
        const all = await conn.rows('SELECT * FROM read_parquet($f, hive_partitioning = false)', { f: path })
        const meta = await conn.rows('SELECT sum(num_rows) AS n FROM parquet_file_metadata($f)', { f: path })
        assert.equal(all.length, Number(meta[0]?.n), `${rel}: every row the footer promises reads`)
        const rows = toRows(await loadGoldFile(conn, path))
        total += rows.length
        const buckets = new Set(rows.map((r) => r.window_start))
        for (const b of buckets) {
          assert.ok(!covered.has(b), `${rel}: ${iso(b)} is in no other listed ${table} file`)
          covered.add(b)
        }
        const mine = new Map([...want].filter(([k]) => buckets.has(Number(k.slice(0, k.indexOf('|'))))))
        assertRowsEqual(rows, mine)
      }
      assert.equal(total, t.rows, `${table}.rows`)
      const wantBuckets = new Set([...want.keys()].map((k) => Number(k.slice(0, k.indexOf('|')))))
      if (bucket === DAY_MS) for (const b of wantBuckets) if (b + DAY_MS > completeUntil) wantBuckets.delete(b) // a date not complete has no daily file yet
      assert.deepEqual([...covered].sort(), [...wantBuckets].sort(), `${table}: the listed files cover every bucket holding events`)
    }
  } finally {
    tmp.db.release(conn)
  }
}

/** The published state (the hourly table's log; a killed run may leave a daily commit no version names). */
async function publishedLog (dataDir: string): Promise<string> {
  return await logText(dataDir, true)
}

async function published (dataDir: string): Promise<GoldState> {
  return (await goldState(tmp.db, dataDir))!
}

test('hourglass batch SIGKILLed at moments over its run: the previous version or a complete new one, its files whole and exact, the lock no obstacle; the next run completes', { timeout: 600_000 }, async () => {
  const dataDir = join(tmp.dir, 'data')
  const rand = prng(5)
  const maker = new EventMaker(11)
  const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
  const feed = new Feed(sink)
  try {
    // gold v1: the first two days and the first hour of the third
    feed.add(maker.make(20_000, D(0), D(2) + 2 * HOUR_MS))
    await sink.flush()
    const v1 = await runBatch({ dataDir, db: tmp.db, now: D(2) + 3 * HOUR_MS, allowedLatenessMs: 60_000 })
    assert.equal(v1.version, 1)
    assert.equal(v1.completeUntil, D(2) + HOUR_MS)

    // what every killed run has to do: days of new hours, late files for both built dates
    // (rebuilds), and duplicates resent at other offsets
    const versionEvents = new Map<number, number>([[1, feed.all.length]])
    feed.add(maker.make(100_000, D(2), D(2 + NEW_DAYS) + 2 * HOUR_MS))
    await sink.flush()
    feed.add(maker.make(300, D(0), D(2)))
    feed.add(Array.from({ length: 2000 }, () => feed.all[Math.floor(rand() * feed.all.length)]!))
    await sink.flush()
    const eventsFor = (version: number): HourglassEvent[] => feed.all.slice(0, versionEvents.get(version))

    // a run to the end on a copy: how long a run takes, and that it builds what brute force says
    const copy = join(tmp.dir, 'copy')
    await cp(dataDir, copy, { recursive: true })
    const full = await batchRun(copy)
    assert.equal(full.code, 0, full.stderr)
    assert.match(full.stdout, /published gold v2/)
    await assertGoldMatches(copy, await published(copy), feed.all)
    const dateLines = full.stdout.split('\n').filter((l) => /^batch: \d{4}-\d{2}-\d{2} /.test(l)).length
    assert.ok(dateLines >= NEW_DAYS, full.stdout)

    // the kills: at random moments from start-up to the end of the run, and right after the
    // first, a middle and the last date reported (then the daily files and the publish are left)
    const kills: Kill[] = []
    for (let k = 0; k < 3; k++) kills.push({ afterMs: full.ms * (0.5 + 0.5 * (k + rand()) / 3) })
    for (const [nth, jitterMs] of [[1, Math.floor(rand() * 40)], [Math.ceil(dateLines / 2), Math.floor(rand() * 40)], [dateLines, 0]] as const) {
      kills.push({ afterLine: { pattern: /^batch: \d{4}-\d{2}-\d{2} /, nth, jitterMs } })
    }
    let prev = await publishedLog(dataDir)
    let inForce = 1
    let killedMidRun = 0
    let leftBy: number | null = null // pid named by a lock a killed run left behind
    const log: string[] = []
    for (const kill of kills) {
      const r = await batchRun(dataDir, kill)
      const prevLock = leftBy
      if (prevLock !== null && r.firstLineMs !== null) {
        assert.match(r.stdout, new RegExp(`^lock: took over .*: holder pid ${prevLock} on .* is not running$`, 'm'), 'the killed holder\'s lock is taken over at once')
      }
      leftBy = null
      const m = await published(dataDir)
      log.push(`${JSON.stringify(kill.afterMs !== undefined ? { afterMs: Math.round(kill.afterMs) } : { nth: kill.afterLine?.nth })}: ${r.signal ?? 'exit ' + String(r.code)} after ${Math.round(r.ms)} ms, gold v${m.version}, ${r.stdout.split('\n').filter((l) => l !== '').length} lines`)
      assert.doesNotMatch(r.stdout, /another run is in progress/, 'a killed holder\'s lock never blocks the next run')
      if (r.signal === null) assert.equal(r.code, 0, r.stderr)
      if (m.version === inForce) {
        assert.equal(await publishedLog(dataDir), prev, 'the previous version stays in force, unchanged')
        await assertGoldMatches(dataDir, m, eventsFor(m.version))
        if (r.signal === 'SIGKILL') killedMidRun++
      } else {
        // published before the kill landed: a complete new version over every event
        assert.equal(m.version, inForce + 1)
        versionEvents.set(m.version, feed.all.length)
        await assertGoldMatches(dataDir, m, feed.all)
        prev = await publishedLog(dataDir)
        inForce = m.version
        // as much to do for the next kills: a late event in the first hour of every built date
        // rebuilds them all
        for (let d = 0; d <= NEW_DAYS + 2; d++) feed.add(maker.make(1, D(d), D(d) + HOUR_MS))
        await sink.flush()
      }
      if (r.signal === 'SIGKILL') {
        // the killed holder's lock may be left behind: it names a pid that no longer runs
        const lock = await readFile(batchLockPath(dataDir), 'utf8').catch(() => null)
        if (lock !== null) {
          const info = JSON.parse(lock) as { pid: number, hostname: string }
          // (killed before it printed anything, a run may not have taken over the previous one's yet)
          if (!(r.firstLineMs === null && info.pid === prevLock)) assert.equal(info.pid, r.pid, 'a lock left behind is whole and names the killed run')
          assert.equal(info.hostname, hostname())
          leftBy = info.pid
        }
      } else {
        await assert.rejects(readFile(batchLockPath(dataDir)), 'a run that ends releases the lock')
      }
    }
    assert.ok(killedMidRun >= 3, `kills landed mid-run:\n${log.join('\n')}`)

    // the next run completes: gold equals brute force over every event, the lock released
    const last = await batchRun(dataDir)
    assert.equal(last.code, 0, last.stderr)
    if (leftBy !== null) assert.match(last.stdout, new RegExp(`^lock: took over .*: holder pid ${leftBy} on `, 'm'))
    assert.match(last.stdout, /published gold v\d+/)
    const m = await published(dataDir)
    assert.equal(m.version, inForce + 1)
    await assertGoldMatches(dataDir, m, feed.all)
    await assert.rejects(readFile(batchLockPath(dataDir)), 'the lock is released')
    const again = await batchRun(dataDir)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /nothing new to build/)
    console.log(`# full run ${Math.round(full.ms)} ms (first line at ${Math.round(full.firstLineMs ?? 0)} ms)\n# ${log.join('\n# ')}`)
  } finally {
    await sink.close()
  }
})
