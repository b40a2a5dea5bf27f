// The gold manifest of data folders from before the Delta tables (<dataDir>/gold/_manifest.json): read and
// validated only to migrate it (delta/migrate.ts); gold is published as Delta commits now.
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, resolve, sep } from 'node:path'
import { GOLD_FORMAT, type GoldManifest } from '../model/gold.js'
import { RELATIVE_ACCURACY, ZERO_BIN } from '../model/sketch.js'

export class ManifestError extends Error {
  override name = 'ManifestError'
}

export function goldDir (dataDir: string): string {
  return join(dataDir, 'gold')
}

export function manifestPath (dataDir: string): string {
  return join(goldDir(dataDir), '_manifest.json')
}

function isInstant (v: unknown): v is string {
  return typeof v === 'string' && Number.isFinite(Date.parse(v))
}

function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/** A listed file: relative to the data folder, inside it, a .parquet file. */
export function isSafeRelativePath (p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || isAbsolute(p) || p.includes('\\') || p.includes('\0')) return false
  return p.endsWith('.parquet') && p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..')
}

/** Validate a decoded manifest; throws ManifestError saying what is wrong. */
export function validateManifest (value: unknown): GoldManifest {
  const fail = (what: string): never => { throw new ManifestError(`gold manifest: ${what}`) }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object')
  const m = value as Record<string, unknown>
  if (m.format !== GOLD_FORMAT) fail(`format must be "${GOLD_FORMAT}", got ${JSON.stringify(m.format)}`)
  if (!isCount(m.version)) fail('version must be an integer ≥ 0')
  if (!isInstant(m.published_at)) fail('published_at must be an ISO-8601 instant')
  if (m.complete_until !== null && !isInstant(m.complete_until)) fail('complete_until must be an ISO-8601 instant or null')
  if (m.complete_from !== undefined && m.complete_from !== null && !isInstant(m.complete_from)) fail('complete_from must be an ISO-8601 instant or null')
  const sk = m.sketch as Record<string, unknown> | undefined
  if (typeof sk !== 'object' || sk === null) return fail('sketch block missing')
  // Bins of another mapping cannot be merged with ours: refuse rather than serve wrong p95s.
  if (sk.kind !== 'ddsketch-log' || sk.relative_accuracy !== RELATIVE_ACCURACY || sk.zero_bin !== ZERO_BIN) {
    fail(`sketch must be ddsketch-log with relative_accuracy ${RELATIVE_ACCURACY} and zero_bin ${ZERO_BIN}, got ${JSON.stringify(sk)}`)
  }
  const tables = m.tables as Record<string, unknown> | undefined
  if (typeof tables !== 'object' || tables === null) return fail('tables missing')
  for (const [name, t] of Object.entries(tables)) {
    const tt = t as Record<string, unknown> | null
    if (typeof tt !== 'object' || tt === null || !Array.isArray(tt.files) || !isCount(tt.rows)) fail(`tables.${name} must have files[] and rows`)
    const files = (tt as { files: unknown[] }).files
    const bad = files.find((f) => !isSafeRelativePath(f))
    if (bad !== undefined) fail(`tables.${name}.files holds ${JSON.stringify(bad)}: files must be .parquet paths relative to the data folder, without ..`)
  }
  if (tables.hourly_metrics === undefined) fail('tables.hourly_metrics missing')
  if (m.built_from !== undefined) {
    const b = m.built_from as Record<string, unknown> | null
    if (typeof b !== 'object' || b === null || Array.isArray(b)) fail('built_from must be an object')
    for (const [date, hours] of Object.entries(b as Record<string, unknown>)) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || typeof hours !== 'object' || hours === null ||
        !Object.entries(hours).every(([h, fp]) => /^\d{2}$/.test(h) && typeof fp === 'string')) fail(`built_from.${date} must map "HH" to fingerprints`)
    }
  }
  return value as GoldManifest
}

export function parseManifest (text: string): GoldManifest {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ManifestError(`gold manifest: not JSON (${(err as Error).message})`)
  }
  return validateManifest(value)
}

/** The text of the manifest in force, or null when none has been published. */
export async function readManifestText (dataDir: string): Promise<string | null> {
  try {
    return await readFile(manifestPath(dataDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** The manifest in force, or null when none has been published. Throws ManifestError if invalid. */
export async function readManifest (dataDir: string): Promise<GoldManifest | null> {
  const text = await readManifestText(dataDir)
  return text === null ? null : parseManifest(text)
}

/** Absolute path of a listed file (the manifest holds paths relative to the data folder). */
export function resolveListed (dataDir: string, rel: string): string {
  const root = resolve(dataDir)
  const abs = resolve(root, rel)
  if (!abs.startsWith(root + sep)) throw new ManifestError(`gold manifest: ${rel} lies outside the data folder`)
  return abs
}
