// Leadership of a data folder. Several `serve --source kafka` processes may share one data folder
// (and a Redis or Cosmos DB speed store): exactly one of them, the leader, runs the bronze feed and
// the batch layer's upkeep (batch job, compaction, vacuum); the others only read the gold it
// publishes (their gold readers poll the gold table's `_delta_log`) and serve. The leader holds `<data>/_leader.lock`
// (src/batch/lock.ts: pid, host and a token, touched every quarter of HOURGLASS_LEADER_TIMEOUT).
// Followers try to take it as often, and take it over once it is stale: at once when its pid is
// dead on this host, after the timeout when it was not touched (a holder on another host).
//
// A leader that finds the lock no longer its own (it stalled past the timeout and another took
// over) must not write again: `lost` rejects, the bronze sink writes no last flush, and `serve`
// exits 1 so that its supervisor restarts it as a follower; the new leader reads the records it
// had buffered again from the bronze state. Sources other than Kafka and `none` feed bronze from
// the speed path itself, so with them a process that cannot lead refuses to start.
import { readFile, rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { acquireLock, type HeldLock, type LockInfo } from '../batch/index.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'

/** The leader lock of a data folder. */
export function leaderLockPath (dataDir: string): string {
  return join(dataDir, '_leader.lock')
}

/** the tokens of the leader locks the apps of this process hold (tests build several apps in one process) */
const heldHere = new Set<string>()

/** Remove the lock at `path` if it still holds `token`. */
async function removeIfToken (path: string, token: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => null)
  if (text !== null && (JSON.parse(text) as { token?: string }).token === token) await rm(path, { force: true })
}

export class Leadership implements Part {
  readonly name = 'leadership'
  /** rejects when this process led and found the lock taken by another */
  readonly lost: Promise<void>
  readonly #ctx: AppContext
  #lock: HeldLock | null = null
  #timer: NodeJS.Timeout | undefined
  #onLead: (() => void) | null = null
  #closed = false
  #lose!: (err: Error) => void

  private constructor (ctx: AppContext) {
    this.#ctx = ctx
    this.lost = new Promise((_resolve, reject) => { this.#lose = reject })
    this.lost.catch(() => undefined) // reported to whoever awaits it, never as unhandled
  }

  /** Try once to lead; a process that may not follow (see the opening comment) throws when another leads. */
  static async open (ctx: AppContext): Promise<Leadership> {
    const l = new Leadership(ctx)
    const holder = await l.#tryLead()
    const { source } = ctx.config
    if (l.leading) {
      ctx.progress(`leader: this process leads ${ctx.dataDir} (bronze feed, batch, compaction, vacuum)`)
    } else if (source === 'kafka' || source === 'none') {
      ctx.progress(`leader: ${ctx.dataDir} is led by ${describe(holder)}; this process serves and follows`)
    } else {
      throw new Error(`the data folder ${ctx.dataDir} is led by ${describe(holder)}; ` +
        `only --source kafka or none may share a data folder with another serve`)
    }
    return l
  }

  get leading (): boolean {
    return this.#lock !== null
  }

  /** Call `onLead` once this process leads (now, when it does), and watch the lock from then on. */
  follow (onLead: () => void): void {
    this.#onLead = onLead
    if (this.leading) this.#led()
    this.#schedule()
  }

  #schedule (): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.#tick().catch((err: unknown) => this.#ctx.log.error({ err }, 'leader lock check failed')).finally(() => this.#schedule())
    }, Math.max(250, Math.floor(this.#ctx.config.leaderTimeoutMs / 4))).unref()
  }

  async #tick (): Promise<void> {
    if (this.#closed) return
    if (this.#lock === null) {
      await this.#tryLead()
      if (this.#lock !== null) {
        this.#ctx.progress(`leader: this process took over ${this.#ctx.dataDir} (bronze feed, batch, compaction, vacuum)`)
        this.#led()
      }
      return
    }
    if (await this.#lock.stillHeld()) return
    heldHere.delete(this.#lock.info.token)
    this.#lock = null
    this.#closed = true
    this.#lose(new Error(`the leader lock of ${this.#ctx.dataDir} was taken over by another process (this one did not touch it for ` +
      `${this.#ctx.config.leaderTimeoutMs} ms); this process stops writing bronze and gold`))
  }

  #led (): void {
    try {
      this.#onLead?.()
    } catch (err) {
      this.#ctx.log.error({ err }, 'starting the leader\'s work failed')
    }
  }

  async #tryLead (): Promise<LockInfo | null> {
    const { config, dataDir, progress } = this.#ctx
    const path = leaderLockPath(dataDir)
    // the lock is judged by its file's mtime: real time, whatever clock the app runs on
    const options = { purpose: 'serve (leader)', staleMs: config.leaderTimeoutMs, onProgress: progress }
    let r = await acquireLock(path, options)
    const h = r.acquired ? null : r.holder
    if (h !== null && h.pid === process.pid && h.hostname === hostname() && !heldHere.has(h.token)) {
      // this pid on this host, and no app here holds it: left by an earlier process with our pid (a container restarted)
      progress(`leader: took over ${path}: left by an earlier process with this pid`)
      await removeIfToken(path, h.token)
      r = await acquireLock(path, options)
    }
    if (!r.acquired) return r.holder
    if (this.#closed) await r.lock.release()
    else {
      this.#lock = r.lock
      heldHere.add(r.lock.info.token)
    }
    return null
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    const lock = this.#lock
    this.#lock = null
    if (lock !== null) heldHere.delete(lock.info.token)
    await lock?.release()
  }
}

function describe (holder: LockInfo | null): string {
  return holder === null ? 'another process' : `pid ${holder.pid} on ${holder.hostname} since ${holder.started_at}`
}
