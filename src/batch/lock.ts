// A lock file that keeps two processes from running the batch job (or vacuum) on one data folder
// at once, and that a crashed holder cannot keep forever.
//
// Taking it: create the file with O_EXCL semantics, holding pid, hostname, start time and a random
// token. The content is written to a temp file first and hard-linked into place (link fails with
// EEXIST like O_EXCL), so a holder killed at any moment leaves a whole lock naming its pid, or
// none: never an empty one that only its age could judge. While held, the holder touches its mtime
// every heartbeatMs. A lock found in place is stale when its holder is a dead pid on this host, or
// when it was not touched for staleMs (a holder on another host, or one whose pid was reused).
// Breaking a stale lock goes through a second O_EXCL file (`<lock>.break`) so that two processes
// that both judged it stale cannot both win: the one holding `.break` re-reads the lock, removes it
// only if it is still the one judged stale, and then competes for the lock with O_EXCL like anyone
// else. Release removes the file only if it still holds our token.
import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { tempPathFor } from './atomic-file.js'

export interface LockInfo {
  pid: number
  hostname: string
  started_at: string
  token: string
  purpose: string
}

export interface LockOptions {
  /** a lock not touched for this long is stale, whoever holds it (ms) */
  staleMs?: number
  /** how often the holder touches the lock (ms) */
  heartbeatMs?: number
  /** what the lock is taken for (written into it, shown to whoever is blocked) */
  purpose?: string
  now?: () => number
  onProgress?: (line: string) => void
}

export interface HeldLock {
  readonly path: string
  readonly info: LockInfo
  /** whether the lock file still holds our token (false once another process broke it as stale) */
  stillHeld (): Promise<boolean>
  release (): Promise<void>
}

export type LockResult = { acquired: true, lock: HeldLock } | { acquired: false, holder: LockInfo | null, reason: string }

const DEFAULT_STALE_MS = 10 * 60_000 // ten minutes without a heartbeat
const DEFAULT_HEARTBEAT_MS = 30_000 // thirty seconds
const BREAK_STALE_MS = 30_000 // a `.break` file older than this was left by a crash
// a lock without a readable holder (left half-written by a version that wrote it in place) is
// judged by age alone, and sooner than the heartbeat timeout: no live holder leaves it so for long
const UNREADABLE_STALE_MS = 30_000

/** The batch lock of a data folder (batch runs and vacuum take it). */
export function batchLockPath (dataDir: string): string {
  return join(dataDir, 'gold', '_lock')
}

/** The compaction lock of a data folder (compaction and vacuum take it). */
export function compactionLockPath (dataDir: string): string {
  return join(dataDir, 'bronze', '_compact.lock')
}

function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by someone else
  }
}

async function readLock (path: string): Promise<{ info: LockInfo | null, text: string, mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)])
    let info: LockInfo | null = null
    try {
      const v = JSON.parse(text) as LockInfo
      if (Number.isInteger(v.pid) && typeof v.hostname === 'string' && typeof v.token === 'string') info = v
    } catch {
      // half-written (a crash of a version that wrote it in place): judged by age alone
    }
    return { info, text, mtimeMs: st.mtimeMs }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** Why a lock in place is stale, or null when its holder may still be running. */
export function staleReason (info: LockInfo | null, mtimeMs: number, now: number, staleMs: number): string | null {
  if (info !== null && info.hostname === hostname() && info.pid !== process.pid && !pidAlive(info.pid)) {
    return `holder pid ${info.pid} on ${info.hostname} is not running`
  }
  if (now - mtimeMs > staleMs) return `not touched for ${Math.round((now - mtimeMs) / 1000)} s`
  if (info === null && now - mtimeMs > Math.min(staleMs, UNREADABLE_STALE_MS)) {
    return `names no holder and was not touched for ${Math.round((now - mtimeMs) / 1000)} s`
  }
  return null
}

/** What this process writes into a lock it takes, with a fresh token. */
function ownInfo (purpose: string, now: () => number): LockInfo {
  return { pid: process.pid, hostname: hostname(), started_at: new Date(now()).toISOString(), token: randomBytes(8).toString('hex'), purpose }
}

/** Create `path` (O_EXCL) holding `info`, synced. */
async function writeInfo (path: string, info: LockInfo): Promise<void> {
  const fh = await open(path, 'wx')
  try {
    await fh.writeFile(JSON.stringify(info) + '\n', 'utf8')
    await fh.sync()
  } finally {
    await fh.close()
  }
}

async function tryCreate (path: string, info: LockInfo): Promise<boolean> {
  const tmp = tempPathFor(path)
  try {
    await writeInfo(tmp, info)
    await link(tmp, path)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    // a filesystem without hard links: create in place (a crash there may leave it empty)
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return await createInPlace(path, info)
    throw err
  } finally {
    await rm(tmp, { force: true })
  }
}

async function createInPlace (path: string, info: LockInfo): Promise<boolean> {
  try {
    await writeInfo(path, info)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/** Try once to take the lock at `path`; never waits for a live holder. */
export async function acquireLock (path: string, options: LockOptions = {}): Promise<LockResult> {
  const now = options.now ?? Date.now
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS
  const heartbeatMs = options.heartbeatMs ?? Math.min(DEFAULT_HEARTBEAT_MS, Math.max(10, Math.floor(staleMs / 4)))
  const info = ownInfo(options.purpose ?? 'batch', now)
  await mkdir(dirname(path), { recursive: true })
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryCreate(path, info)) return { acquired: true, lock: held(path, info, heartbeatMs) }
    const found = await readLock(path)
    if (found === null) continue // released meanwhile
    const reason = staleReason(found.info, found.mtimeMs, now(), staleMs)
    if (reason === null) {
      const h = found.info
      const who = h === null ? '' : ` (${h.purpose}, pid ${h.pid} on ${h.hostname} since ${h.started_at})`
      return { acquired: false, holder: h, reason: `another run is in progress${who}` }
    }
    if (!(await breakStale(path, found.text, staleMs, now))) continue
    options.onProgress?.(`lock: took over ${path}: ${reason}`)
  }
  return { acquired: false, holder: null, reason: 'another run is in progress (lost the race for a stale lock)' }
}

/** Remove the stale lock whose content is `text`, under the `.break` file; false if someone else is at it. */
async function breakStale (path: string, text: string, staleMs: number, now: () => number): Promise<boolean> {
  const brk = path + '.break'
  const mine = ownInfo('break', now)
  if (!(await tryCreate(brk, mine))) {
    const b = await readLock(brk)
    if (b !== null && staleReason(b.info, b.mtimeMs, now(), Math.min(staleMs, BREAK_STALE_MS)) !== null) await rm(brk, { force: true })
    return false
  }
  try {
    const again = await readLock(path)
    if (again !== null && again.text === text) await rm(path, { force: true })
    return true
  } finally {
    await rm(brk, { force: true })
  }
}

function held (path: string, info: LockInfo, heartbeatMs: number): HeldLock {
  const timer = setInterval(() => {
    const t = new Date()
    utimes(path, t, t).catch(() => undefined)
  }, heartbeatMs)
  timer.unref()
  let released = false
  return {
    path,
    info,
    async stillHeld () {
      return !released && (await readLock(path))?.info?.token === info.token
    },
    async release () {
      if (released) return
      released = true
      clearInterval(timer)
      const cur = await readLock(path)
      if (cur?.info?.token === info.token) await rm(path, { force: true })
    }
  }
}

/** Run `fn` holding the lock at `path`; when a live holder has it, return `busy(reason)` instead. */
export async function withLock<T> (path: string, options: LockOptions, fn: () => Promise<T>, busy: (reason: string, holder: LockInfo | null) => T): Promise<T> {
  const r = await acquireLock(path, options)
  if (!r.acquired) return busy(r.reason, r.holder)
  try {
    return await fn()
  } finally {
    await r.lock.release()
  }
}
