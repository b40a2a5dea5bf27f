// delta-rs (PyPI `deltalake`, pinned in scripts/services/python.ts) as the independent engine that writes
// the gold Delta tables Hourglass reads in the tests, and reads them back; plus the brute force the
// answers are compared with.
import { fileURLToPath } from 'node:url'
import { emptyPartials, mergePartials, finalise, type Metrics, type Partials } from '../../src/model/partials.js'
import { ensurePythonVenv, type PythonVenv } from '../../scripts/services/python.js'

const SCRIPT = fileURLToPath(new URL('./delta-rs.py', import.meta.url))

/** A gold row as written: the contract's columns (response_bins as [bin, n] pairs). */
export interface GoldRow {
  window_start: string
  event_type: string
  region: string
  total_events: number
  latency_sum: number
  latency_count: number
  revenue_cents: number
  response_bins: Array<[number, number]>
}

export interface DeltaCommand {
  op: 'append' | 'overwrite' | 'delete' | 'compact' | 'checkpoint' | 'vacuum' | 'properties' | 'read'
  path: string
  rows?: GoldRow[]
  /** window_start written without a zone (timestamp_ntz; Parquet TIMESTAMP as Spark writes it), in UTC */
  naive?: boolean
  predicate?: string
  partition_by?: string[]
  /** delta.* settings of a new table */
  configuration?: Record<string, string>
  /** table properties set in a commit of their own after the operation */
  properties?: Record<string, string>
  /** also answer the newest version's operation (its commitInfo, as delta-rs reads the history) */
  history?: boolean
}

export interface DeltaAnswer { version: number, files: number, rows?: GoldRow[], operation?: string }

export class DeltaRs {
  readonly #venv: PythonVenv

  private constructor (venv: PythonVenv) {
    this.#venv = venv
  }

  /** The venv is created and installed on first use (cached under .cache/python/). */
  static async open (): Promise<DeltaRs> {
    return new DeltaRs(await ensurePythonVenv())
  }

  async run (cmd: DeltaCommand): Promise<DeltaAnswer> {
    return JSON.parse(await this.#venv.exec([SCRIPT, JSON.stringify(cmd)])) as DeltaAnswer
  }

  async read (path: string): Promise<GoldRow[]> {
    return (await this.run({ op: 'read', path })).rows ?? []
  }
}

/** A deterministic gold row for (hour, event type, region), varied by `salt`. */
export function goldRow (hourMs: number, eventType: string, region: string, salt = 0): GoldRow {
  const k = Math.floor(hourMs / 3_600_000) + eventType.length * 7 + region.length * 13 + salt * 31
  const n = 5 + (k % 17)
  return {
    window_start: new Date(hourMs).toISOString(),
    event_type: eventType,
    region,
    total_events: n,
    latency_sum: n * (10 + (k % 5)) + 0.25,
    latency_count: n - (k % 2),
    revenue_cents: 100 * (k % 11) + salt,
    response_bins: [[100 + (k % 9), n - 2], [400 + (k % 3), 2]]
  }
}

/** Rows in a stable order (for comparing multisets). */
export function sortRows (rows: readonly GoldRow[]): GoldRow[] {
  return [...rows].sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)
}

/**
 * Brute force: the answer of `/v1/metrics?granularity=hour&group_by=event_type,region` over gold rows
 * in [from, to): the rows of each (hour, event type, region) summed, then finalised as the service does.
 */
export function bruteForce (rows: readonly GoldRow[], from: number, to: number): Array<{ window_start: string, event_type: string, region: string } & Metrics> {
  const groups = new Map<string, { row: GoldRow, p: Partials }>()
  for (const r of rows) {
    const t = Date.parse(r.window_start)
    if (t < from || t >= to) continue
    const p: Partials = {
      ...emptyPartials(),
      events: r.total_events,
      latency_sum: r.latency_sum,
      latency_count: r.latency_count,
      revenue_cents: r.revenue_cents
    }
    for (const [bin, n] of r.response_bins) p.response.set(bin, (p.response.get(bin) ?? 0) + n)
    const key = `${r.window_start}|${r.event_type}|${r.region}`
    const g = groups.get(key)
    if (g === undefined) groups.set(key, { row: r, p })
    else mergePartials(g.p, p)
  }
  return [...groups.entries()].sort((a, b) => a[0] < b[0] ? -1 : 1)
    .map(([, g]) => ({ window_start: g.row.window_start, event_type: g.row.event_type, region: g.row.region, ...finalise(g.p) }))
}
