// What the Kafka modules share: the broker list, the kafkajs client, and kafkajs's own log lines
// mapped onto a pino-like logger (object first, then the message).
import net, { type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import tls from 'node:tls'
import { type Admin, type ISocketFactory, Kafka, logLevel, type LogEntry, type RetryOptions } from 'kafkajs'

/** The part of a pino logger the Kafka modules use. */
export interface KafkaLog {
  error: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

/** What kafkajs itself logs: errors only by default (it is chatty about normal rebalances). */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info'

/** Errors to stderr, as one JSON line each; nothing else. */
export const STDERR_LOG: KafkaLog = {
  error: (obj, msg) => { process.stderr.write(JSON.stringify({ level: 'error', msg, ...obj }) + '\n') },
  warn: () => undefined,
  info: () => undefined
}

export interface KafkaClientOptions {
  /** host:port list, or one comma-separated string */
  brokers: string | readonly string[]
  clientId?: string // 'hourglass'
  log?: KafkaLog // errors to stderr
  logLevel?: KafkaLogLevel // 'error'
  retry?: RetryOptions
  /**
   * every socket the client opens is kept here while open, so that its owner can end the ones
   * kafkajs loses track of (see trackingSocketFactory)
   */
  sockets?: Set<Socket>
}

/** '127.0.0.1:9092, other:9092' → ['127.0.0.1:9092', 'other:9092'] */
export function parseBrokers (brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers]).map((b) => b.trim()).filter((b) => b !== '')
  if (list.length === 0) throw new Error('kafka: no brokers given')
  return list
}

const LEVELS: Record<KafkaLogLevel, logLevel> = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO }

export function createKafka (options: KafkaClientOptions): Kafka {
  const log = options.log ?? STDERR_LOG
  return new Kafka({
    clientId: options.clientId ?? 'hourglass',
    brokers: parseBrokers(options.brokers),
    logLevel: LEVELS[options.logLevel ?? 'error'],
    logCreator: () => ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as LogEntry['log'] & { logger?: unknown }
      const obj = { component: 'kafkajs', namespace, ...rest }
      if (level === logLevel.ERROR) log.error(obj, message)
      else if (level === logLevel.WARN) log.warn(obj, message)
      else log.info(obj, message)
    },
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.sockets === undefined ? {} : { socketFactory: trackingSocketFactory(options.sockets) })
  })
}

/**
 * kafkajs's own socket factory, plus a set of the open sockets. Why: kafkajs 2.2.4 loses track of
 * connections. When a fetch fails with a closed connection (a broker restart), the consumer
 * group removes that broker from the cluster's pool without disconnecting it, but keeps using it
 * as the group coordinator; its next heartbeat reconnects it, and disconnect() never ends that
 * connection: its socket and its request queue's timer keep a stopped consumer's process alive.
 */
function trackingSocketFactory (sockets: Set<Socket>): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect(Object.assign({ host, port }, !net.isIP(host) ? { servername: host } : {}, ssl), onConnect)
      : net.connect({ host, port }, onConnect)
    socket.setKeepAlive(true, 60_000) // as kafkajs does
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    return socket
  }
}

/**
 * Crashes that mean "no broker answered": kafkajs restarts its consumer after some of them, not
 * after all (a group coordinator lookup that fails is "non-retriable" to it), so a consumer that
 * must survive a broker restart runs itself again after these.
 */
export const BROKERS_GONE: ReadonlySet<string> = new Set([
  'KafkaJSGroupCoordinatorNotFound', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound', 'KafkaJSRequestTimeoutError'
])

/** Whether a crash means that no broker answered: the error, or one it was caused by (kafkajs wraps an exhausted retry). */
export function brokersGone (err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (BROKERS_GONE.has(e.name)) return true
  }
  return false
}

/**
 * Whether a failure is one kafkajs itself deems passing (a protocol error marked retriable, such as
 * NOT_LEADER_FOR_PARTITION during a leadership election), at any depth of its causes.
 */
export function retriable (err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { retriable?: unknown }).retriable === true) return true
  }
  return false
}

/** The wait before the next try after `failures` tries found no broker: 1 s, doubling, at most 10 s. */
export function brokerBackoffMs (failures: number): number {
  return Math.min(10_000, 1000 * 2 ** Math.min(failures, 10))
}

/**
 * Run `attempt` until it succeeds: while it fails for lack of brokers (brokersGone) or for a reason
 * kafkajs deems passing (retriable: a partition's leader being elected) it is tried again, backing
 * off (brokerBackoffMs), and `onOutage` hears when an outage of brokers began and that it ended;
 * any other failure is thrown. Resolves false, without trying again, once `signal` aborts.
 */
export async function retryWhileBrokersGone (
  attempt: () => Promise<void>,
  o: { what: string, log: KafkaLog, signal: AbortSignal, onOutage?: (since: number | null) => void, afterFailure?: () => Promise<void> }
): Promise<boolean> {
  let since: number | null = null
  for (let failures = 0; ; failures++) {
    if (o.signal.aborted) return false
    try {
      await attempt()
      if (since !== null) o.onOutage?.(null)
      return true
    } catch (err) {
      await o.afterFailure?.()
      if (o.signal.aborted) return false
      const gone = brokersGone(err)
      if (!gone && !retriable(err)) throw err
      if (gone && since === null) { since = Date.now(); o.onOutage?.(since) }
      const delayMs = brokerBackoffMs(failures)
      o.log.warn({ err, delayMs }, `${o.what} ${gone ? 'reaches no broker' : 'failed to start for a passing reason'}; trying again`)
      await sleep(delayMs, undefined, { signal: o.signal }).catch(() => undefined)
    }
  }
}

/** how long a new topic may take to have a leader for every partition */
const TOPIC_LEADERS_WAIT_MS = 60_000
/** what a broker answers about a topic it has created but whose metadata it has not caught up with */
const TOPIC_NOT_READY: ReadonlySet<string> = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE'])

/**
 * Create a topic (false: it existed) and wait until every partition has a leader. kafkajs's own
 * waitForLeaders gives up at UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment
 * after creating the topic (seconds on a loaded machine); this waits through it, bounded, and through the
 * INVALID_REPLICATION_FACTOR of a broker fenced for a moment.
 */
export async function createTopicAndWait (
  admin: Admin, topic: string, numPartitions?: number, configEntries?: Array<{ name: string, value: string }>
): Promise<boolean> {
  const deadline = Date.now() + TOPIC_LEADERS_WAIT_MS
  let created: boolean
  for (;;) {
    try {
      created = await admin.createTopics({
        topics: [{ topic, ...(numPartitions === undefined ? {} : { numPartitions }), ...(configEntries === undefined ? {} : { configEntries }) }],
        waitForLeaders: false
      })
      break
    } catch (err) {
      // a KRaft broker whose heartbeat to the controller came late (a loaded machine) is fenced for a moment and
      // answers that no replica can be placed: tried again until the deadline
      // (and a request that timed out is retriable: a topic it did create answers "already exists", false, next time)
      const errors = (err as { errors?: Array<{ type?: string }> }).errors ?? []
      const fenced = errors.length > 0 && errors.every((e) => e.type === 'INVALID_REPLICATION_FACTOR')
      if ((!fenced && (err as { retriable?: boolean }).retriable !== true) || Date.now() > deadline) throw err
      await sleep(500)
    }
  }
  for (;;) {
    try {
      const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions ?? []
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return created
    } catch (err) {
      if (!TOPIC_NOT_READY.has((err as { type?: string }).type ?? '')) throw err
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic}: no leader for every partition within ${TOPIC_LEADERS_WAIT_MS} ms of its creation`)
    await sleep(100)
  }
}

/**
 * End the sockets a client still holds after disconnect() (see trackingSocketFactory): closed from
 * our side, the broker closes too and kafkajs's own 'end' handler disconnects that connection,
 * timer included; a socket that does not close within `ms` is destroyed with an error, which its
 * 'error' handler handles alike.
 */
export async function endSockets (sockets: Set<Socket>, ms = 2000): Promise<void> {
  const left = [...sockets]
  if (left.length === 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all(left.map((socket) => new Promise((resolve) => { socket.once('close', resolve); socket.end() }))),
    new Promise((resolve) => { timer = setTimeout(resolve, ms) })
  ])
  clearTimeout(timer)
  for (const socket of sockets) socket.destroy(new Error('kafka client stopped'))
}
