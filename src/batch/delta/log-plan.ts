// Which files of a Delta table's `_delta_log` make up its newest snapshot: the newest complete
// checkpoint (classic `N.checkpoint.parquet` or all parts of a multi-part one) plus the JSON
// commits after it, which must follow without a gap. Pure: works on the folder's file names.

export class DeltaError extends Error {
  override name = 'DeltaError'
}

export interface CheckpointRef {
  version: number
  /** file names inside _delta_log (one for a classic checkpoint, every part for a multi-part one) */
  files: string[]
}

export interface ReplayPlan {
  /** the snapshot's version: the newest commit */
  version: number
  checkpoint: CheckpointRef | null
  /** commit file names after the checkpoint, ascending, one per version */
  commits: string[]
}

const COMMIT = /^(\d{20})\.json$/
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/
const MULTI = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/

/** The version of a commit file name (null: not a commit file). */
export function commitVersion (name: string): number | null {
  const m = COMMIT.exec(name)
  return m === null ? null : Number(m[1])
}

/** The name of the commit file of a version. */
export function commitName (version: number): string {
  return `${String(version).padStart(20, '0')}.json`
}

/** Whether a `_delta_log` listing holds any version: a commit, or a checkpoint (a log cleaned up to it has no commit before). */
export function holdsVersions (names: readonly string[]): boolean {
  return names.some((n) => commitVersion(n) !== null) || checkpoints(names).length > 0
}

/** Complete checkpoints by version, newest first (a multi-part one with a part missing is left out). */
export function checkpoints (names: readonly string[]): CheckpointRef[] {
  const byVersion = new Map<number, CheckpointRef>()
  const parts = new Map<string, { version: number, of: number, names: Map<number, string> }>()
  for (const name of names) {
    const c = CLASSIC.exec(name)
    if (c !== null) {
      byVersion.set(Number(c[1]), { version: Number(c[1]), files: [name] })
      continue
    }
    const m = MULTI.exec(name)
    if (m === null) continue
    const key = `${m[1]}/${m[3]}`
    const set = parts.get(key) ?? { version: Number(m[1]), of: Number(m[3]), names: new Map() }
    set.names.set(Number(m[2]), name)
    parts.set(key, set)
  }
  for (const p of parts.values()) {
    const complete = p.of > 0 && p.names.size === p.of && [...p.names.keys()].every((o) => o >= 1 && o <= p.of)
    if (!complete || byVersion.has(p.version)) continue
    byVersion.set(p.version, { version: p.version, files: [...p.names.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]) })
  }
  return [...byVersion.values()].sort((a, b) => b.version - a.version)
}

/**
 * The plan for the newest snapshot, from the names in `_delta_log`; `upTo` caps the version (time
 * travel, or a commit seen in a listing that has since changed). Throws DeltaError when the log
 * holds no commit or when a commit after the checkpoint is missing.
 */
export function planReplay (names: readonly string[], upTo = Infinity): ReplayPlan {
  const commits = new Map<number, string>()
  for (const n of names) {
    const v = commitVersion(n)
    if (v !== null && v <= upTo) commits.set(v, n)
  }
  const cps = checkpoints(names).filter((c) => c.version <= upTo)
  if (commits.size === 0 && cps.length === 0) throw new DeltaError('the _delta_log folder holds no commit: not a Delta table')
  const version = Math.max(...commits.keys(), ...cps.map((c) => c.version))
  // the newest checkpoint whose following commits are all there
  for (const cp of [...cps, null]) {
    const from = cp === null ? 0 : cp.version + 1
    const list: string[] = []
    let ok = true
    for (let v = from; v <= version; v++) {
      const n = commits.get(v)
      if (n === undefined) { ok = false; break }
      list.push(n)
    }
    if (ok) return { version, checkpoint: cp, commits: list }
  }
  throw new DeltaError(`the _delta_log folder misses commits before version ${version} and holds no checkpoint after the gap`)
}
