// A Python virtual environment under .cache/python/, for tests that need an independent engine
// from PyPI (delta-rs). Created once per set of pinned requirements (the folder is named by their
// hash) with the machine's python3 and pip; a marker file says the install completed.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { CACHE, type Log, makeLog, seconds, withLock } from './common.js'

const run = promisify(execFile)

/** delta-rs's Python binding and the Arrow library the tests hand it tables with. */
export const DELTA_RS_REQUIREMENTS = ['deltalake==1.6.6', 'pyarrow==26.0.1']

/** PySpark with Delta Lake (examples/spark): delta-spark 4.4.1 has no jar on Maven Central, 4.4.0 does. */
export const SPARK_REQUIREMENTS = ['pyspark==4.2.0', 'delta-spark==4.4.0']

export interface PythonVenv {
  /** the venv's python executable */
  python: string
  /** run the venv's python with `args` (a script and its arguments, or `-c code`); resolves with stdout, rejects with stderr in the message */
  exec (args: string[], opts?: { timeoutMs?: number, env?: NodeJS.ProcessEnv }): Promise<string>
}

function venvOf (dir: string): PythonVenv {
  const python = path.join(dir, 'bin', 'python')
  return {
    python,
    async exec (args, opts = {}) {
      try {
        const r = await run(python, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env })
        return r.stdout
      } catch (err) {
        const e = err as Error & { stderr?: string }
        throw new Error(`python failed: ${e.message}\n${e.stderr ?? ''}`)
      }
    }
  }
}

/** The venv holding exactly `requirements` (pinned `name==version`), created and installed once. */
export async function ensurePythonVenv (requirements: string[] = DELTA_RS_REQUIREMENTS, log?: Log): Promise<PythonVenv> {
  const say = makeLog(log)
  const key = createHash('sha256').update(requirements.join('\n')).digest('hex').slice(0, 12)
  const dir = path.join(CACHE, 'python', key)
  const marker = path.join(dir, '.installed')
  if (fs.existsSync(marker)) return venvOf(dir)
  return await withLock(`python-${key}`, async () => {
    if (fs.existsSync(marker)) return venvOf(dir)
    const started = Date.now()
    say(`python: creating a venv in ${dir} with ${requirements.join(' ')}`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(path.dirname(dir), { recursive: true })
    await run('python3', ['-m', 'venv', dir], { timeout: 120_000 })
    const pip = path.join(dir, 'bin', 'pip')
    await run(pip, ['install', '--quiet', '--no-input', ...requirements], { timeout: 900_000, maxBuffer: 16 * 1024 * 1024 })
    fs.writeFileSync(marker, requirements.join('\n') + '\n')
    say(`python: venv ready in ${seconds(Date.now() - started)}`)
    return venvOf(dir)
  }, say)
}
