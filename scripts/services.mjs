#!/usr/bin/env node
// Real services for tests, benchmarks and users: a single-node Apache Kafka 4.x (KRaft, combined
// broker + controller) and Redis, on loopback ports, fetched only from package registries.
//
//   Kafka  org.apache.kafka:kafka_2.13 (pinned in scripts/kafka/pom.xml) copied from Maven Central
//          by `mvn dependency:copy-dependencies` into .cache/kafka/lib; storage formatted with
//          kafka.tools.StorageTool and the broker run as `java -cp 'lib/*' kafka.Kafka`.
//   Redis  Debian's redis-server (apt-get installs it when missing and we are root), our own
//          instance: no persistence, loopback only.
//
// CLI (`--help` says more):   node scripts/services.mjs fetch|start|stop|status|run [kafka|redis|all]
// API (tests, benchmarks):    const s = await startServices({ kafka: true, redis: true })
//                             s.kafka.brokers, s.redis.url, s.restartKafka(), s.restartRedis(), s.stop()
//
// Every process is started in its own session (Ctrl-C reaches only us) with a parent-death signal
// (setpriv --pdeathsig KILL), killed on our exit, and each run folder records its owner so a later
// start removes what a killed owner left behind. Plain Node ESM, no dependencies.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = path.resolve(process.env.SERVICES_CACHE_DIR || path.join(ROOT, '.cache'))
const KAFKA_LIB = path.join(CACHE, 'kafka', 'lib')
const SERVICES_DIR = path.join(CACHE, 'services')
const RUN_ROOT = path.join(SERVICES_DIR, 'run')
const STATE_DIR = path.join(SERVICES_DIR, 'state')
const LOCK_DIR = path.join(SERVICES_DIR, 'locks')
const POM = path.join(ROOT, 'scripts', 'kafka', 'pom.xml')
const LOG4J_CONFIG = path.join(ROOT, 'scripts', 'kafka', 'log4j2.properties')
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1'
const MARKER = '.hourglass-complete'
const HOST = '127.0.0.1'
const KAFKA_NODE_ID = 1

/** The Kafka version pinned in scripts/kafka/pom.xml. */
export const KAFKA_VERSION = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(fs.readFileSync(POM, 'utf8'))[1]

// ---------------------------------------------------------------------------------------------
// small helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const seconds = (ms) => (ms / 1000).toFixed(1) + ' s'

function makeLog (log) {
  if (log === false || log === null) return () => {}
  if (typeof log === 'function') return log
  return (line) => process.stderr.write(`[services] ${line}\n`)
}

/** The path of an executable on PATH, or null. */
export function which (cmd) {
  for (const dir of (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(path.delimiter)) {
    const p = path.join(dir, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      if (fs.statSync(p).isFile()) return p
    } catch { /* not here */ }
  }
  return null
}

function alive (pid) {
  if (!pid) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    return err.code === 'EPERM'
  }
  try {
    // a zombie (exited, not yet reaped by whoever adopted it) is not alive
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** True when `pid` is alive and its command line mentions `needle` (guards against reused pids). */
function aliveWith (pid, needle) {
  if (!alive(pid)) return false
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)
  } catch {
    return false
  }
}

function tail (file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no output)'
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it at once). */
export function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** A simple cross-process lock: a directory that records its owner; a dead owner's lock is broken. */
async function withLock (name, fn, log) {
  fs.mkdirSync(LOCK_DIR, { recursive: true })
  const dir = path.join(LOCK_DIR, name)
  let told = false
  for (;;) {
    try {
      fs.mkdirSync(dir)
      fs.writeFileSync(path.join(dir, 'owner'), String(process.pid))
      break
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
      let owner = 0
      try { owner = Number(fs.readFileSync(path.join(dir, 'owner'), 'utf8')) } catch { /* being written */ }
      if (owner && !alive(owner)) {
        fs.rmSync(dir, { recursive: true, force: true })
        continue
      }
      if (!told) { log(`waiting for another process (${owner || '?'}) to finish: ${name}`); told = true }
      await sleep(250)
    }
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Run a command to completion, output to `logFile` or inherited; resolves with the exit code. */
function runToEnd (cmd, args, { env, logFile, onLine } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = logFile ? fs.createWriteStream(logFile) : null
    let pending = ''
    const onData = (chunk) => {
      out?.write(chunk)
      if (!onLine) return
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop()
      for (const line of lines) onLine(line)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (out) out.end(() => resolve(code ?? (signal ? 128 : 1)))
      else resolve(code ?? (signal ? 128 : 1))
    })
  })
}

// ---------------------------------------------------------------------------------------------
// child processes: tracked, own session, killed with us

const SETPRIV = which('setpriv')
const children = new Set()
let hooksInstalled = false

function killAllNow () {
  for (const child of children) {
    try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ }
    // best effort: a later start prunes whatever is left (see pruneRunDirs)
    if (child.runDir) try { fs.rmSync(child.runDir, { recursive: true, force: true }) } catch { /* pruned later */ }
  }
  children.clear()
}

function installHooks () {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllNow)
  // When nobody else handles a terminating signal, take the services down with us and then die
  // of the same signal. A host that handles the signal itself is expected to call stop().
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    const handler = () => {
      if (process.listenerCount(signal) > 1) return
      killAllNow()
      process.removeListener(signal, handler)
      process.kill(process.pid, signal)
    }
    process.on(signal, handler)
  }
}

/**
 * Start a long-running service process with stdout+stderr appended to `logFile`. `attached`: it
 * dies with us (parent-death signal + exit hook); otherwise it outlives us (CLI `start`).
 */
function spawnService (cmd, args, { logFile, attached = true, env, runDir }) {
  installHooks()
  const fd = fs.openSync(logFile, 'a')
  const [file, argv] = attached && SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]]
    : [cmd, args]
  const child = spawn(file, argv, { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, ...env } })
  fs.closeSync(fd)
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => { children.delete(child); resolve({ code, signal }) })
    child.on('error', (err) => { children.delete(child); resolve({ code: null, signal: null, error: err }) })
  })
  // The running service does not keep our event loop alive (a forgotten stop() must not hang a
  // test file; the exit hook kills it), but waiting for its exit does.
  child.unref()
  child.exited = exited
  child.runDir = runDir
  child.waitExit = () => {
    child.ref()
    return exited
  }
  if (attached) children.add(child)
  return child
}

/** SIGTERM (or `politely()`), wait up to `graceMs`, then SIGKILL. Works for our children and foreign pids. */
async function terminate (pid, { exited, graceMs, politely }) {
  if (!alive(pid)) return 'gone'
  const gone = exited ?? (async () => { while (alive(pid)) await sleep(50) })()
  let timer
  const timeout = (ms) => new Promise((resolve) => { timer = setTimeout(resolve, ms, 'timeout') })
  let sent = false
  if (politely) {
    try { sent = await politely() } catch { sent = false }
  }
  if (!sent) {
    try { process.kill(pid, 'SIGTERM') } catch { return 'gone' }
  }
  const first = await Promise.race([gone.then(() => 'exited'), timeout(graceMs)])
  clearTimeout(timer)
  if (first === 'exited') return 'stopped'
  try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  await Promise.race([gone, timeout(5000)])
  clearTimeout(timer)
  return 'killed'
}

// ---------------------------------------------------------------------------------------------
// run folders: .cache/services/run/<kind>-<pid>-<random>/ with owner.json

function newRunDir (kind, attached) {
  pruneRunDirs()
  fs.mkdirSync(RUN_ROOT, { recursive: true })
  const dir = fs.mkdtempSync(path.join(RUN_ROOT, `${kind}-${process.pid}-`))
  writeOwner(dir, { kind, owner: process.pid, background: !attached, pid: null })
  return dir
}

function writeOwner (dir, info) {
  fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify(info) + '\n')
}

function readOwner (dir) {
  try { return JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) } catch { return null }
}

/** Remove run folders whose owner died (killing a service it left behind) or whose service is gone. */
export function pruneRunDirs () {
  let names = []
  try { names = fs.readdirSync(RUN_ROOT) } catch { return }
  for (const name of names) {
    const dir = path.join(RUN_ROOT, name)
    const info = readOwner(dir)
    if (info === null) {
      // half-created by someone; leave it unless it is old
      try { if (Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue } catch { continue }
    } else if (alive(info.owner)) {
      continue
    } else if (info.pid && aliveWith(info.pid, dir)) {
      if (info.background) continue // a service from `start`, outliving the command that started it
      try { process.kill(info.pid, 'SIGKILL') } catch { /* gone */ }
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  }
}

// ---------------------------------------------------------------------------------------------
// installing: Java + Maven, Redis (Debian), Kafka jars (Maven Central)

function isRoot () { return typeof process.getuid === 'function' && process.getuid() === 0 }

let aptUpdated = false
/** Install Debian packages (as root; one apt-get at a time across processes, under a lock). */
export async function aptInstall (packages, log) {
  log = makeLog(log)
  if (!which('apt-get')) throw new Error(`${packages.join(', ')} missing and there is no apt-get: install it by hand`)
  if (!isRoot()) throw new Error(`${packages.join(', ')} missing: run \`sudo apt-get install -y ${packages.join(' ')}\` (or this script as root)`)
  return withLock('apt', async () => {
    const env = { DEBIAN_FRONTEND: 'noninteractive' }
    const logFile = path.join(SERVICES_DIR, 'apt.log')
    fs.mkdirSync(SERVICES_DIR, { recursive: true })
    const t0 = Date.now()
    if (!aptUpdated) {
      log('apt-get update …')
      const code = await runToEnd('apt-get', ['update', '-q'], { env, logFile })
      if (code !== 0) throw new Error(`apt-get update failed (exit ${code}):\n${tail(logFile)}`)
      aptUpdated = true
    }
    log(`apt-get install ${packages.join(' ')} …`)
    const code = await runToEnd('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, logFile })
    if (code !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed (exit ${code}):\n${tail(logFile)}`)
    log(`installed ${packages.join(' ')} in ${seconds(Date.now() - t0)}`)
  }, log)
}

function javaBin () {
  if (process.env.JAVA_HOME) {
    const p = path.join(process.env.JAVA_HOME, 'bin', 'java')
    if (fs.existsSync(p)) return p
  }
  return which('java')
}

async function ensureJava (log, { maven = false } = {}) {
  const missing = []
  if (!javaBin()) missing.push('openjdk-17-jre-headless')
  if (maven && !which('mvn')) missing.push('maven')
  if (missing.length > 0) await aptInstall(missing, log)
  const java = javaBin()
  if (!java) throw new Error('java not found after installing it')
  return java
}

/** Path of redis-server, installed from Debian when missing (as root). */
export async function ensureRedis ({ log } = {}) {
  log = makeLog(log)
  const found = process.env.SERVICES_REDIS_SERVER || which('redis-server') || (fs.existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null)
  if (found) return found
  log('redis-server not found: installing the Debian package')
  // The package's own service (port 6379), if it starts at all, does not matter: we run our own.
  await aptInstall(['redis-server'], log)
  const p = which('redis-server') || '/usr/bin/redis-server'
  if (!fs.existsSync(p)) throw new Error('redis-server still missing after apt-get install')
  return p
}

function kafkaStamp () {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(POM)).digest('hex').slice(0, 16)
  return `kafka ${KAFKA_VERSION} pom ${hash}\n`
}

function kafkaFetched () {
  try {
    return fs.readFileSync(path.join(KAFKA_LIB, MARKER), 'utf8') === kafkaStamp()
  } catch {
    return false
  }
}

/**
 * Copy Kafka and its runtime dependencies from Maven Central into .cache/kafka/lib (skipped when
 * the folder is complete for the pinned pom). Resolves with { lib, version, fetched, ms }.
 */
export async function fetchKafka ({ log, force = false } = {}) {
  log = makeLog(log)
  if (!force && kafkaFetched()) return { lib: KAFKA_LIB, version: KAFKA_VERSION, fetched: false, ms: 0 }
  await ensureJava(log, { maven: true })
  return withLock('kafka-fetch', async () => {
    if (!force && kafkaFetched()) return { lib: KAFKA_LIB, version: KAFKA_VERSION, fetched: false, ms: 0 }
    const t0 = Date.now()
    const parent = path.dirname(KAFKA_LIB)
    fs.mkdirSync(parent, { recursive: true })
    const tmp = fs.mkdtempSync(path.join(parent, 'lib.tmp-'))
    const logFile = path.join(parent, 'fetch.log')
    log(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central (mvn; a minute or so when nothing is cached) …`)
    let downloads = 0
    let bytes = 0
    let last = ''
    const ticker = setInterval(() => {
      log(`  … ${seconds(Date.now() - t0)}: ${downloads} files downloaded (${(bytes / 1e6).toFixed(1)} MB)${last ? ', last ' + last : ''}`)
    }, 5000)
    let code
    try {
      code = await runToEnd('mvn', [
        '-B', '-Dstyle.color=never', '-f', POM,
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${tmp}`,
        '-DincludeScope=runtime'
      ], {
        logFile,
        onLine: (line) => {
          const m = /Downloaded from \S+: (\S+) \(([\d.]+) (B|kB|MB)/.exec(line)
          if (!m) return
          downloads++
          bytes += Number(m[2]) * ({ B: 1, kB: 1e3, MB: 1e6 })[m[3]]
          last = path.basename(m[1])
        }
      })
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
    log(`Kafka ${KAFKA_VERSION}: ${jars.length} jars in ${path.relative(ROOT, KAFKA_LIB)} (${downloads} files downloaded, ${seconds(ms)})`)
    return { lib: KAFKA_LIB, version: KAFKA_VERSION, fetched: true, ms }
  }, log)
}

// ---------------------------------------------------------------------------------------------
// Kafka wire protocol, just enough to check a broker: ApiVersions v0 and Metadata v1..v8

function kafkaRequest (host, port, apiKey, apiVersion, body, { timeoutMs = 5000 } = {}) {
  const clientId = Buffer.from('hourglass-services')
  const header = Buffer.alloc(10 + clientId.length)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(7, 4) // correlation id
  header.writeInt16BE(clientId.length, 8)
  clientId.copy(header, 10)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + body.length)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let data = Buffer.alloc(0)
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer from ${host}:${port} in ${timeoutMs} ms`)) }, timeoutMs)
    socket.on('connect', () => socket.write(Buffer.concat([size, header, body])))
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk])
      if (data.length >= 4 && data.length >= 4 + data.readInt32BE(0)) {
        clearTimeout(timer)
        socket.destroy()
        const frame = data.subarray(4, 4 + data.readInt32BE(0))
        if (frame.readInt32BE(0) !== 7) reject(new Error('correlation id mismatch'))
        else resolve(frame.subarray(4))
      }
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); reject(new Error(`connection to ${host}:${port} closed`)) })
  })
}

class Reader {
  constructor (buf) { this.buf = buf; this.pos = 0 }
  i8 () { return this.buf.readInt8(this.pos++) }
  i16 () { const v = this.buf.readInt16BE(this.pos); this.pos += 2; return v }
  i32 () { const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v }
  str () {
    const n = this.i16()
    if (n < 0) return null
    const s = this.buf.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }

  array (item) {
    const n = this.i32()
    const out = []
    for (let i = 0; i < n; i++) out.push(item())
    return out
  }
}

function parseBrokers (brokers) {
  const [host, port] = String(brokers).split(',')[0].split(':')
  return { host, port: Number(port) }
}

/** ApiVersions v0: [{ apiKey, min, max }] (throws on an error code). */
export async function kafkaApiVersions (brokers, opts) {
  const { host, port } = parseBrokers(brokers)
  const r = new Reader(await kafkaRequest(host, port, 18, 0, Buffer.alloc(0), opts))
  const errorCode = r.i16()
  if (errorCode !== 0) throw new Error(`ApiVersions error ${errorCode}`)
  return r.array(() => ({ apiKey: r.i16(), min: r.i16(), max: r.i16() }))
}

/**
 * Metadata (the newest non-flexible version the broker speaks, ≤ 8) for `topics` (null: all),
 * optionally creating them. Returns { version, clusterId, controllerId, brokers, topics }.
 */
export async function kafkaMetadata (brokers, { topics = null, autoCreate = false, timeoutMs } = {}) {
  const { host, port } = parseBrokers(brokers)
  const versions = await kafkaApiVersions(brokers, { timeoutMs })
  const meta = versions.find((v) => v.apiKey === 3)
  if (!meta || meta.min > 8) throw new Error('the broker speaks no Metadata version 1..8')
  const v = Math.min(meta.max, 8)
  const parts = []
  const int32 = (n) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b }
  if (topics === null) parts.push(int32(-1))
  else {
    parts.push(int32(topics.length))
    for (const t of topics) {
      const s = Buffer.from(t)
      const len = Buffer.alloc(2)
      len.writeInt16BE(s.length)
      parts.push(len, s)
    }
  }
  if (v >= 4) parts.push(Buffer.from([autoCreate ? 1 : 0]))
  if (v >= 8) parts.push(Buffer.from([0, 0]))
  const r = new Reader(await kafkaRequest(host, port, 3, v, Buffer.concat(parts), { timeoutMs }))
  if (v >= 3) r.i32() // throttle
  const brokerList = r.array(() => ({ nodeId: r.i32(), host: r.str(), port: r.i32(), rack: r.str() }))
  const clusterId = v >= 2 ? r.str() : null
  const controllerId = r.i32()
  const topicList = r.array(() => {
    const errorCode = r.i16()
    const name = r.str()
    const internal = r.i8() !== 0
    const partitions = r.array(() => {
      const p = { errorCode: r.i16(), partition: r.i32(), leader: r.i32() }
      if (v >= 7) r.i32()
      p.replicas = r.array(() => r.i32())
      p.isr = r.array(() => r.i32())
      if (v >= 5) r.array(() => r.i32())
      return p
    })
    if (v >= 8) r.i32()
    return { errorCode, name, internal, partitions }
  })
  return { version: v, clusterId, controllerId, brokers: brokerList, topics: topicList }
}

// ---------------------------------------------------------------------------------------------
// Redis wire protocol, just enough: one connection, pipelined commands, RESP2 replies

function parseResp (buf, pos) {
  if (pos >= buf.length) return null
  const end = buf.indexOf('\r\n', pos)
  if (end < 0) return null
  const type = String.fromCharCode(buf[pos])
  const line = buf.toString('utf8', pos + 1, end)
  const next = end + 2
  switch (type) {
    case '+': return { value: line, pos: next }
    case '-': return { value: new Error(line), pos: next }
    case ':': return { value: Number(line), pos: next }
    case '$': {
      const n = Number(line)
      if (n < 0) return { value: null, pos: next }
      if (buf.length < next + n + 2) return null
      return { value: buf.toString('utf8', next, next + n), pos: next + n + 2 }
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return { value: null, pos: next }
      const items = []
      let p = next
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, p)
        if (item === null) return null
        items.push(item.value)
        p = item.pos
      }
      return { value: items, pos: p }
    }
    default: throw new Error(`bad RESP reply type ${JSON.stringify(type)}`)
  }
}

/**
 * Send `commands` (arrays of strings) on one connection; resolves with their replies (an Error
 * object for an error reply). `expectClose`: the last command closes the connection (SHUTDOWN).
 */
export function redisCommands (url, commands, { timeoutMs = 5000, expectClose = false } = {}) {
  const { hostname, port } = new URL(url)
  const payload = commands.map((args) =>
    `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')).join('')
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    let data = Buffer.alloc(0)
    const replies = []
    let pos = 0
    let done = false
    const finish = (err) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(replies)
    }
    const timer = setTimeout(() => finish(new Error(`no answer from ${url} in ${timeoutMs} ms`)), timeoutMs)
    socket.on('connect', () => socket.write(payload))
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk])
      for (;;) {
        const r = parseResp(data, pos)
        if (r === null) break
        replies.push(r.value)
        pos = r.pos
      }
      if (replies.length === commands.length) finish()
    })
    socket.on('error', (err) => finish(expectClose && replies.length === commands.length - 1 ? null : err))
    socket.on('close', () => finish(expectClose && replies.length >= commands.length - 1 ? null : new Error(`connection to ${url} closed`)))
  })
}

// ---------------------------------------------------------------------------------------------
// services

async function waitReady (name, child, logFile, check, timeoutMs) {
  const t0 = Date.now()
  let exited = null
  child.exited.then((e) => { exited = e })
  let lastError = null
  while (Date.now() - t0 < timeoutMs) {
    if (exited) {
      const how = exited.error ? exited.error.message : exited.signal ? `signal ${exited.signal}` : `exit ${exited.code}`
      const err = new Error(`${name} stopped while starting (${how}); ${logFile}:\n${tail(logFile)}`)
      err.exitedEarly = true
      throw err
    }
    try {
      if (await check()) return Date.now() - t0
    } catch (err) {
      lastError = err
    }
    await sleep(100)
  }
  throw new Error(`${name} not ready after ${seconds(timeoutMs)} (${lastError?.message ?? 'no answer'}); ${logFile}:\n${tail(logFile)}`)
}

/** Resolves when `port` on 127.0.0.1 refuses connections (the old process released it). */
async function waitPortFree (port, timeoutMs = 10000) {
  const t0 = Date.now()
  while (Date.now() - t0 < timeoutMs) {
    const open = await new Promise((resolve) => {
      const s = net.connect({ host: HOST, port })
      s.on('connect', () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (!open) return
    await sleep(100)
  }
}

function writeState (kind, info) {
  fs.mkdirSync(STATE_DIR, { recursive: true })
  fs.writeFileSync(path.join(STATE_DIR, `${kind}.json`), JSON.stringify(info, null, 2) + '\n')
}

function readState (kind) {
  try { return JSON.parse(fs.readFileSync(path.join(STATE_DIR, `${kind}.json`), 'utf8')) } catch { return null }
}

function removeState (kind, runDir) {
  const s = readState(kind)
  if (s && (!runDir || s.runDir === runDir)) fs.rmSync(path.join(STATE_DIR, `${kind}.json`), { force: true })
}

/**
 * Base of both services. Methods:
 *   start({ fresh })   start the process (again); Kafka keeps its data unless `fresh: true`
 *   stop()             stop it cleanly (bounded, then SIGKILL); the run folder stays for start()
 *   kill()             SIGKILL, for crash tests
 *   restart(opts)      stop() + start(opts)
 *   close()            stop() and remove the run folder: the end of this service object
 */
class Service {
  constructor (kind, { log, attached = true, startTimeoutMs = 90_000 }) {
    this.kind = kind
    this.log = makeLog(log)
    this.attached = attached
    this.startTimeoutMs = startTimeoutMs
    this.child = null
    this.runDir = null
    this.lastStartMs = null
    this.lastStopMs = null
  }

  get pid () { return this.child?.pid ?? null }
  get running () { return this.child !== null && this.child.exitCode === null && this.child.signalCode === null }

  _owner () {
    writeOwner(this.runDir, { kind: this.kind, owner: process.pid, background: !this.attached, pid: this.pid })
  }

  async restart (opts) {
    await this.stop()
    await this.start(opts)
  }

  async kill () {
    if (!this.child) return
    const child = this.child
    try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ }
    await child.waitExit()
    this.child = null
    this.log(`${this.kind} killed (SIGKILL)`)
  }

  async stop () {
    if (!this.child) return
    const child = this.child
    const t0 = Date.now()
    const how = await terminate(child.pid, { exited: child.waitExit(), graceMs: this.graceMs, politely: () => this._politely() })
    this.child = null
    this.lastStopMs = Date.now() - t0
    this.log(`${this.kind} ${how === 'killed' ? 'did not stop in time: killed' : 'stopped'} in ${seconds(this.lastStopMs)}`)
  }

  async close () {
    await this.stop()
    if (this.runDir) {
      fs.rmSync(this.runDir, { recursive: true, force: true, maxRetries: 3 })
      removeState(this.kind, this.runDir)
      this.runDir = null
    }
  }

  async _politely () { return false }
}

export class KafkaService extends Service {
  constructor (opts = {}) {
    super('kafka', opts)
    this.port = opts.port ?? null
    this.controllerPort = opts.controllerPort ?? null
    this.fixedPorts = opts.port != null
    this.heap = opts.heap ?? process.env.SERVICES_KAFKA_HEAP ?? '512m'
    this.numPartitions = opts.numPartitions ?? 4
    this.extraProperties = opts.properties ?? {}
    this.graceMs = opts.stopTimeoutMs ?? 30_000
  }

  get brokers () { return `${HOST}:${this.port}` }
  get url () { return this.brokers }
  get logFile () { return this.runDir && path.join(this.runDir, 'server.log') }

  _properties (logDirs = path.join(this.runDir, 'data')) {
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

  _jvm (heap) {
    return [
      `-Xms${heap === '512m' ? '256m' : heap}`, `-Xmx${heap}`,
      '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8',
      `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
      `-Dkafka.logs.dir=${this.runDir}`
    ]
  }

  /**
   * Give the run folder formatted, empty KRaft storage. StorageTool runs once per pinned Kafka
   * (a JVM start, 1-2 s) into .cache/kafka/formatted-*; each fresh start copies that template.
   * With static controller.quorum.voters the formatted storage names no port, so one template
   * serves every port; all our single-node brokers then share one cluster id, which is harmless.
   */
  async _format (java) {
    const t0 = Date.now()
    const stamp = crypto.createHash('sha256').update(kafkaStamp()).digest('hex').slice(0, 12)
    const template = path.join(path.dirname(KAFKA_LIB), `formatted-${stamp}`)
    if (!fs.existsSync(path.join(template, 'meta.properties'))) {
      await withLock('kafka-format', async () => {
        if (fs.existsSync(path.join(template, 'meta.properties'))) return
        const tmp = fs.mkdtempSync(path.join(path.dirname(KAFKA_LIB), 'formatted.tmp-'))
        const propsFile = path.join(tmp, 'format.properties')
        fs.writeFileSync(propsFile, this._properties(path.join(tmp, 'data')))
        let clusterId
        do clusterId = crypto.randomBytes(16).toString('base64url'); while (clusterId.startsWith('-'))
        const logFile = path.join(this.runDir, 'format.log')
        const code = await runToEnd(java, [
          '-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC',
          `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`, `-Dkafka.logs.dir=${this.runDir}`,
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
    fs.cpSync(template, path.join(this.runDir, 'data'), { recursive: true })
  }

  async start ({ fresh = false } = {}) {
    if (this.running) return this
    const t0 = Date.now()
    await fetchKafka({ log: this.log })
    const java = await ensureJava(this.log)
    for (let attempt = 1; ; attempt++) {
      if (this.runDir && fresh) {
        fs.rmSync(path.join(this.runDir, 'data'), { recursive: true, force: true })
      }
      if (!this.runDir) this.runDir = newRunDir('kafka', this.attached)
      if (this.port == null) this.port = await freePort()
      if (this.controllerPort == null) {
        do this.controllerPort = await freePort(); while (this.controllerPort === this.port)
      }
      const propsFile = path.join(this.runDir, 'server.properties')
      fs.writeFileSync(propsFile, this._properties())
      const formatted = fs.existsSync(path.join(this.runDir, 'data', 'meta.properties'))
      if (!formatted) await this._format(java)
      else await Promise.all([waitPortFree(this.port), waitPortFree(this.controllerPort)])
      const stdout = path.join(this.runDir, 'stdout.log')
      this.child = spawnService(java, [...this._jvm(this.heap), '-cp', path.join(KAFKA_LIB, '*'), 'kafka.Kafka', propsFile], { logFile: stdout, attached: this.attached, runDir: this.runDir })
      this._owner()
      try {
        await waitReady(`Kafka on ${this.brokers}`, this.child, stdout, async () => {
          const m = await kafkaMetadata(this.brokers, { timeoutMs: 2000 })
          return m.brokers.some((b) => b.nodeId === KAFKA_NODE_ID && b.port === this.port)
        }, this.startTimeoutMs)
        break
      } catch (err) {
        const child = this.child
        this.child = null
        if (child) await terminate(child.pid, { exited: child.waitExit(), graceMs: 2000 })
        const portClash = /Address already in use|BindException/.test(tail(stdout, 200) + tail(this.logFile, 200))
        if (portClash && !this.fixedPorts && !formatted && attempt < 3) {
          this.log(`Kafka ports were taken meanwhile: retrying on new ports (${err.message.split('\n')[0]})`)
          fs.rmSync(this.runDir, { recursive: true, force: true })
          this.runDir = null
          this.port = null
          this.controllerPort = null
          continue
        }
        throw err
      }
    }
    this.lastStartMs = Date.now() - t0
    const format = this.lastFormatMs ? ` (storage formatted once in ${seconds(this.lastFormatMs)})` : ''
    this.lastFormatMs = null
    this.log(`Kafka ${KAFKA_VERSION} ready on ${this.brokers} in ${seconds(this.lastStartMs)}${format}, pid ${this.pid}, logs ${path.relative(ROOT, this.runDir)}`)
    return this
  }
}

export class RedisService extends Service {
  constructor (opts = {}) {
    super('redis', opts)
    this.port = opts.port ?? null
    this.fixedPorts = opts.port != null
    this.graceMs = opts.stopTimeoutMs ?? 10_000
  }

  get url () { return `redis://${HOST}:${this.port}` }
  get logFile () { return this.runDir && path.join(this.runDir, 'redis.log') }

  async _politely () {
    await redisCommands(this.url, [['SHUTDOWN', 'NOSAVE']], { timeoutMs: 2000, expectClose: true })
    return true
  }

  /** Redis runs without persistence: every start is empty. `fresh`/`empty` are accepted for symmetry. */
  async start () {
    if (this.running) return this
    const t0 = Date.now()
    const bin = await ensureRedis({ log: this.log })
    for (let attempt = 1; ; attempt++) {
      if (!this.runDir) this.runDir = newRunDir('redis', this.attached)
      if (this.port == null) this.port = await freePort()
      else await waitPortFree(this.port)
      const logFile = this.logFile
      this.child = spawnService(bin, [
        '--port', String(this.port), '--bind', HOST, '--protected-mode', 'yes',
        '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.runDir,
        '--loglevel', 'warning', '--logfile', '',
        '--set-proc-title', 'no' // keep the command line (with --dir) so a stale pid is recognisable
      ], { logFile, attached: this.attached, runDir: this.runDir })
      this._owner()
      try {
        await waitReady(`Redis on ${this.url}`, this.child, logFile, async () => {
          const [pong] = await redisCommands(this.url, [['PING']], { timeoutMs: 1000 })
          return pong === 'PONG'
        }, this.startTimeoutMs)
        break
      } catch (err) {
        const child = this.child
        this.child = null
        if (child) await terminate(child.pid, { exited: child.waitExit(), graceMs: 2000 })
        if (/Address already in use/.test(tail(logFile, 100)) && !this.fixedPorts && attempt < 3) {
          this.log('the Redis port was taken meanwhile: retrying on a new port')
          this.port = null
          continue
        }
        throw err
      }
    }
    this.lastStartMs = Date.now() - t0
    this.log(`Redis ready on ${this.url} in ${seconds(this.lastStartMs)} (pid ${this.pid})`)
    return this
  }

  async restart ({ empty = true } = {}) {
    if (!empty) throw new Error('Redis runs without persistence here: a restart is always empty ({ empty: true })')
    await this.stop()
    await this.start()
  }
}

/** Start a service; when it cannot start, close what it left and rethrow. */
async function startOrClose (s) {
  try {
    return await s.start()
  } catch (err) {
    await s.close().catch(() => {})
    throw err
  }
}

export function startKafka (opts = {}) {
  return startOrClose(new KafkaService(opts))
}

export function startRedis (opts = {}) {
  return startOrClose(new RedisService(opts))
}

/**
 * Start the services a test file or benchmark needs (in parallel), each on a free loopback port.
 *
 *   const services = await startServices({ kafka: true, redis: true, log })
 *   services.kafka.brokers          '127.0.0.1:PORT'       (a KafkaService: start/stop/kill/restart)
 *   services.redis.url              'redis://127.0.0.1:PORT' (a RedisService: start/stop/kill/restart)
 *   await services.restartKafka()   same port, same data (the broker-restart test)
 *   await services.restartKafka({ fresh: true })   same port, empty broker
 *   await services.restartRedis({ empty: true })   same port, empty Redis
 *   await services.stop()           stop everything and remove the run folders
 *
 * `log`: a function taking one line, or false for silence (default: stderr with a prefix).
 * Options per service: `kafkaOptions` / `redisOptions` ({ port, heap, properties, … }).
 */
export async function startServices ({ kafka = true, redis = true, log, kafkaOptions = {}, redisOptions = {} } = {}) {
  const started = {}
  const results = await Promise.allSettled([
    kafka ? startKafka({ log, ...kafkaOptions }).then((s) => { started.kafka = s }) : null,
    redis ? startRedis({ log, ...redisOptions }).then((s) => { started.redis = s }) : null
  ])
  const failed = results.find((r) => r.status === 'rejected')
  const stop = async () => {
    await Promise.all([started.kafka?.close(), started.redis?.close()])
  }
  if (failed) {
    await stop()
    throw failed.reason
  }
  return {
    kafka: started.kafka ?? null,
    redis: started.redis ?? null,
    async restartKafka (opts) {
      if (!started.kafka) throw new Error('Kafka was not started')
      await started.kafka.restart(opts)
    },
    async restartRedis (opts) {
      if (!started.redis) throw new Error('Redis was not started')
      await started.redis.restart(opts)
    },
    stop
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

const HELP = `Usage: node scripts/services.mjs <command> [kafka|redis|all] [options]

Real services for Hourglass on loopback ports: Apache Kafka ${KAFKA_VERSION} (single node, KRaft,
broker + controller) from Maven Central, and Redis from Debian's redis-server package.

Commands
  run     start the services, print their URLs, stay in the foreground; Ctrl-C stops them
          (this is \`npm run services\`)
  fetch   download what is missing: Kafka's jars into .cache/kafka/lib (mvn), redis-server
          (apt-get, as root); nothing else is downloaded
  start   start the services in the background and print their URLs
  stop    stop the services started by \`start\`
  status  say what is running, where

Target: kafka, redis or all (default all).

Options
  --kafka-port N   broker port (default: a free port); the controller takes another free one
  --redis-port N   Redis port (default: a free port)
  --quiet          only the URLs (start, run)
  -h, --help       this text

Environment
  SERVICES_KAFKA_HEAP     broker heap (-Xmx), default 512m
  SERVICES_REDIS_SERVER   path of redis-server (default: PATH, else apt-get install)
  SERVICES_CACHE_DIR      instead of .cache in the repository

Files: .cache/kafka/lib (jars), .cache/services/run/<service>-*/ (data, server.log, stdout.log),
.cache/services/state/*.json (what \`start\` started), .cache/services/services.env (URLs).

From code (tests, benchmarks):
  import { startServices } from './scripts/services.mjs'
  const s = await startServices({ kafka: true, redis: true })
  s.kafka.brokers; s.redis.url; await s.restartKafka(); await s.restartRedis({ empty: true })
  await s.stop()
`

function parseArgs (argv) {
  const out = { command: null, target: 'all', kafkaPort: null, redisPort: null, quiet: false, help: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-h' || a === '--help') out.help = true
    else if (a === '--quiet' || a === '-q') out.quiet = true
    else if (a === '--kafka-port' || a === '--redis-port') {
      const n = Number(argv[++i])
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${a} needs a port number`)
      out[a === '--kafka-port' ? 'kafkaPort' : 'redisPort'] = n
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`)
    else if (out.command === null) out.command = a
    else if (['kafka', 'redis', 'all'].includes(a)) out.target = a
    else throw new Error(`unknown target ${a} (kafka, redis or all)`)
  }
  return out
}

function targets (target) { return target === 'all' ? ['kafka', 'redis'] : [target] }

/** The running service recorded in .cache/services/state, or null (removing a stale record). */
function runningState (kind) {
  const s = readState(kind)
  if (!s) return null
  if (aliveWith(s.pid, s.runDir)) return s
  removeState(kind)
  return null
}

function writeEnvFile () {
  const kafka = runningState('kafka')
  const redis = runningState('redis')
  const lines = []
  if (kafka) lines.push(`HOURGLASS_KAFKA_BROKERS=${kafka.url}`)
  if (redis) lines.push(`HOURGLASS_REDIS_URL=${redis.url}`)
  fs.mkdirSync(SERVICES_DIR, { recursive: true })
  fs.writeFileSync(path.join(SERVICES_DIR, 'services.env'), lines.join('\n') + (lines.length ? '\n' : ''))
  return lines
}

async function cliStart (opts, { attached }) {
  const log = opts.quiet ? false : undefined
  const started = []
  for (const kind of targets(opts.target)) {
    const existing = runningState(kind)
    if (existing) {
      if (!attached) { console.log(`${kind} already running: ${existing.url} (pid ${existing.pid})`); continue }
      throw new Error(`${kind} is already running (${existing.url}, pid ${existing.pid}): \`node scripts/services.mjs stop\` first`)
    }
  }
  const jobs = targets(opts.target).filter((kind) => !(!attached && runningState(kind))).map(async (kind) => {
    const svc = kind === 'kafka'
      ? new KafkaService({ log, attached, port: opts.kafkaPort ?? undefined })
      : new RedisService({ log, attached, port: opts.redisPort ?? undefined })
    started.push(svc)
    await svc.start()
    writeState(kind, { kind, pid: svc.pid, url: svc.url, port: svc.port, controllerPort: svc.controllerPort, runDir: svc.runDir, attached, owner: process.pid, startedAt: new Date().toISOString(), version: kind === 'kafka' ? KAFKA_VERSION : undefined })
    return svc
  })
  const results = await Promise.allSettled(jobs)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) {
    await Promise.all(started.map((s) => s.close().catch(() => {})))
    throw failed.reason
  }
  writeEnvFile()
  return started
}

function printUrls () {
  const kafka = runningState('kafka')
  const redis = runningState('redis')
  if (kafka) console.log(`kafka  ${kafka.url}      HOURGLASS_KAFKA_BROKERS=${kafka.url}`)
  if (redis) console.log(`redis  ${redis.url}  HOURGLASS_REDIS_URL=${redis.url}`)
}

async function cliStop (opts) {
  for (const kind of targets(opts.target)) {
    const s = runningState(kind)
    if (!s) { console.log(`${kind}: not running`); continue }
    const t0 = Date.now()
    const politely = kind === 'redis'
      ? async () => { await redisCommands(s.url, [['SHUTDOWN', 'NOSAVE']], { timeoutMs: 2000, expectClose: true }); return true }
      : undefined
    const how = await terminate(s.pid, { graceMs: kind === 'kafka' ? 30_000 : 10_000, politely })
    fs.rmSync(s.runDir, { recursive: true, force: true, maxRetries: 3 })
    removeState(kind)
    console.log(`${kind}: ${how} in ${seconds(Date.now() - t0)}`)
  }
  writeEnvFile()
}

async function cliStatus (opts) {
  let down = 0
  for (const kind of targets(opts.target)) {
    const s = runningState(kind)
    if (!s) { console.log(`${kind}: not running`); down++; continue }
    let health
    try {
      if (kind === 'kafka') {
        const m = await kafkaMetadata(s.url, { timeoutMs: 2000 })
        health = `answers (cluster ${m.clusterId}, ${m.brokers.length} broker)`
      } else {
        const [pong] = await redisCommands(s.url, [['PING']], { timeoutMs: 2000 })
        health = pong === 'PONG' ? 'answers PING' : `answers ${pong}`
      }
    } catch (err) {
      health = `does not answer (${err.message})`
      down++
    }
    const how = s.attached ? `\`run\` by pid ${s.owner}` : '`start`'
    console.log(`${kind}: ${s.url} pid ${s.pid}, started ${s.startedAt} by ${how}; ${health}`)
  }
  const fetched = kafkaFetched()
  console.log(`kafka jars: ${fetched ? `${KAFKA_VERSION} in ${path.relative(ROOT, KAFKA_LIB)}` : 'not fetched (`fetch kafka`)'}`)
  return down
}

async function cliRun (opts) {
  const t0 = Date.now()
  const services = await cliStart(opts, { attached: true })
  console.log(`services ready in ${seconds(Date.now() - t0)}:`)
  printUrls()
  console.log('Ctrl-C stops them.')
  let stopping = false
  await new Promise((resolve) => {
    const onSignal = async (signal) => {
      if (stopping) { console.error(`\n${signal} again: killing`); killAllNow(); process.exit(130) }
      stopping = true
      console.error(`\n${signal}: stopping …`)
      await Promise.all(services.map((s) => s.close().catch((err) => console.error(err.message))))
      writeEnvFile()
      resolve()
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, onSignal)
    // a service that dies on its own ends `run`, loudly; meanwhile the services keep us alive
    for (const svc of services) {
      svc.child?.ref()
      svc.child?.exited.then((e) => {
        if (stopping || svc.child === null) return
        console.error(`${svc.kind} exited on its own (${e.signal ?? 'exit ' + e.code}); see ${svc.runDir}`)
        onSignal('service exit').then(() => { process.exitCode = 1 })
      })
    }
  })
}

async function main (argv) {
  const opts = parseArgs(argv)
  if (opts.help || opts.command === null) {
    process.stdout.write(HELP)
    return opts.help ? 0 : 2
  }
  switch (opts.command) {
    case 'fetch': {
      const t0 = Date.now()
      await Promise.all(targets(opts.target).map(async (kind) => {
        if (kind === 'kafka') {
          const r = await fetchKafka({})
          await ensureJava(makeLog())
          console.log(r.fetched ? `kafka: fetched ${KAFKA_VERSION} in ${seconds(r.ms)}` : `kafka: ${KAFKA_VERSION} already in ${path.relative(ROOT, KAFKA_LIB)}`)
        } else {
          const t = Date.now()
          const bin = await ensureRedis({})
          console.log(`redis: ${bin} (${seconds(Date.now() - t)})`)
        }
      }))
      console.log(`fetch done in ${seconds(Date.now() - t0)}`)
      return 0
    }
    case 'start':
      await cliStart(opts, { attached: false })
      printUrls()
      return 0
    case 'stop':
      await cliStop(opts)
      return 0
    case 'status':
      return (await cliStatus(opts)) > 0 ? 3 : 0
    case 'run':
      await cliRun(opts)
      return process.exitCode ?? 0
    default:
      throw new Error(`unknown command ${opts.command} (run with --help)`)
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code },
    (err) => { console.error(`services: ${err.message}`); process.exitCode = 1 }
  )
}
