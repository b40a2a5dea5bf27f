// `hourglass serve` as a child process (the CLI from the sources), started, killed and restarted
// from outside like an orchestrator would, and the group eviction an orchestrator does for a
// process it knows is dead. Used by test/bronze-faults.test.ts.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Kafka } from 'kafkajs'

const ENTRY = fileURLToPath(new URL('../../scripts/hourglass-dev.ts', import.meta.url))
const OUTPUT_KEEP = 30_000

/** Every child ever started, so that none outlives the test process whatever happens. */
const allChildren = new Set<ChildProcess>()
process.on('exit', () => { for (const c of allChildren) c.kill('SIGKILL') })

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

/** One `hourglass <args>` process; its output is kept (the last 30,000 characters) for a failure message. */
export class ServeProcess {
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  readonly startedAt = Date.now()
  output = ''
  /** set when we signal it: any other exit is unexpected */
  expectedExit = false

  constructor (readonly name: string, args: readonly string[], env: NodeJS.ProcessEnv, onUnexpectedExit?: (p: ServeProcess, how: string) => void) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    allChildren.add(this.child)
    const keep = (x: string): void => {
      this.output += x
      if (this.output.length > OUTPUT_KEEP) this.output = '…' + this.output.slice(-OUTPUT_KEEP)
    }
    this.child.stdout?.setEncoding('utf8').on('data', keep)
    this.child.stderr?.setEncoding('utf8').on('data', keep)
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        allChildren.delete(this.child)
        if (!this.expectedExit) onUnexpectedExit?.(this, signal ?? `exit ${code}`)
        resolve({ code, signal })
      })
    })
  }

  get pid (): number {
    return this.child.pid as number
  }

  get alive (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  signal (signal: NodeJS.Signals): void {
    this.expectedExit = true
    this.child.kill(signal)
  }

  /**
   * SIGTERM, and the exit it causes, at most `ms` later (by default 60 s: each Kafka consumer leaving its group took
   * up to 12 s with two CPU hogs beside the broker).
   */
  async terminate (ms = 60_000): Promise<Exit> {
    this.signal('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, ms, 'late') })
    const r = await Promise.race([this.exited, late])
    clearTimeout(timer)
    assert.notEqual(r, 'late', `${this.name} did not exit within ${ms} ms of a SIGTERM; its output ends:\n${this.output.slice(-3000)}`)
    return r as Exit
  }
}

/**
 * The environment of a `serve --source kafka` child on `topic`: none of this process's HOURGLASS_* variables, the
 * consumer groups and the dead-letter topic named after the topic, `dataDir`, no seeded history, warnings only; `extra` last.
 */
export function kafkaServeEnv (brokers: string, topic: string, dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
  return Object.assign(env, {
    HOURGLASS_KAFKA_BROKERS: brokers,
    HOURGLASS_KAFKA_TOPICS: topic,
    HOURGLASS_KAFKA_GROUP: `${topic}-speed`,
    HOURGLASS_KAFKA_BRONZE_GROUP: `${topic}-bronze`,
    HOURGLASS_DLQ_TOPIC: `${topic}.dlq`,
    HOURGLASS_DATA_DIR: dataDir,
    HOURGLASS_SEED_DAYS: '0',
    HOURGLASS_LOG_LEVEL: 'warn',
    ...extra
  })
}

/**
 * Remove every member of `group` from its coordinator (LeaveGroup on their behalf), as an
 * orchestrator does for a process it knows is dead: after a SIGKILL the dead member otherwise stays
 * in the group until its session times out (30 s), and a restarted consumer first waits for that.
 * Only when none of the members is alive. Returns how many were removed.
 */
export async function evictGroup (kafka: Kafka, port: number, group: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  let members: string[]
  try {
    const { groups } = await admin.describeGroups([group])
    members = (groups[0]?.members ?? []).map((m) => m.memberId)
  } finally {
    await admin.disconnect()
  }
  for (const memberId of members) {
    const code = await leaveGroup(port, group, memberId)
    assert.ok(code === 0 || code === 25, `LeaveGroup error code ${code}`) // 25: UNKNOWN_MEMBER_ID, gone already
  }
  return members.length
}

/** LeaveGroup v0 for one member id, straight on the wire (kafkajs only leaves as itself). Resolves with the error code. */
export function leaveGroup (port: number, group: string, memberId: string): Promise<number> {
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8')
    const n = Buffer.alloc(2)
    n.writeInt16BE(b.length)
    return Buffer.concat([n, b])
  }
  const header = Buffer.alloc(8)
  header.writeInt16BE(13, 0) // LeaveGroup
  header.writeInt16BE(0, 2) // v0
  header.writeInt32BE(1, 4) // correlation id
  const body = Buffer.concat([header, str('hourglass-test'), str(group), str(memberId)])
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat([size, body])))
    socket.setTimeout(10_000, () => socket.destroy(new Error('LeaveGroup: no answer')))
    socket.on('error', reject)
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        socket.end()
        resolve(buf.readInt16BE(8)) // size, correlation id, error code
      }
    })
  })
}

/** SIGKILL every process of `procs` still running and wait for each to exit (a test's teardown). */
export async function killAll (procs: readonly ServeProcess[]): Promise<void> {
  for (const p of procs) if (p.alive) p.signal('SIGKILL')
  await Promise.all(procs.map((p) => p.exited))
}
