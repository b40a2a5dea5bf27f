// `hourglass serve` as a child process for the benches (the CLI from the sources): the service measured alone, its
// RSS and CPU time read from /proc (Linux), and a CPU profile it writes when it exits (--cpu-prof, 10 ms samples).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../scripts/services/index.js'
import type { CpuProfile } from './cpu-profile.js'

const ENTRY = fileURLToPath(new URL('../scripts/hourglass-dev.ts', import.meta.url))

export class ServiceChild {
  readonly url: string
  readonly #child: ChildProcess
  readonly #profileDir: string
  readonly #exited: Promise<void>
  #output = ''

  private constructor (child: ChildProcess, url: string, profileDir: string) {
    this.#child = child
    this.url = url
    this.#profileDir = profileDir
    child.stdout?.setEncoding('utf8').on('data', (x: string) => { this.#output = (this.#output + x).slice(-5000) })
    child.stderr?.setEncoding('utf8').on('data', (x: string) => { this.#output = (this.#output + x).slice(-5000) })
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()))
  }

  /**
   * `serve` with `env` (HOURGLASS_* settings) on a free loopback port, resolved once /readyz answers 200. `nodeArgs` go
   * to node after tsx, before the entry (flags, more --import); `cpuProfile: false` leaves the profiler out (it holds its samples).
   */
  static async start (env: Record<string, string>, readyWithinMs = 120_000, opts: { nodeArgs?: string[], cpuProfile?: boolean } = {}): Promise<ServiceChild> {
    const port = await freePort()
    const profileDir = await mkdtemp(join(tmpdir(), 'hg-bench-prof-'))
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
    const profile = opts.cpuProfile === false ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '10000']
    const child = spawn(process.execPath, [
      ...profile, '--import', 'tsx', ...(opts.nodeArgs ?? []), ENTRY, 'serve', '--port', String(port)
    ], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const service = new ServiceChild(child, `http://127.0.0.1:${port}`, profileDir)
    const deadline = Date.now() + readyWithinMs
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${service.#output}`)
      const ready = await fetch(service.url + '/readyz').then((r) => r.status === 200, () => false)
      if (ready) return service
      if (Date.now() > deadline) {
        await service.stop()
        throw new Error(`serve was not ready within ${readyWithinMs} ms: ${service.#output}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  get pid (): number {
    return this.#child.pid as number
  }

  async get<T> (path: string): Promise<T> {
    const res = await fetch(this.url + path)
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
    return await res.json() as T
  }

  /** the service's own /metrics (Prometheus text): `name value` of the unlabelled series */
  async metrics (): Promise<Map<string, number>> {
    const res = await fetch(this.url + '/metrics')
    const out = new Map<string, number>()
    for (const m of (await res.text()).matchAll(/^(\w+) (\S+)$/gm)) out.set(m[1] as string, Number(m[2]))
    return out
  }

  /** resident set size in bytes */
  async rss (): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
  }

  /** CPU seconds used so far (user + system, all threads) */
  async cpuSeconds (): Promise<number> {
    const fields = (await readFile(`/proc/${this.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (100 a second)
  }

  /** SIGTERM, the exit, and the CPU profile it wrote (null if none) */
  async stop (): Promise<CpuProfile | null> {
    this.#child.kill('SIGTERM')
    await this.#exited
    try {
      const file = (await readdir(this.#profileDir)).find((f) => f.endsWith('.cpuprofile'))
      return file === undefined ? null : JSON.parse(await readFile(join(this.#profileDir, file), 'utf8')) as CpuProfile
    } finally {
      await rm(this.#profileDir, { recursive: true, force: true })
    }
  }
}
