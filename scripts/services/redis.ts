// Our own redis-server on a loopback port: no persistence (every start is empty), spoken to
// through ioredis (PING for health, SHUTDOWN NOSAVE to stop).
import path from 'node:path'
import { Redis } from 'ioredis'
import { HOST, seconds, tail } from './common.js'
import { ensureRedis } from './install.js'
import { freePort, spawnService, waitPortFree, waitReady } from './process.js'
import { newRunDir } from './run-dirs.js'
import { Service, type ServiceOptions, startOrClose } from './service.js'

export interface RedisOptions extends ServiceOptions {
  port?: number
  /** a Redis Cluster node (cluster-enabled, its nodes.conf in the run folder): see redis-cluster.ts */
  clusterNode?: boolean
}

/** Run `fn` on a one-off ioredis connection to `url` that neither retries nor queues. */
export async function withRedis<T> (url: string, timeoutMs: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null
  })
  redis.on('error', () => {}) // reported through the command's promise
  try {
    await redis.connect()
    return await fn(redis)
  } finally {
    redis.disconnect()
  }
}

/** SHUTDOWN NOSAVE: the server closes the connection instead of answering. */
export async function shutdownRedis (url: string, timeoutMs = 2000): Promise<boolean> {
  return await withRedis(url, timeoutMs, async (redis) => {
    await redis.shutdown('NOSAVE').catch((err: Error) => {
      if (!/Connection is closed/.test(err.message)) throw err
    })
    return true
  })
}

export class RedisService extends Service {
  private assignedPort: number | null
  readonly fixedPorts: boolean
  readonly clusterNode: boolean
  /** SIGSTOPped by pause() */
  paused = false
  protected readonly graceMs: number

  constructor (opts: RedisOptions = {}) {
    super('redis', opts)
    this.assignedPort = opts.port ?? null
    this.fixedPorts = opts.port != null
    this.clusterNode = opts.clusterNode === true
    this.graceMs = opts.stopTimeoutMs ?? 10_000
  }

  /** the port (0 until the first start picks one) */
  get port (): number { return this.assignedPort ?? 0 }
  /** 'redis://127.0.0.1:PORT' */
  get url (): string { return `redis://${HOST}:${this.port}` }
  get logFile (): string | null { return this.runDir && path.join(this.runDir, 'redis.log') }

  protected override politely (): Promise<boolean> { return shutdownRedis(this.url) }

  /** Start (again) on the same port; Redis runs without persistence, so always empty. */
  async start (): Promise<this> {
    if (this.running) return this
    const t0 = Date.now()
    const bin = await ensureRedis({ log: this.log })
    for (let attempt = 1; ; attempt++) {
      const runDir = this.runDir ??= newRunDir('redis', this.attached)
      if (this.assignedPort === null) this.assignedPort = await freePort()
      else await waitPortFree(this.assignedPort)
      const logFile = path.join(runDir, 'redis.log')
      this.child = spawnService(bin, [
        '--port', String(this.port), '--bind', HOST, '--protected-mode', 'yes',
        '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', runDir,
        '--loglevel', 'warning', '--logfile', '',
        '--set-proc-title', 'no', // keep the command line (with --dir) so a stale pid is recognisable
        ...(this.clusterNode ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] : [])
      ], { logFile, attached: this.attached, runDir })
      this.recordOwner()
      try {
        await waitReady(`Redis on ${this.url}`, this.child, logFile, async () => {
          return await withRedis(this.url, 1000, (redis) => redis.ping()) === 'PONG'
        }, this.startTimeoutMs)
        break
      } catch (err) {
        await this.abandon()
        if (/Address already in use/.test(tail(logFile, 100)) && !this.fixedPorts && attempt < 3) {
          this.log('the Redis port was taken meanwhile: retrying on a new port')
          this.assignedPort = null
          continue
        }
        throw err
      }
    }
    this.lastStartMs = Date.now() - t0
    this.log(`Redis ready on ${this.url} in ${seconds(this.lastStartMs)} (pid ${this.pid})`)
    return this
  }

  /**
   * SIGSTOP: the server keeps its data and its connections but answers nothing (for clients, Redis is down) until
   * resume(); stop() resumes it first.
   */
  pause (): void {
    if (this.child === null) throw new Error('Redis is not running')
    process.kill(this.child.pid, 'SIGSTOP')
    this.paused = true
  }

  /** SIGCONT: it answers again, what it was sent meanwhile first. */
  resume (): void {
    if (this.child !== null && this.paused) process.kill(this.child.pid, 'SIGCONT')
    this.paused = false
  }

  override async stop (): Promise<void> {
    this.resume()
    await super.stop()
  }

  override async kill (): Promise<void> {
    this.resume()
    await super.kill()
  }

  /** stop() + start(): always empty (`empty: false` throws). */
  async restart ({ empty = true }: { empty?: boolean } = {}): Promise<void> {
    if (!empty) throw new Error('Redis runs without persistence here: a restart is always empty ({ empty: true })')
    await this.stop()
    await this.start()
  }
}

export function startRedis (opts: RedisOptions = {}): Promise<RedisService> {
  return startOrClose(new RedisService(opts))
}
