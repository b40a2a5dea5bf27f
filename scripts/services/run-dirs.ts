// What is running, on disk. Each service runs in .cache/services/run/<kind>-<pid>-<random>/ with an
// owner.json naming the process that started it, so a later start removes what a killed owner left
// behind. The CLI's `start` records what it started in .cache/services/state/<kind>.json.
import fs from 'node:fs'
import path from 'node:path'
import { RUN_ROOT, SERVICES_DIR, STATE_DIR } from './common.js'
import { alive, aliveWith } from './process.js'

export type Kind = 'kafka' | 'redis' | 'registry'

interface Owner { kind: Kind, owner: number, background: boolean, pid: number | null }

export function newRunDir (kind: Kind, attached: boolean): string {
  pruneRunDirs()
  fs.mkdirSync(RUN_ROOT, { recursive: true })
  const dir = fs.mkdtempSync(path.join(RUN_ROOT, `${kind}-${process.pid}-`))
  writeOwner(dir, { kind, owner: process.pid, background: !attached, pid: null })
  return dir
}

export function writeOwner (dir: string, info: Owner): void {
  fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify(info) + '\n')
}

function readOwner (dir: string): Owner | null {
  try { return JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as Owner } catch { return null }
}

/** Remove run folders whose owner died (killing a service it left behind) or whose service is gone. */
export function pruneRunDirs (): void {
  let names: string[] = []
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

/** What `start` (or `run`) started: enough to find, check and stop it from another process. */
export interface State {
  kind: Kind
  pid: number
  url: string
  port: number
  controllerPort?: number | null
  runDir: string
  attached: boolean
  owner: number
  startedAt: string
  version?: string
}

export function writeState (info: State): void {
  fs.mkdirSync(STATE_DIR, { recursive: true })
  fs.writeFileSync(path.join(STATE_DIR, `${info.kind}.json`), JSON.stringify(info, null, 2) + '\n')
}

function readState (kind: Kind): State | null {
  try { return JSON.parse(fs.readFileSync(path.join(STATE_DIR, `${kind}.json`), 'utf8')) as State } catch { return null }
}

/** Remove the record of `kind` (only if it names `runDir`, when given). */
export function removeState (kind: Kind, runDir?: string): void {
  const s = readState(kind)
  if (s && (!runDir || s.runDir === runDir)) fs.rmSync(path.join(STATE_DIR, `${kind}.json`), { force: true })
}

/** The running service recorded in .cache/services/state, or null (removing a stale record). */
export function runningState (kind: Kind): State | null {
  const s = readState(kind)
  if (!s) return null
  if (aliveWith(s.pid, s.runDir)) return s
  removeState(kind)
  return null
}

/** .cache/services/services.env: the HOURGLASS_* variables of what is running. */
export function writeEnvFile (): string[] {
  const kafka = runningState('kafka')
  const redis = runningState('redis')
  const lines: string[] = []
  if (kafka) lines.push(`HOURGLASS_KAFKA_BROKERS=${kafka.url}`)
  if (redis) lines.push(`HOURGLASS_REDIS_URL=${redis.url}`)
  const registry = runningState('registry')
  if (registry) lines.push(`HOURGLASS_SCHEMA_REGISTRY_URL=${registry.url}`)
  fs.mkdirSync(SERVICES_DIR, { recursive: true })
  fs.writeFileSync(path.join(SERVICES_DIR, 'services.env'), lines.join('\n') + (lines.length ? '\n' : ''))
  return lines
}
