// The schema registry's jar: Apicurio Registry built as a Quarkus uber-jar from scripts/registry/ (pom.xml names what it
// takes to build it from Maven Central alone) with `mvn -q -s settings.xml package`, once per hash of its inputs,
// into .cache/registry/registry-<hash>.jar (about 130 MB, a minute or two when Maven's cache is empty).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { CACHE, type Log, makeLog, ROOT, seconds, tail, withLock } from './common.js'
import { ensureJava } from './install.js'
import { runToEnd } from './process.js'

export const REGISTRY_DIR = path.join(CACHE, 'registry')
const SOURCES = path.join(ROOT, 'scripts', 'registry')

/** The Apicurio version pinned in scripts/registry/pom.xml. */
export const REGISTRY_VERSION: string = (() => {
  const m = /<apicurio\.version>([^<]+)<\/apicurio\.version>/.exec(fs.readFileSync(path.join(SOURCES, 'pom.xml'), 'utf8'))
  if (m?.[1] === undefined) throw new Error('no <apicurio.version> in scripts/registry/pom.xml')
  return m[1]
})()

/**
 * Maven settings sending every repository but Central (the poms of Apicurio and its dependencies name others) to an
 * empty local folder: an artifact is found on Central or not at all.
 */
function settings (emptyRepo: string): string {
  return `<settings>
  <mirrors>
    <mirror>
      <id>central-only</id>
      <mirrorOf>external:*,!central</mirrorOf>
      <url>file://${emptyRepo}</url>
    </mirror>
  </mirrors>
</settings>
`
}

function inputs (): { pom: string, properties: string, hash: string } {
  const pom = fs.readFileSync(path.join(SOURCES, 'pom.xml'), 'utf8')
  const properties = fs.readFileSync(path.join(SOURCES, 'application.properties'), 'utf8')
  const hash = crypto.createHash('sha256').update(pom).update('\0').update(properties).update('\0').update(settings(''))
    .digest('hex').slice(0, 16)
  return { pom, properties, hash }
}

/** Where the jar for the current inputs is (it may not be built yet). */
export function registryJar (): string {
  return path.join(REGISTRY_DIR, `registry-${inputs().hash}.jar`)
}

export function registryBuilt (): boolean {
  return fs.existsSync(registryJar())
}

export interface BuiltRegistry { jar: string, version: string, built: boolean, ms: number }

/** Build the registry's jar when the one for the current inputs is missing. */
export async function buildRegistry ({ log, force = false }: { log?: Log, force?: boolean } = {}): Promise<BuiltRegistry> {
  const say = makeLog(log)
  const { pom, properties, hash } = inputs()
  const jar = path.join(REGISTRY_DIR, `registry-${hash}.jar`)
  const cached = { jar, version: REGISTRY_VERSION, built: false, ms: 0 }
  if (!force && fs.existsSync(jar)) return cached
  await ensureJava(say, { maven: true })
  return await withLock('registry-build', async () => {
    if (!force && fs.existsSync(jar)) return cached
    const t0 = Date.now()
    const dir = path.join(REGISTRY_DIR, `build-${hash}`)
    fs.rmSync(dir, { recursive: true, force: true })
    const resources = path.join(dir, 'src', 'main', 'resources')
    const emptyRepo = path.join(dir, 'empty-repository')
    fs.mkdirSync(resources, { recursive: true })
    fs.mkdirSync(emptyRepo, { recursive: true })
    fs.writeFileSync(path.join(dir, 'pom.xml'), pom)
    fs.writeFileSync(path.join(resources, 'application.properties'), properties)
    fs.writeFileSync(path.join(dir, 'settings.xml'), settings(emptyRepo))
    const logFile = path.join(REGISTRY_DIR, 'build.log')
    say(`building Apicurio Registry ${REGISTRY_VERSION} from Maven Central (mvn; a minute or two when nothing is cached) …`)
    const ticker = setInterval(() => say(`  … ${seconds(Date.now() - t0)}`), 10_000)
    let code: number
    try {
      const args = ['-B', '-q', '-Dstyle.color=never', '-s', path.join(dir, 'settings.xml'), '-f', path.join(dir, 'pom.xml'), 'package']
      code = await runToEnd('mvn', args, { logFile })
    } finally {
      clearInterval(ticker)
    }
    const runner = path.join(dir, 'target', 'hourglass-registry-1-runner.jar')
    if (code !== 0 || !fs.existsSync(runner)) {
      throw new Error(`building the schema registry with Maven failed (exit ${code}); ${logFile}:\n${tail(logFile, 30)}`)
    }
    const tmp = `${jar}.tmp-${process.pid}`
    fs.copyFileSync(runner, tmp)
    fs.renameSync(tmp, jar)
    fs.rmSync(dir, { recursive: true, force: true })
    const ms = Date.now() - t0
    say(`Apicurio Registry ${REGISTRY_VERSION}: ${path.relative(ROOT, jar)} (${(fs.statSync(jar).size / 1e6).toFixed(0)} MB) built in ${seconds(ms)}`)
    return { jar, version: REGISTRY_VERSION, built: true, ms }
  }, say)
}
