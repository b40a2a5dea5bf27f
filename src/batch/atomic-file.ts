// Atomic replacement of a file: write a temp file beside it, then rename over it. A reader sees the
// old content or the new, never a half-written file; a crash leaves at most a stray temp file,
// whose name starts with a dot so that no listing of data files picks it up.
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** A temp path in the same folder as `path` (same filesystem, so rename is atomic). */
export function tempPathFor (path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
}

/** Is this a temp file of ours (or any dot file)? Listings skip these. */
export function isTempName (name: string): boolean {
  return name.startsWith('.')
}

/** Write `data` to `path` atomically (temp file, fsync, rename). */
export async function writeFileAtomic (path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = tempPathFor(path)
  try {
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(data, 'utf8')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/**
 * Produce a file with `write(tmpPath)` (e.g. a DuckDB COPY), then rename it to `path`. If `write`
 * throws, the temp file is removed and nothing appears at `path`.
 */
export async function produceFileAtomic (path: string, write: (tmpPath: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = tempPathFor(path)
  try {
    await write(tmp)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
