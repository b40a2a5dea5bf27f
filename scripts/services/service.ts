// What Kafka and Redis services have in common: one process in a run folder, started, stopped
// (bounded, then SIGKILL), killed for crash tests, restarted, and closed for good.
import fs from 'node:fs'
import { type Log, type LogLine, makeLog, seconds } from './common.js'
import { type Supervised, terminate } from './process.js'
import { type Kind, removeState, writeOwner } from './run-dirs.js'

export interface ServiceOptions {
  log?: Log
  /** dies with this process (default); false: outlives it (CLI `start`) */
  attached?: boolean
  startTimeoutMs?: number
  stopTimeoutMs?: number
}

/**
 *   start()      start the process (again)
 *   stop()       stop it cleanly (bounded, then SIGKILL); the run folder stays for start()
 *   kill()       SIGKILL, for crash tests
 *   restart()    stop() + start()
 *   close()      stop() and remove the run folder: the end of this service object
 */
export abstract class Service {
  readonly log: LogLine
  readonly attached: boolean
  readonly startTimeoutMs: number
  child: Supervised | null = null
  /** .cache/services/run/<kind>-*: data and logs of this service (null after close()) */
  runDir: string | null = null
  /** how long the last start() / stop() took, ms */
  lastStartMs: number | null = null
  lastStopMs: number | null = null
  protected abstract readonly graceMs: number

  constructor (readonly kind: Kind, { log, attached = true, startTimeoutMs = 90_000 }: ServiceOptions) {
    this.log = makeLog(log)
    this.attached = attached
    this.startTimeoutMs = startTimeoutMs
  }

  abstract get url (): string
  abstract get logFile (): string | null
  abstract start (): Promise<this>

  /** pid of the running process, or null while stopped */
  get pid (): number | null { return this.child?.pid ?? null }
  get running (): boolean {
    const p = this.child?.process
    return p !== undefined && p.exitCode === null && p.signalCode === null
  }

  protected recordOwner (): void {
    if (this.runDir) writeOwner(this.runDir, { kind: this.kind, owner: process.pid, background: !this.attached, pid: this.pid })
  }

  /** Stop a process that did not come up, so that start() can throw or try again. */
  protected async abandon (): Promise<void> {
    const child = this.child
    this.child = null
    if (child) await terminate(child.pid, { exited: child.waitExit(), graceMs: 2000 })
  }

  /** Ask the process to stop some other way than SIGTERM; true when asked. */
  protected politely (): Promise<boolean> { return Promise.resolve(false) }

  async kill (): Promise<void> {
    if (!this.child) return
    const child = this.child
    if (child.pid > 0) try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ }
    await child.waitExit()
    this.child = null
    this.log(`${this.kind} killed (SIGKILL)`)
  }

  async stop (): Promise<void> {
    if (!this.child) return
    const child = this.child
    const t0 = Date.now()
    const how = await terminate(child.pid, { exited: child.waitExit(), graceMs: this.graceMs, politely: () => this.politely() })
    this.child = null
    this.lastStopMs = Date.now() - t0
    this.log(`${this.kind} ${how === 'killed' ? 'did not stop in time: killed' : 'stopped'} in ${seconds(this.lastStopMs)}`)
  }

  async close (): Promise<void> {
    await this.stop()
    if (this.runDir) {
      fs.rmSync(this.runDir, { recursive: true, force: true, maxRetries: 3 })
      removeState(this.kind, this.runDir)
      this.runDir = null
    }
  }
}

/** Start a service; when it cannot start, close what it left and rethrow. */
export async function startOrClose<S extends Service> (s: S): Promise<S> {
  try {
    return await s.start()
  } catch (err) {
    await s.close().catch(() => {})
    throw err
  }
}
