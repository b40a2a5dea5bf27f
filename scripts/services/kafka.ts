// A single-node Apache Kafka broker (KRaft, combined broker + controller) on loopback ports, run as
// `java -cp '.cache/kafka/lib/*' kafka.Kafka server.properties`, its storage copied from a template
// formatted once by kafka.tools.StorageTool. Health is what kafkajs's admin client sees.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { HOST, KAFKA_LIB, LOG4J_CONFIG, ROOT, seconds, tail, withLock } from './common.js'
import { ensureJava, fetchKafka, KAFKA_VERSION, kafkaStamp } from './install.js'
import { freePort, runToEnd, spawnService, waitPortFree, waitReady } from './process.js'
import { newRunDir } from './run-dirs.js'
import { Service, type ServiceOptions, startOrClose } from './service.js'

const KAFKA_NODE_ID = 1

export interface KafkaOptions extends ServiceOptions {
  /** broker port (default: a free one) */
  port?: number
  controllerPort?: number
  /** JVM -Xmx, default '512m' (or SERVICES_KAFKA_HEAP) */
  heap?: string
  /** default partitions of auto-created topics, default 4 */
  numPartitions?: number
  /** extra server.properties entries */
  properties?: Record<string, string | number | boolean>
}

export interface ClusterInfo {
  clusterId: string
  controller: number | null
  brokers: Array<{ nodeId: number, host: string, port: number }>
}

/** The cluster as kafkajs's admin client sees it from `brokers` (one attempt, bounded). */
export async function describeKafka (brokers: string, timeoutMs = 5000): Promise<ClusterInfo> {
  const kafka = new Kafka({
    clientId: 'hourglass-services',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 }
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    return await admin.describeCluster()
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

export class KafkaService extends Service {
  private brokerPort: number | null
  private quorumPort: number | null
  readonly fixedPorts: boolean
  readonly heap: string
  readonly numPartitions: number
  readonly extraProperties: Record<string, string | number | boolean>
  protected readonly graceMs: number
  private lastFormatMs: number | null = null

  constructor (opts: KafkaOptions = {}) {
    super('kafka', opts)
    this.brokerPort = opts.port ?? null
    this.quorumPort = opts.controllerPort ?? null
    this.fixedPorts = opts.port != null
    this.heap = opts.heap ?? process.env.SERVICES_KAFKA_HEAP ?? '512m'
    this.numPartitions = opts.numPartitions ?? 4
    this.extraProperties = opts.properties ?? {}
    this.graceMs = opts.stopTimeoutMs ?? 30_000
  }

  /** the broker's port (0 until the first start picks one) */
  get port (): number { return this.brokerPort ?? 0 }
  get controllerPort (): number { return this.quorumPort ?? 0 }
  /** '127.0.0.1:PORT' */
  get brokers (): string { return `${HOST}:${this.port}` }
  get url (): string { return this.brokers }
  get logFile (): string | null { return this.runDir && path.join(this.runDir, 'server.log') }

  private properties (logDirs: string): string {
    const props = {
      'process.roles': 'broker,controller',
      'node.id': KAFKA_NODE_ID,
      'controller.quorum.voters': `${KAFKA_NODE_ID}@${HOST}:${this.controllerPort}`,
      listeners: `PLAINTEXT://${HOST}:${this.port},CONTROLLER://${HOST}:${this.controllerPort}`,
      'advertised.listeners': `PLAINTEXT://${HOST}:${this.port}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'log.dirs': logDirs,
      'num.partitions': this.numPartitions,
      'default.replication.factor': 1,
      'auto.create.topics.enable': true,
      'group.initial.rebalance.delay.ms': 0,
      // After a SIGKILL the restarted broker can only register once the old registration's session
      // has expired (default 9 s); shorter sessions make crash-restart tests quicker.
      'broker.session.timeout.ms': 4000,
      'broker.heartbeat.interval.ms': 1000,
      'offsets.topic.replication.factor': 1,
      'offsets.topic.num.partitions': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'share.coordinator.state.topic.replication.factor': 1,
      'share.coordinator.state.topic.min.isr': 1,
      'num.network.threads': 2,
      'num.io.threads': 4,
      'log.retention.hours': 24,
      ...this.extraProperties
    }
    return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
  }

  private jvm (runDir: string): string[] {
    return [
      `-Xms${this.heap === '512m' ? '256m' : this.heap}`, `-Xmx${this.heap}`,
      '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8',
      `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
      `-Dkafka.logs.dir=${runDir}`
    ]
  }

  /**
   * Give the run folder formatted, empty KRaft storage. StorageTool runs once per pinned Kafka
   * (a JVM start, 1-2 s) into .cache/kafka/formatted-*; each fresh start copies that template.
   * With static controller.quorum.voters the formatted storage names no port, so one template
   * serves every port; all our single-node brokers then share one cluster id, which is harmless.
   */
  private async format (java: string, runDir: string): Promise<void> {
    const t0 = Date.now()
    const stamp = crypto.createHash('sha256').update(kafkaStamp()).digest('hex').slice(0, 12)
    const template = path.join(path.dirname(KAFKA_LIB), `formatted-${stamp}`)
    if (!fs.existsSync(path.join(template, 'meta.properties'))) {
      await withLock('kafka-format', async () => {
        if (fs.existsSync(path.join(template, 'meta.properties'))) return
        const tmp = fs.mkdtempSync(path.join(path.dirname(KAFKA_LIB), 'formatted.tmp-'))
        const propsFile = path.join(tmp, 'format.properties')
        fs.writeFileSync(propsFile, this.properties(path.join(tmp, 'data')))
        let clusterId
        do clusterId = crypto.randomBytes(16).toString('base64url'); while (clusterId.startsWith('-'))
        const logFile = path.join(runDir, 'format.log')
        const code = await runToEnd(java, [
          '-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC',
          `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`, `-Dkafka.logs.dir=${runDir}`,
          '-cp', path.join(KAFKA_LIB, '*'), 'kafka.tools.StorageTool',
          'format', '-t', clusterId, '-c', propsFile
        ], { logFile })
        if (code !== 0 || !fs.existsSync(path.join(tmp, 'data', 'meta.properties'))) {
          fs.rmSync(tmp, { recursive: true, force: true })
          throw new Error(`formatting Kafka storage failed (exit ${code}):\n${tail(logFile)}`)
        }
        fs.rmSync(template, { recursive: true, force: true })
        fs.renameSync(path.join(tmp, 'data'), template)
        fs.rmSync(tmp, { recursive: true, force: true })
        this.lastFormatMs = Date.now() - t0
      }, this.log)
    }
    fs.cpSync(template, path.join(runDir, 'data'), { recursive: true })
  }

  /** Start (again) on the same ports; keeps the data unless `fresh: true`. */
  async start ({ fresh = false }: { fresh?: boolean } = {}): Promise<this> {
    if (this.running) return this
    const t0 = Date.now()
    await fetchKafka({ log: this.log })
    const java = await ensureJava(this.log)
    for (let attempt = 1; ; attempt++) {
      if (this.runDir && fresh) fs.rmSync(path.join(this.runDir, 'data'), { recursive: true, force: true })
      const runDir = this.runDir ??= newRunDir('kafka', this.attached)
      const port = this.brokerPort ??= await freePort()
      let controllerPort = this.quorumPort
      while (controllerPort === null || controllerPort === port) controllerPort = await freePort()
      this.quorumPort = controllerPort
      const propsFile = path.join(runDir, 'server.properties')
      fs.writeFileSync(propsFile, this.properties(path.join(runDir, 'data')))
      const formatted = fs.existsSync(path.join(runDir, 'data', 'meta.properties'))
      if (!formatted) await this.format(java, runDir)
      else await Promise.all([waitPortFree(port), waitPortFree(controllerPort)])
      const stdout = path.join(runDir, 'stdout.log')
      this.child = spawnService(java, [...this.jvm(runDir), '-cp', path.join(KAFKA_LIB, '*'), 'kafka.Kafka', propsFile],
        { logFile: stdout, attached: this.attached, runDir })
      this.recordOwner()
      try {
        await waitReady(`Kafka on ${this.brokers}`, this.child, stdout, async () => {
          const cluster = await describeKafka(this.brokers, 2000)
          return cluster.brokers.some((b) => b.nodeId === KAFKA_NODE_ID && b.port === port)
        }, this.startTimeoutMs)
        break
      } catch (err) {
        await this.abandon()
        const portClash = /Address already in use|BindException/.test(tail(stdout, 200) + tail(this.logFile, 200))
        if (portClash && !this.fixedPorts && !formatted && attempt < 3) {
          this.log(`Kafka ports were taken meanwhile: retrying on new ports (${(err as Error).message.split('\n')[0]})`)
          fs.rmSync(runDir, { recursive: true, force: true })
          this.runDir = null
          this.brokerPort = null
          this.quorumPort = null
          continue
        }
        throw err
      }
    }
    this.lastStartMs = Date.now() - t0
    const format = this.lastFormatMs ? ` (storage formatted once in ${seconds(this.lastFormatMs)})` : ''
    this.lastFormatMs = null
    const logs = path.relative(ROOT, this.runDir ?? '')
    this.log(`Kafka ${KAFKA_VERSION} ready on ${this.brokers} in ${seconds(this.lastStartMs)}${format}, pid ${this.pid}, logs ${logs}`)
    return this
  }

  /** stop() + start(opts): by default the broker comes back with its data (topics, offsets). */
  async restart (opts?: { fresh?: boolean }): Promise<void> {
    await this.stop()
    await this.start(opts)
  }
}

export function startKafka (opts: KafkaOptions = {}): Promise<KafkaService> {
  return startOrClose(new KafkaService(opts))
}
