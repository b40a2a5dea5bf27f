// Gold from Delta tables another engine writes (`--gold delta:PATH`, optional `--gold-daily delta:PATH`), as
// listings for the gold reader: each poll lists `_delta_log` and replays it only when the hourly table has a new
// version; the snapshot's version is that Delta version, its boundary the table property hourglass.complete_until.
// Our own gold's tables are read the same way, the daily one pinned to the version the hourly one names.
import { isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { GoldSnapshot } from '../../model/gold.js'
import { DAY_MS } from '../../model/time.js'
import type { Conn, Db } from '../duckdb.js'
import type { GoldFile, GoldListing, GoldListingSource } from '../gold-listing.js'
import { DeltaError, holdsVersions, planReplay, type ReplayPlan } from './log-plan.js'
import { type DeltaSnapshot, listDeltaLog, replayDeltaLog } from './log-replay.js'
import { DAILY_VERSION_PROPERTY } from './own-layout.js'
import { checkGoldMetadata, checkProtocol, COMPLETE_UNTIL_PROPERTY, type GoldTableInfo } from './table-checks.js'

export interface DeltaGoldTable {
  snapshot: DeltaSnapshot
  info: GoldTableInfo
  files: GoldFile[]
}

/** The local path of an add action's path (a URI relative to the table, or an absolute file: URI or path). */
export function dataFilePath (table: string, uriPath: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uriPath)) {
    if (uriPath.startsWith('file:')) return fileURLToPath(uriPath)
    throw new DeltaError(`${table}: data file ${uriPath} is not on the local file system`)
  }
  const decoded = decodeURIComponent(uriPath)
  if (isAbsolute(decoded)) return decoded
  if (decoded.split('/').includes('..')) throw new DeltaError(`${table}: data file ${uriPath} lies outside the table`)
  return join(table, decoded)
}

/** Check a snapshot against what Hourglass reads, and turn its files into gold files. */
export function goldTableOf (table: string, snapshot: DeltaSnapshot): DeltaGoldTable {
  checkProtocol(snapshot.protocol, table)
  const info = checkGoldMetadata(snapshot.metadata, table)
  const withDv = snapshot.files.find((f) => f.deletionVector)
  // never serve rows a deletion vector removed
  if (withDv !== undefined) throw new DeltaError(`${table}: ${withDv.path} has a deletion vector (deletionVectors), which Hourglass does not read`)
  const byDate = info.partitionColumns.includes('date')
  const files = snapshot.files.map((f): GoldFile => {
    const date = byDate ? f.partitionValues.date ?? null : null
    const values = Object.fromEntries(Object.entries(f.partitionValues).filter(([k]) => k !== 'date'))
    return {
      path: dataFilePath(table, f.path),
      date: date !== null && /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : null,
      ...(Object.keys(values).length > 0 ? { partitionValues: values } : {})
    }
  })
  return { snapshot, info, files }
}

export interface DeltaGoldOptions {
  db: Db
  /** the hourly gold table's folder */
  hourly: string
  /** the daily gold table's folder, if any */
  daily?: string | null
  /**
   * Hourglass's own tables (own-layout.ts): a table without a commit or without hourglass.complete_until is
   * no gold yet (null, not an error), and the daily table is read at the hourly table's hourglass.daily_version
   */
  own?: boolean
}

/** Listings of Delta gold for the gold reader. close() releases its connection. */
export class DeltaGoldSource implements GoldListingSource {
  readonly #opts: DeltaGoldOptions
  #conn: Conn | null = null
  #last: { version: number, listing: GoldListing } | null = null

  constructor (opts: DeltaGoldOptions) {
    this.#opts = opts
  }

  async #connection (): Promise<Conn> {
    if (this.#conn === null) {
      const conn = await this.#opts.db.connect()
      // the replay depends on no row order; with it preserved, many small commit files read twice as slowly
      await conn.run('SET SESSION preserve_insertion_order = false')
      this.#conn = conn
    }
    return this.#conn
  }

  /** The plan of a table's newest version (or of `upTo`); null: one of our own tables without a commit yet. */
  async #plan (table: string, upTo = Infinity): Promise<ReplayPlan | null> {
    if (this.#opts.own !== true) return planReplay(await listDeltaLog(table), upTo)
    let names: string[]
    try {
      names = await listDeltaLog(table)
    } catch (err) {
      if (err instanceof DeltaError) return null
      throw err
    }
    return holdsVersions(names) ? planReplay(names, upTo) : null
  }

  /** The newest version (the previous listing when the hourly table has none newer); null: no gold yet (own tables only). */
  async latest (): Promise<GoldListing | null> {
    const { hourly, daily } = this.#opts
    const plan = await this.#plan(hourly)
    if (plan === null) return null
    if (this.#last?.version === plan.version) return this.#last.listing
    const conn = await this.#connection()
    const hs = await replayDeltaLog(conn, hourly, plan)
    if (this.#opts.own === true && (hs.metadata.configuration[COMPLETE_UNTIL_PROPERTY] ?? null) === null) return null
    const h = goldTableOf(hourly, hs)
    let dailyFiles: GoldFile[] = []
    const pinned = this.#opts.own === true ? Number(hs.metadata.configuration[DAILY_VERSION_PROPERTY] ?? NaN) : Infinity
    const dailyPlan = daily === undefined || daily === null || Number.isNaN(pinned) ? null : await this.#plan(daily, pinned)
    if (daily !== undefined && daily !== null && dailyPlan !== null) {
      const d = goldTableOf(daily, await replayDeltaLog(conn, daily, dailyPlan))
      // a day is read from daily gold only when both tables say it is final
      const until = Math.min(d.info.completeUntil, h.info.completeUntil)
      dailyFiles = d.files.filter((f) => f.date !== null && Date.parse(`${f.date}T00:00:00Z`) + DAY_MS <= until)
    }
    const snapshot: GoldSnapshot = {
      version: plan.version,
      completeUntil: h.info.completeUntil,
      completeFrom: h.info.completeFrom,
      publishedAt: h.snapshot.committedAt
    }
    const listing: GoldListing = { key: `delta v${plan.version}`, snapshot, hourly: h.files, daily: dailyFiles }
    this.#last = { version: plan.version, listing }
    return listing
  }

  /** Release the connection once the statement in flight (if any) has settled. */
  async close (): Promise<void> {
    const conn = this.#conn
    this.#conn = null
    if (conn === null) return
    await conn.idle()
    if (!this.#opts.db.closed) this.#opts.db.release(conn)
  }
}
