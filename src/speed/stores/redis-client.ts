// The Redis store's ioredis client: one server (`redis://host:port`), or a Redis Cluster reached through seed nodes
// (`redis://h1:p1,redis://h2:p2`: the first node's user, password and TLS apply to every node). All of a store's keys
// share one hash tag, so every command and script of the store goes to the one node that serves that slot.
import { Cluster, Redis, type RedisOptions } from 'ioredis'

export type RedisClient = Redis | Cluster

export interface RedisClientOptions {
  /** the URL lists seed nodes of a Redis Cluster */
  cluster?: boolean
  /** a command not answered in this long fails (ioredis commandTimeout); default: waits */
  commandTimeoutMs?: number
}

/** The seed nodes of a comma-separated URL list. */
export function seedNodes (urls: string): URL[] {
  return urls.split(',').map((u) => u.trim()).filter((u) => u !== '').map((u) => new URL(u))
}

export function createRedisClient (urls: string, { cluster = false, commandTimeoutMs }: RedisClientOptions = {}): RedisClient {
  const timeout: RedisOptions = commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }
  const nodes = seedNodes(urls)
  const first = nodes[0]
  if (first === undefined) throw new TypeError('no Redis URL given')
  if (!cluster) {
    if (nodes.length > 1) throw new TypeError('several Redis URLs are the seed nodes of a cluster: use the cluster mode')
    return quiet(new Redis(first.href, { lazyConnect: false, ...timeout }))
  }
  const auth: RedisOptions = {
    ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
    ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
    ...(first.protocol === 'rediss:' ? { tls: {} } : {})
  }
  // commandTimeout counts from when a node is sent the command: one queued while no node answers waits (the app's
  // store watch bounds it)
  return quiet(new Cluster(nodes.map((n) => ({ host: n.hostname, port: n.port === '' ? 6379 : Number(n.port) })), {
    lazyConnect: false,
    redisOptions: { ...auth, ...timeout }
  }))
}

/** Connection errors reach the caller through the commands that fail; ioredis would print each one otherwise. */
function quiet<C extends RedisClient> (client: C): C {
  client.on('error', () => {})
  return client
}
