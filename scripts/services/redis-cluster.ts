// A small Redis Cluster on loopback ports: N cluster-enabled redis-server nodes (each a RedisService with its own run
// folder, no persistence), joined with `redis-cli --cluster create … --cluster-replicas 0` (masters only) and ready once
// every node reports cluster_state:ok. For tests of the Redis store against a cluster.
import { HOST, type LogLine, makeLog, seconds, sleep } from './common.js'
import { ensureRedisCli } from './install.js'
import { runToEnd } from './process.js'
import { RedisService, withRedis } from './redis.js'
import type { ServiceOptions } from './service.js'

export interface RedisClusterOptions extends ServiceOptions {
  /** masters (default 3, the fewest `redis-cli --cluster create` accepts) */
  masters?: number
}

export class RedisClusterService {
  readonly nodes: RedisService[]
  readonly log: LogLine
  readonly #startTimeoutMs: number
  #created = false

  constructor ({ masters = 3, ...opts }: RedisClusterOptions = {}) {
    if (masters < 3) throw new RangeError('a Redis Cluster needs at least 3 masters')
    this.log = makeLog(opts.log)
    this.#startTimeoutMs = opts.startTimeoutMs ?? 90_000
    this.nodes = Array.from({ length: masters }, () => new RedisService({ ...opts, log: false, clusterNode: true }))
  }

  /** 'redis://127.0.0.1:P1,redis://127.0.0.1:P2,…': every node, as HOURGLASS_REDIS_URL takes seed nodes */
  get url (): string { return this.nodes.map((n) => n.url).join(',') }
  /** the nodes as ioredis' Cluster takes them */
  get startupNodes (): Array<{ host: string, port: number }> { return this.nodes.map((n) => ({ host: HOST, port: n.port })) }

  /**
   * Start the nodes, create the cluster the first time (all slots over the masters) and wait until every node says
   * cluster_state:ok. Started again after stop(), the nodes keep their ports and cluster configuration, not their data.
   */
  async start (): Promise<this> {
    const t0 = Date.now()
    const cli = await ensureRedisCli({ log: this.log })
    await Promise.all(this.nodes.map((n) => n.start()))
    if (!this.#created) {
      const logFile = `${this.nodes[0]?.runDir ?? '.'}/cluster-create.log`
      const members = this.nodes.map((n) => `${HOST}:${n.port}`)
      const code = await runToEnd(cli, ['--cluster', 'create', ...members, '--cluster-replicas', '0', '--cluster-yes'], { logFile })
      if (code !== 0) throw new Error(`redis-cli --cluster create failed (exit ${code}); see ${logFile}`)
      this.#created = true
    }
    const deadline = Date.now() + this.#startTimeoutMs
    while (!(await this.#allOk())) {
      if (Date.now() > deadline) throw new Error(`the Redis Cluster on ${this.url} did not reach cluster_state:ok in ${seconds(this.#startTimeoutMs)}`)
      await sleep(100)
    }
    this.log(`Redis Cluster ready on ${this.url} in ${seconds(Date.now() - t0)}`)
    return this
  }

  async #allOk (): Promise<boolean> {
    const states = await Promise.all(this.nodes.map(async (n) => {
      const info = await withRedis(n.url, 1000, (redis) => redis.cluster('INFO')).catch(() => '')
      return /cluster_state:ok/.test(String(info))
    }))
    return states.every(Boolean)
  }

  /** Stop every node (start() brings the same cluster back, empty). */
  async stop (): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
  }

  /** Stop every node and remove their run folders. */
  async close (): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()))
  }
}

export async function startRedisCluster (opts: RedisClusterOptions = {}): Promise<RedisClusterService> {
  const cluster = new RedisClusterService(opts)
  try {
    return await cluster.start()
  } catch (err) {
    await cluster.close().catch(() => {})
    throw err
  }
}
