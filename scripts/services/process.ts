// Process supervision: run a command to its end, start a long-running service process that dies
// with us (own session, parent-death signal, exit hook), wait until it answers, stop it (SIGTERM or
// a polite request, SIGKILL after a bounded wait), and the pid/port checks these need.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import { HOST, seconds, sleep, tail } from './common.js'

/** The path of an executable on PATH, or null. */
export function which (cmd: string): string | null {
  for (const dir of (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(path.delimiter)) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      if (fs.statSync(p).isFile()) return p
    } catch { /* not here */ }
  }
  return null
}

export function alive (pid: number | null | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // a zombie (exited, not yet reaped by whoever adopted it) is not alive
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** True when `pid` is alive and its command line mentions `needle` (guards against reused pids). */
export function aliveWith (pid: number | null | undefined, needle: string): boolean {
  if (!alive(pid)) return false
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)
  } catch {
    return false
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it at once). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Resolves when `port` on 127.0.0.1 refuses connections (the old process released it). */
export async function waitPortFree (port: number, timeoutMs = 10000): Promise<void> {
  const t0 = Date.now()
  while (Date.now() - t0 < timeoutMs) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: HOST, port })
      s.on('connect', () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (!open) return
    await sleep(100)
  }
}

export interface RunOptions {
  env?: Record<string, string>
  logFile?: string
  onLine?: (line: string) => void
}

/** Run a command to completion, its output to `logFile`; resolves with the exit code. */
export function runToEnd (cmd: string, args: string[], { env, logFile, onLine }: RunOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = logFile ? fs.createWriteStream(logFile) : null
    let pending = ''
    const onData = (chunk: Buffer): void => {
      out?.write(chunk)
      if (!onLine) return
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) onLine(line)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const status = code ?? (signal ? 128 : 1)
      if (out) out.end(() => resolve(status))
      else resolve(status)
    })
  })
}

export interface Exit { code: number | null, signal: NodeJS.Signals | null, error?: Error }

/** A service process we started. */
export interface Supervised {
  readonly process: ChildProcess
  readonly pid: number
  /** settles when the process exits (does not keep the event loop alive) */
  readonly exited: Promise<Exit>
  /** like `exited`, but keeps the event loop alive until then */
  waitExit (): Promise<Exit>
  readonly runDir: string | undefined
}

const SETPRIV = which('setpriv')
const children = new Set<Supervised>()
let hooksInstalled = false

/** `cmd args` run through setpriv, so that the kernel kills it when we die, even by SIGKILL. */
export function withParentDeath (cmd: string, args: string[]): [string, string[]] {
  return SETPRIV === null ? [cmd, args] : [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]]
}

/** SIGKILL every attached service process (on exit, or a second Ctrl-C). */
export function killAllNow (): void {
  for (const child of children) {
    try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ }
    // best effort: a later start prunes whatever is left (see pruneRunDirs)
    if (child.runDir) try { fs.rmSync(child.runDir, { recursive: true, force: true }) } catch { /* pruned later */ }
  }
  children.clear()
}

function installHooks (): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllNow)
  // When nobody else handles a terminating signal, take the services down with us and then die
  // of the same signal. A host that handles the signal itself is expected to call stop().
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      if (process.listenerCount(signal) > 1) return
      killAllNow()
      process.removeListener(signal, handler)
      process.kill(process.pid, signal)
    }
    process.on(signal, handler)
  }
}

export interface SpawnOptions {
  logFile: string
  /** dies with us (parent-death signal + exit hook); otherwise it outlives us (CLI `start`) */
  attached?: boolean
  env?: Record<string, string>
  runDir?: string
}

/** Start a long-running service process in its own session, stdout+stderr appended to `logFile`. */
export function spawnService (cmd: string, args: string[], { logFile, attached = true, env, runDir }: SpawnOptions): Supervised {
  installHooks()
  const fd = fs.openSync(logFile, 'a')
  const [file, argv] = attached ? withParentDeath(cmd, args) : [cmd, args]
  const child = spawn(file, argv, { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, ...env } })
  fs.closeSync(fd)
  let self: Supervised | null = null
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => { if (self) children.delete(self); resolve({ code, signal }) })
    child.on('error', (error) => { if (self) children.delete(self); resolve({ code: null, signal: null, error }) })
  })
  // The running service does not keep our event loop alive (a forgotten stop() must not hang a
  // test file; the exit hook kills it), but waiting for its exit does.
  child.unref()
  self = {
    process: child,
    pid: child.pid ?? 0,
    exited,
    waitExit: () => { child.ref(); return exited },
    runDir
  }
  if (attached && child.pid !== undefined) children.add(self)
  return self
}

export interface TerminateOptions {
  exited?: Promise<unknown>
  graceMs: number
  /** asks the process to stop some other way than SIGTERM; resolves true when it did */
  politely?: () => Promise<boolean>
}

/** SIGTERM (or `politely()`), wait up to `graceMs`, then SIGKILL. Works for our children and foreign pids. */
export async function terminate (pid: number, { exited, graceMs, politely }: TerminateOptions): Promise<'gone' | 'stopped' | 'killed'> {
  if (!alive(pid)) return 'gone'
  const gone = exited ?? (async () => { while (alive(pid)) await sleep(50) })()
  let timer: NodeJS.Timeout | undefined
  const timeout = (ms: number): Promise<'timeout'> => new Promise((resolve) => { timer = setTimeout(resolve, ms, 'timeout') })
  let sent = false
  if (politely) {
    try { sent = await politely() } catch { sent = false }
  }
  if (!sent) {
    try { process.kill(pid, 'SIGTERM') } catch { return 'gone' }
  }
  const first = await Promise.race([gone.then(() => 'exited' as const), timeout(graceMs)])
  clearTimeout(timer)
  if (first === 'exited') return 'stopped'
  try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  await Promise.race([gone, timeout(5000)])
  clearTimeout(timer)
  return 'killed'
}

/** Poll `check` every 100 ms until it answers true; throws when the process exits first or time runs out. */
export async function waitReady (name: string, child: Supervised, logFile: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now()
  let exited: Exit | null = null
  void child.exited.then((e) => { exited = e })
  let lastError: Error | null = null
  while (Date.now() - t0 < timeoutMs) {
    if (exited !== null) {
      const e: Exit = exited
      const how = e.error ? e.error.message : e.signal ? `signal ${e.signal}` : `exit ${e.code}`
      throw new Error(`${name} stopped while starting (${how}); ${logFile}:\n${tail(logFile)}`)
    }
    try {
      if (await check()) return Date.now() - t0
    } catch (err) {
      lastError = err as Error
    }
    await sleep(100)
  }
  throw new Error(`${name} not ready after ${seconds(timeoutMs)} (${lastError?.message ?? 'no answer'}); ${logFile}:\n${tail(logFile)}`)
}
