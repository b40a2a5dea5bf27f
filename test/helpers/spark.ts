// The PySpark venv of the Spark tests and the environment of their Python processes. Spark fetches the Delta jars
// through Ivy into .cache/ivy at its first session; two test files starting their first sessions at once on a fresh
// cache race in Ivy's cache and one fails ("download failed"). So the first session is started once, alone, under a
// lock, and a marker says the jars are there.
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CACHE } from '../../scripts/services/common.js'
import { ensurePythonVenv, type PythonVenv, SPARK_REQUIREMENTS } from '../../scripts/services/python.js'
import { acquireLock } from '../../src/batch/lock.js'
import { until } from './wait.js'

const IVY = join(CACHE, 'ivy')
const READY = join(IVY, '.delta-jars-ready')
const EXAMPLES = fileURLToPath(new URL('../../examples/spark/', import.meta.url))

/** Spark's Ivy cache under the project's ignored cache folder */
export const sparkEnv = (): NodeJS.ProcessEnv => ({ ...process.env, PYSPARK_SUBMIT_ARGS: `--conf spark.jars.ivy=${IVY} pyspark-shell` })

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false)

/** The PySpark venv, with the Delta jars already in the Ivy cache. */
export async function sparkVenv (log?: (line: string) => void): Promise<PythonVenv> {
  const venv = await ensurePythonVenv(SPARK_REQUIREMENTS, log)
  await until('the Delta jars in the Ivy cache', async () => {
    if (await exists(READY)) return true
    const r = await acquireLock(join(IVY, '.fetch.lock'), { purpose: 'fetching the Delta jars', staleMs: 600_000 })
    if (!r.acquired) return false
    try {
      if (!(await exists(READY))) {
        log?.('spark: fetching the Delta jars into .cache/ivy (once)')
        await venv.exec(['-c', `import sys; sys.path.insert(0, ${JSON.stringify(EXAMPLES)}); from hourly_gold import delta_session; delta_session('local[1]', 'hourglass-jars').stop()`],
          { timeoutMs: 1_200_000, env: sparkEnv() })
        await writeFile(READY, new Date().toISOString() + '\n')
      }
      return true
    } finally {
      await r.lock.release()
    }
  }, 1_800_000)
  return venv
}
