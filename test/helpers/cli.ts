// The `hourglass` CLI from the sources (scripts/hourglass-dev.ts) as a child process, for the CLI tests.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ENTRY = join(ROOT, 'scripts', 'hourglass-dev.ts')
const TIMEOUT_MS = 60_000

export interface Run { code: number | null, stdout: string, stderr: string }

/** Run the CLI with `args`; the environment holds no HOURGLASS_* but what `env` adds. */
export async function hourglass (args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c) => resolve(c))
    })
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}
