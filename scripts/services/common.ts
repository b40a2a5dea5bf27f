// Paths and small helpers shared by the service scripts: where things are cached, how progress is
// logged, and the cross-process lock that keeps two processes from fetching or installing at once.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { acquireLock } from '../../src/batch/lock.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CACHE = path.resolve(process.env.SERVICES_CACHE_DIR || path.join(ROOT, '.cache'))
export const KAFKA_LIB = path.join(CACHE, 'kafka', 'lib')
export const SERVICES_DIR = path.join(CACHE, 'services')
export const RUN_ROOT = path.join(SERVICES_DIR, 'run')
export const STATE_DIR = path.join(SERVICES_DIR, 'state')
export const LOCK_DIR = path.join(SERVICES_DIR, 'locks')
export const POM = path.join(ROOT, 'scripts', 'kafka', 'pom.xml')
export const LOG4J_CONFIG = path.join(ROOT, 'scripts', 'kafka', 'log4j2.properties')
export const HOST = '127.0.0.1'

/** Where progress lines go: a function, false/null for silence, undefined for stderr with a prefix. */
export type Log = ((line: string) => void) | false | null | undefined
export type LogLine = (line: string) => void

export function makeLog (log: Log): LogLine {
  if (log === false || log === null) return () => {}
  if (typeof log === 'function') return log
  return (line) => process.stderr.write(`[services] ${line}\n`)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
export const seconds = (ms: number): string => (ms / 1000).toFixed(1) + ' s'

/** The last `lines` lines of a log file, for error messages. */
export function tail (file: string | null, lines = 40): string {
  try {
    return fs.readFileSync(file ?? '', 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no output)'
  }
}

/**
 * Run `fn` holding the lock `name` (a file under .cache/services/locks naming its holder's pid,
 * taken over when that holder died: src/batch/lock.ts); waits while a live holder has it.
 */
export async function withLock<T> (name: string, fn: () => Promise<T>, log: LogLine): Promise<T> {
  const file = path.join(LOCK_DIR, `${name}.lock`)
  let told = false
  for (;;) {
    const r = await acquireLock(file, { purpose: name, onProgress: log })
    if (r.acquired) {
      try {
        return await fn()
      } finally {
        await r.lock.release()
      }
    }
    if (!told) { log(`waiting for another process (${r.holder?.pid ?? '?'}) to finish: ${name}`); told = true }
    await sleep(250)
  }
}
