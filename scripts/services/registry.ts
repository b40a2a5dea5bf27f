// A Confluent-compatible schema registry on a loopback port: Apicurio Registry (registry-build.ts) with in-memory
// storage, run as `java -jar .cache/registry/registry-<hash>.jar`. Its Confluent API is at /apis/ccompat/v7; health
// is that API answering. By default every start is empty (H2 in memory); with `storage: 'file'` the schemas are kept in
// an H2 file in the run folder, so a restart keeps them (as a real registry's restart does), until close().
import path from 'node:path'
import { HOST, seconds, tail } from './common.js'
import { ensureJava } from './install.js'
import { freePort, spawnService, waitPortFree, waitReady } from './process.js'
import { buildRegistry, REGISTRY_VERSION } from './registry-build.js'
import { newRunDir } from './run-dirs.js'
import { Service, type ServiceOptions, startOrClose } from './service.js'

export const CCOMPAT_PATH = '/apis/ccompat/v7'

export interface RegistryOptions extends ServiceOptions {
  port?: number
  /** JVM -Xmx, default '256m' (or SERVICES_REGISTRY_HEAP) */
  heap?: string
  /** 'memory' (default): every start is empty; 'file': an H2 file in the run folder, kept by restart() */
  storage?: 'memory' | 'file'
}

export class RegistryService extends Service {
  private assignedPort: number | null
  readonly fixedPorts: boolean
  readonly heap: string
  readonly storage: 'memory' | 'file'
  protected readonly graceMs: number

  constructor (opts: RegistryOptions = {}) {
    super('registry', opts)
    this.assignedPort = opts.port ?? null
    this.fixedPorts = opts.port != null
    this.heap = opts.heap ?? process.env.SERVICES_REGISTRY_HEAP ?? '256m'
    this.storage = opts.storage ?? 'memory'
    this.graceMs = opts.stopTimeoutMs ?? 10_000
  }

  /** the port (0 until the first start picks one) */
  get port (): number { return this.assignedPort ?? 0 }
  /** the Confluent-compatible API: 'http://127.0.0.1:PORT/apis/ccompat/v7' */
  get url (): string { return `http://${HOST}:${this.port}${CCOMPAT_PATH}` }
  get logFile (): string | null { return this.runDir && path.join(this.runDir, 'stdout.log') }

  /** Apicurio's H2 database: in memory, or a file in the run folder */
  #storageEnv (runDir: string): Record<string, string> {
    return this.storage === 'file' ? { REGISTRY_DATASOURCE_URL: `jdbc:h2:file:${path.join(runDir, 'h2', 'registry')}` } : {}
  }

  /** Start (again) on the same port: empty, or with `storage: 'file'` with the schemas registered before. */
  async start (): Promise<this> {
    if (this.running) return this
    const t0 = Date.now()
    const { jar, built, ms } = await buildRegistry({ log: this.log })
    const java = await ensureJava(this.log)
    for (let attempt = 1; ; attempt++) {
      const runDir = this.runDir ??= newRunDir('registry', this.attached)
      if (this.assignedPort === null) this.assignedPort = await freePort()
      else await waitPortFree(this.assignedPort)
      const logFile = path.join(runDir, 'stdout.log')
      this.child = spawnService(java, [
        `-Xmx${this.heap}`, '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8',
        `-Dquarkus.http.host=${HOST}`, `-Dquarkus.http.port=${this.port}`,
        // run folder as the JVM's temp folder, so nothing is left elsewhere
        `-Djava.io.tmpdir=${runDir}`,
        '-jar', jar
      ], { logFile, attached: this.attached, runDir, env: this.#storageEnv(runDir) })
      this.recordOwner()
      try {
        await waitReady(`the schema registry on ${this.url}`, this.child, logFile, async () => {
          const res = await fetch(`${this.url}/subjects`, { signal: AbortSignal.timeout(2000) })
          return res.status === 200
        }, this.startTimeoutMs)
        break
      } catch (err) {
        await this.abandon()
        if (/Address already in use|Port.*in use/i.test(tail(logFile, 100)) && !this.fixedPorts && attempt < 3) {
          this.log('the registry port was taken meanwhile: retrying on a new port')
          this.assignedPort = null
          continue
        }
        throw err
      }
    }
    this.lastStartMs = Date.now() - t0
    const build = built ? ` (built once in ${seconds(ms)})` : ''
    this.log(`Apicurio Registry ${REGISTRY_VERSION} ready on ${this.url} in ${seconds(this.lastStartMs)}${build} (pid ${this.pid})`)
    return this
  }

  /** stop() + start() on the same port (empty unless `storage: 'file'`). */
  async restart (): Promise<void> {
    await this.stop()
    await this.start()
  }
}

export function startRegistry (opts: RegistryOptions = {}): Promise<RegistryService> {
  return startOrClose(new RegistryService(opts))
}
