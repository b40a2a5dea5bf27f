// Fetching and installing, only from package registries: Debian packages with apt-get (Java, Maven,
// redis-server, one apt-get at a time across processes), and Apache Kafka's jars from Maven Central
// (`mvn dependency:copy-dependencies` on scripts/kafka/pom.xml into .cache/kafka/lib).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { KAFKA_LIB, type Log, type LogLine, makeLog, POM, ROOT, SERVICES_DIR, seconds, tail, withLock } from './common.js'
import { runToEnd, which } from './process.js'

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1'
const MARKER = '.hourglass-complete'

/** The Kafka version pinned in scripts/kafka/pom.xml. */
export const KAFKA_VERSION: string = (() => {
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(fs.readFileSync(POM, 'utf8'))
  if (m?.[1] === undefined) throw new Error(`no <kafka.version> in ${POM}`)
  return m[1]
})()

function isRoot (): boolean { return typeof process.getuid === 'function' && process.getuid() === 0 }

let aptUpdated = false
/** Install Debian packages (as root; one apt-get at a time across processes, under a lock). */
export async function aptInstall (packages: string[], log?: Log): Promise<void> {
  const say = makeLog(log)
  if (!which('apt-get')) throw new Error(`${packages.join(', ')} missing and there is no apt-get: install it by hand`)
  if (!isRoot()) throw new Error(`${packages.join(', ')} missing: run \`sudo apt-get install -y ${packages.join(' ')}\` (or this script as root)`)
  await withLock('apt', async () => {
    const env = { DEBIAN_FRONTEND: 'noninteractive' }
    const logFile = path.join(SERVICES_DIR, 'apt.log')
    fs.mkdirSync(SERVICES_DIR, { recursive: true })
    const t0 = Date.now()
    if (!aptUpdated) {
      say('apt-get update …')
      const code = await runToEnd('apt-get', ['update', '-q'], { env, logFile })
      if (code !== 0) throw new Error(`apt-get update failed (exit ${code}):\n${tail(logFile)}`)
      aptUpdated = true
    }
    say(`apt-get install ${packages.join(' ')} …`)
    const code = await runToEnd('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, logFile })
    if (code !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed (exit ${code}):\n${tail(logFile)}`)
    say(`installed ${packages.join(' ')} in ${seconds(Date.now() - t0)}`)
  }, say)
}

function javaBin (): string | null {
  if (process.env.JAVA_HOME) {
    const p = path.join(process.env.JAVA_HOME, 'bin', 'java')
    if (fs.existsSync(p)) return p
  }
  return which('java')
}

/** Path of java (and mvn on PATH when `maven`), installed from Debian when missing. */
export async function ensureJava (log: LogLine, { maven = false } = {}): Promise<string> {
  const missing: string[] = []
  if (!javaBin()) missing.push('openjdk-17-jre-headless')
  if (maven && !which('mvn')) missing.push('maven')
  if (missing.length > 0) await aptInstall(missing, log)
  const java = javaBin()
  if (!java) throw new Error('java not found after installing it')
  return java
}

/** Path of redis-server, installed from Debian when missing (as root). */
export async function ensureRedis ({ log }: { log?: Log } = {}): Promise<string> {
  const say = makeLog(log)
  const found = process.env.SERVICES_REDIS_SERVER || which('redis-server') || (fs.existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null)
  if (found) return found
  say('redis-server not found: installing the Debian package')
  // The package's own service (port 6379), if it starts at all, does not matter: we run our own.
  await aptInstall(['redis-server'], say)
  const p = which('redis-server') || '/usr/bin/redis-server'
  if (!fs.existsSync(p)) throw new Error('redis-server still missing after apt-get install')
  return p
}

/** Path of redis-cli (Debian's redis-tools, which redis-server depends on), installed when missing. */
export async function ensureRedisCli ({ log }: { log?: Log } = {}): Promise<string> {
  const found = which('redis-cli')
  if (found !== null) return found
  await aptInstall(['redis-tools'], makeLog(log))
  const p = which('redis-cli')
  if (p === null) throw new Error('redis-cli still missing after apt-get install redis-tools')
  return p
}

/** Names the pinned Kafka and pom: written beside the jars when complete, and names the formatted-storage template. */
export function kafkaStamp (): string {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(POM)).digest('hex').slice(0, 16)
  return `kafka ${KAFKA_VERSION} pom ${hash}\n`
}

export function kafkaFetched (): boolean {
  try {
    return fs.readFileSync(path.join(KAFKA_LIB, MARKER), 'utf8') === kafkaStamp()
  } catch {
    return false
  }
}

export interface Fetched { lib: string, version: string, fetched: boolean, ms: number }

/** Parses mvn's "Downloaded from" lines into a running count, for progress lines. */
function downloadCounter (): { onLine: (line: string) => void, toString: () => string, readonly downloads: number } {
  let downloads = 0
  let bytes = 0
  let last = ''
  const units: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6 }
  return {
    onLine (line) {
      const m = /Downloaded from \S+: (\S+) \(([\d.]+) (B|kB|MB)/.exec(line)
      if (!m) return
      downloads++
      bytes += Number(m[2]) * (units[m[3] ?? 'B'] ?? 1)
      last = path.basename(m[1] ?? '')
    },
    toString: () => `${downloads} files downloaded (${(bytes / 1e6).toFixed(1)} MB)${last ? ', last ' + last : ''}`,
    get downloads () { return downloads }
  }
}

/**
 * Copy Kafka and its runtime dependencies from Maven Central into .cache/kafka/lib (skipped when
 * the folder is complete for the pinned pom).
 */
export async function fetchKafka ({ log, force = false }: { log?: Log, force?: boolean } = {}): Promise<Fetched> {
  const say = makeLog(log)
  const cached = { lib: KAFKA_LIB, version: KAFKA_VERSION, fetched: false, ms: 0 }
  if (!force && kafkaFetched()) return cached
  await ensureJava(say, { maven: true })
  return await withLock('kafka-fetch', async () => {
    if (!force && kafkaFetched()) return cached
    const t0 = Date.now()
    const parent = path.dirname(KAFKA_LIB)
    fs.mkdirSync(parent, { recursive: true })
    const tmp = fs.mkdtempSync(path.join(parent, 'lib.tmp-'))
    const logFile = path.join(parent, 'fetch.log')
    say(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central (mvn; a minute or so when nothing is cached) …`)
    const progress = downloadCounter()
    const ticker = setInterval(() => say(`  … ${seconds(Date.now() - t0)}: ${progress}`), 5000)
    let code: number
    try {
      code = await runToEnd('mvn', [
        '-B', '-Dstyle.color=never', '-f', POM,
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${tmp}`,
        '-DincludeScope=runtime'
      ], { logFile, onLine: progress.onLine })
    } finally {
      clearInterval(ticker)
    }
    const jars = fs.readdirSync(tmp).filter((f) => f.endsWith('.jar'))
    if (code !== 0 || !jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`)) {
      fs.rmSync(tmp, { recursive: true, force: true })
      throw new Error(`fetching Kafka ${KAFKA_VERSION} with Maven failed (exit ${code}); ${logFile}:\n${tail(logFile, 30)}`)
    }
    fs.writeFileSync(path.join(tmp, MARKER), kafkaStamp())
    fs.rmSync(KAFKA_LIB, { recursive: true, force: true })
    fs.renameSync(tmp, KAFKA_LIB)
    const ms = Date.now() - t0
    say(`Kafka ${KAFKA_VERSION}: ${jars.length} jars in ${path.relative(ROOT, KAFKA_LIB)} (${progress.downloads} files downloaded, ${seconds(ms)})`)
    return { lib: KAFKA_LIB, version: KAFKA_VERSION, fetched: true, ms }
  }, say)
}
