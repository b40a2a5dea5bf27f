// The OASIS CSDL XML schemas (edmx.xsd, edm.xsd) and xmllint, for validating /odata/$metadata.
//
//   XSDs     the npm package `odata-csdl` (published by the OASIS OData TC from
//            oasis-tcs/odata-csdl-schemas) ships schemas/edmx.xsd and schemas/edm.xsd; `npm pack`
//            fetches the pinned version from the registry into .cache/csdl-xsd/<version>/.
//   xmllint  Debian's libxml2-utils (apt-get installs it when missing and we are root).
//
// CLI:  node --import tsx scripts/fetch-csdl-xsd.ts   prints the path of edmx.xsd
// API:  const { edmx, xmllint } = await fetchCsdlXsd()
// which and apt-get come from scripts/services.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CACHE } from './services/common.js'
import { aptInstall } from './services/install.js'
import { which } from './services/process.js'

/** the odata-csdl release whose schemas we validate against (CSDL XML 4.01 schemas; they accept Version="4.0") */
export const ODATA_CSDL_VERSION = '0.11.2'

const DIR = path.join(CACHE, 'csdl-xsd', ODATA_CSDL_VERSION)
const FILES = ['edmx.xsd', 'edm.xsd']

type Log = (line: string) => void

function run (cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout || String(r.error ?? '')).slice(-2000)}`)
  return r.stdout
}

/** xmllint's path, installing Debian's libxml2-utils when it is missing and we may. */
export async function ensureXmllint (log: Log = () => {}): Promise<string> {
  const found = which('xmllint')
  if (found !== null) return found
  await aptInstall(['libxml2-utils'], log)
  const installed = which('xmllint')
  if (installed === null) throw new Error('libxml2-utils installed, yet no xmllint on PATH')
  return installed
}

/** The folder holding edmx.xsd and edm.xsd, fetched with `npm pack odata-csdl@VERSION` when not cached. */
export function ensureXsd (log: Log = () => {}): string {
  if (FILES.every((f) => fs.existsSync(path.join(DIR, f)))) return DIR
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'csdl-xsd-'))
  try {
    log(`npm pack odata-csdl@${ODATA_CSDL_VERSION} …`)
    const out = run('npm', ['pack', `odata-csdl@${ODATA_CSDL_VERSION}`, '--pack-destination', tmp, '--json', '--silent'], { cwd: tmp })
    const tarball = path.join(tmp, (JSON.parse(out) as Array<{ filename: string }>)[0]?.filename ?? '')
    run('tar', ['-xzf', tarball, '-C', tmp, ...FILES.map((f) => `package/schemas/${f}`)])
    fs.mkdirSync(DIR, { recursive: true })
    // copy, then rename each file into place, so a killed run leaves no half-written schema
    for (const f of FILES) {
      fs.copyFileSync(path.join(tmp, 'package', 'schemas', f), path.join(DIR, `${f}.part`))
      fs.renameSync(path.join(DIR, `${f}.part`), path.join(DIR, f))
    }
    return DIR
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** Both: { dir, edmx (path of edmx.xsd), xmllint (path) }. */
export async function fetchCsdlXsd (log: Log = () => {}): Promise<{ dir: string, edmx: string, xmllint: string }> {
  const xmllint = await ensureXmllint(log)
  const dir = ensureXsd(log)
  return { dir, edmx: path.join(dir, 'edmx.xsd'), xmllint }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (line: string): void => { process.stderr.write(`[csdl-xsd] ${line}\n`) }
  fetchCsdlXsd(log).then(({ edmx }) => { console.log(edmx) }, (err) => {
    console.error(err.message)
    process.exit(1)
  })
}
