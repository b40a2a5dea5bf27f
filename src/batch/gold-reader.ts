// The gold reader: implements GoldSource over the files of a listing: our own gold's Delta tables (the default), or
// a Delta table another engine writes (src/batch/delta/gold-table.ts). It loads the listing at open, then polls it (or is told to reload()); a new
// version is prepared off to the side and swapped in with one assignment, so a query never waits for a reload, and a
// snapshot keeps its file list while the caller holds it (gold files are immutable). Whole days are read from daily
// gold where the snapshot has it, other days rolled up from hourly rows.
import { stat } from 'node:fs/promises'
import { listValue } from '@duckdb/node-api'
import type { EntityCount } from '../model/entities.js'
import type { GoldGranularity, GoldSnapshot, GoldSource } from '../model/gold.js'
import { clonePartials, mergePartials, type PartialRow } from '../model/partials.js'
import type { Filters } from '../model/query.js'
import type { Sketch } from '../model/sketch.js'
import { DAY_MS, utcDate } from '../model/time.js'
import { runSliced, STEP, type Steps } from '../model/steps.js'
import type { Conn, Db } from './duckdb.js'
import { readTopEntities } from './gold-entities.js'
import { type GoldFileData, GoldFileCache, loadGoldFile } from './gold-file-cache.js'
import { DeltaGoldSource } from './delta/gold-table.js'
import { dailyTableDir, hourlyTableDir } from './delta/own-layout.js'
import type { GoldFile, GoldListing, GoldListingSource } from './gold-listing.js'

export type { GoldFile, GoldListing, GoldListingSource } from './gold-listing.js'

/** A gold version that cannot be served (the one in force stays). */
export class GoldVersionError extends Error {
  override name = 'GoldVersionError'
}

export interface GoldReaderOptions {
  dataDir: string
  db: Db
  /** how often to look for a new version (ms); 0 = only on reload() */
  pollMs: number
  /** DuckDB connections used for reading files (statements on one connection run one at a time) */
  connections?: number
  /** bound of the decoded-file cache, in sketch bins (≈ 12 bytes each); default 8M */
  cacheBins?: number
  /** on a new version, decode the files of its newest N dates in the background (default 2) */
  prefetchDates?: number
  /** where gold versions come from (default: our own gold's Delta tables in the data folder) */
  listing?: GoldListingSource
  /** a version that could not be loaded (the previous one stays in force) */
  onError?: (err: Error) => void
  /** a new version is in force */
  onSwap?: (snapshot: GoldSnapshot) => void
}

interface State {
  snapshot: GoldSnapshot
  files: GoldFile[]
  /** daily gold by date */
  daily: Map<string, string[]>
  dimensions?: Promise<Dimensions>
  /** the previous state's dimensions and the files added since, when those are known to be enough */
  dimensionsBase?: { dimensions: Promise<Dimensions>, added: string[] }
}

interface Dimensions { event_types: string[], regions: string[] }

const KEEP_VERSIONS = 8

export class GoldReader implements GoldSource {
  readonly dataDir: string
  readonly #db: Db
  readonly #conns: Conn[] = []
  readonly #connCount: number
  readonly #cache: GoldFileCache
  readonly #prefetchDates: number
  readonly #onError: ((err: Error) => void) | undefined
  readonly #onSwap: ((snapshot: GoldSnapshot) => void) | undefined
  readonly #source: GoldListingSource
  /** the default source, which this reader closes */
  readonly #ownSource: DeltaGoldSource | null = null
  /** partition values of the files that have any, by path */
  readonly #partitionValues = new Map<string, Record<string, string | null>>()
  #next = 0
  #current: State | null = null
  /** states by snapshot object (held as long as the caller holds the snapshot) */
  readonly #bySnapshot = new WeakMap<GoldSnapshot, State>()
  /** recent states by version, for callers that copy snapshot objects */
  readonly #byVersion = new Map<number, State>()
  /** files already checked to exist */
  readonly #checked = new Set<string>()
  #lastKey: string | null = null
  #reloading: Promise<boolean> | null = null
  #timer: NodeJS.Timeout | undefined
  #closed = false
  lastError: Error | null = null

  private constructor (options: GoldReaderOptions) {
    this.dataDir = options.dataDir
    this.#db = options.db
    this.#connCount = Math.max(1, options.connections ?? 2)
    this.#cache = new GoldFileCache(options.cacheBins)
    this.#prefetchDates = options.prefetchDates ?? 2
    this.#onError = options.onError
    this.#onSwap = options.onSwap
    if (options.listing !== undefined) this.#source = options.listing
    else {
      this.#ownSource = new DeltaGoldSource({ db: options.db, hourly: hourlyTableDir(options.dataDir), daily: dailyTableDir(options.dataDir), own: true })
      this.#source = this.#ownSource
    }
  }

  /** Open the reader: load the version in force (if any) and start polling. */
  static async open (options: GoldReaderOptions): Promise<GoldReader> {
    const reader = new GoldReader(options)
    for (let i = 0; i < reader.#connCount; i++) reader.#conns.push(await options.db.connect())
    await reader.reload()
    if (options.pollMs > 0) {
      reader.#timer = setInterval(() => { void reader.reload() }, options.pollMs)
      reader.#timer.unref()
    }
    return reader
  }

  snapshot (): GoldSnapshot | null {
    return this.#current?.snapshot ?? null
  }

  /**
   * Look for a new version now; true when one was swapped in. Never throws: a version that
   * cannot be used is reported through onError / lastError and the current one stays.
   */
  reload (): Promise<boolean> {
    this.#reloading ??= this.#reloadNow().finally(() => { this.#reloading = null })
    return this.#reloading
  }

  async #reloadNow (): Promise<boolean> {
    if (this.#closed) return false
    try {
      const listing = await this.#source.latest()
      if (listing === null || listing.key === this.#lastKey) return false
      const version = listing.snapshot.version
      const cur = this.#current
      if (cur !== null && version <= cur.snapshot.version) {
        this.#lastKey = listing.key
        if (version < cur.snapshot.version) {
          throw new GoldVersionError(`gold version went back from ${cur.snapshot.version} to ${version}; keeping ${cur.snapshot.version}`)
        }
        return false
      }
      const state = await this.#prepare(listing)
      this.#lastKey = listing.key
      this.#install(state)
      this.lastError = null
      this.#prefetch(state)
      this.#onSwap?.(state.snapshot)
      return true
    } catch (err) {
      this.lastError = err as Error
      this.#onError?.(err as Error)
      return false
    }
  }

  async #prepare (listing: GoldListing): Promise<State> {
    const files = listing.hourly
    const dailyFiles = listing.daily
    const daily = new Map<string, string[]>()
    for (const f of dailyFiles) {
      if (f.date === null) continue // a daily file must say its date; without one it is not used
      daily.set(f.date, [...(daily.get(f.date) ?? []), f.path])
    }
    const unchecked = [...files, ...dailyFiles].filter((f) => !this.#checked.has(f.path))
    const missing: string[] = []
    await Promise.all(unchecked.map(async (f) => {
      try {
        if (!(await stat(f.path)).isFile()) missing.push(f.path)
      } catch {
        missing.push(f.path)
      }
    }))
    if (missing.length > 0) throw new GoldVersionError(`gold v${listing.snapshot.version} lists ${missing.length} missing file(s), e.g. ${missing[0]}`)
    for (const f of unchecked) this.#checked.add(f.path)
    for (const f of [...files, ...dailyFiles]) if (f.partitionValues !== undefined) this.#partitionValues.set(f.path, f.partitionValues)
    return { snapshot: listing.snapshot, files, daily }
  }

  /** Decode the newest dates of a new version in the background: they are the most asked for. */
  #prefetch (state: State): void {
    const dates = [...new Set(state.files.map((f) => f.date).filter((d) => d !== null))].sort().slice(-this.#prefetchDates)
    for (const f of state.files) {
      if (f.date !== null && dates.includes(f.date)) this.#cache.get(f.path, this.#load).catch(() => undefined)
    }
  }

  #install (state: State): void {
    const prev = this.#current
    if (prev?.dimensions !== undefined) {
      // our batch job only ever adds files: when the new list holds all the old ones, the distinct
      // dimensions are the old ones plus those of the added files
      const have = new Set(state.files.map((f) => f.path))
      if (prev.files.every((f) => have.has(f.path))) {
        const old = new Set(prev.files.map((f) => f.path))
        state.dimensionsBase = { dimensions: prev.dimensions, added: state.files.filter((f) => !old.has(f.path)).map((f) => f.path) }
      }
    }
    this.#bySnapshot.set(state.snapshot, state)
    this.#byVersion.set(state.snapshot.version, state)
    while (this.#byVersion.size > KEEP_VERSIONS) this.#byVersion.delete(this.#byVersion.keys().next().value as number)
    this.#current = state
  }

  #stateOf (snapshot: GoldSnapshot): State {
    const s = this.#bySnapshot.get(snapshot) ?? this.#byVersion.get(snapshot.version)
    if (s === undefined) throw new Error(`gold snapshot v${snapshot.version} is no longer held by this reader`)
    return s
  }

  #conn (): Conn {
    const c = this.#conns[this.#next++ % this.#conns.length]
    if (c === undefined || this.#closed) throw new Error('gold reader is closed')
    return c
  }

  /**
   * Rows of the snapshot with window_start in [from, to), filtered: hourly rows, or with
   * granularity 'day' one row per (UTC day, event_type, region) summing that day's hours inside
   * [from, to). Reads only files whose date= folder meets the range, each decoded once and then
   * served from the file cache; the filter values are compared in JS and never reach SQL text.
   */
  async query (snapshot: GoldSnapshot, from: number, to: number, filters: Filters, granularity: GoldGranularity = 'hour'): Promise<PartialRow[]> {
    const state = this.#stateOf(snapshot)
    if (!(from < to)) return []
    if (granularity === 'hour') return await this.#rows(pruneByDate(state.files, bounded(from), bounded(to)), from, to, filters)
    // whole days with daily gold come from it; the rest is rolled up from hourly rows
    const out: PartialRow[] = []
    const hourlyRanges: Array<[number, number]> = []
    const dailyPaths: string[] = []
    const lo = bounded(from); const hi = bounded(to)
    const firstDay = Number.isFinite(lo) ? Math.floor(lo / DAY_MS) * DAY_MS : -Infinity
    if (!Number.isFinite(firstDay) || !Number.isFinite(hi) || (hi - firstDay) / DAY_MS > 100_000) {
      hourlyRanges.push([from, to]) // unbounded: no day-by-day walk
    } else {
      for (let day = firstDay; day < hi; day += DAY_MS) {
        const a = Math.max(day, from); const b = Math.min(day + DAY_MS, to)
        const whole = a === day && b === day + DAY_MS
        const daily = whole ? state.daily.get(utcDate(day)) : undefined
        if (daily !== undefined) dailyPaths.push(...daily)
        else {
          const last = hourlyRanges[hourlyRanges.length - 1]
          if (last !== undefined && last[1] === a) last[1] = b; else hourlyRanges.push([a, b])
        }
      }
    }
    if (dailyPaths.length > 0) out.push(...await this.#rows(dailyPaths, from, to, filters))
    for (const [a, b] of hourlyRanges) {
      const byDay = new Map<string, PartialRow>()
      for (const r of await this.#rows(pruneByDate(state.files, bounded(a), bounded(b)), a, b, filters)) {
        const ws = Math.floor(r.window_start / DAY_MS) * DAY_MS
        const key = `${ws}\u0000${r.event_type}\u0000${r.region}`
        const cur = byDay.get(key)
        if (cur === undefined) byDay.set(key, { ...r, window_start: ws, partials: clonePartials(r.partials) })
        else mergePartials(cur.partials, r.partials)
      }
      out.push(...byDay.values())
    }
    return out.sort((a, b) => a.window_start - b.window_start || cmp(a.event_type, b.event_type) || cmp(a.region, b.region))
  }

  async #rows (paths: string[], from: number, to: number, filters: Filters): Promise<PartialRow[]> {
    if (paths.length === 0) return []
    const datas = await Promise.all(paths.map((p) => this.#cache.get(p, this.#load)))
    // in slices: a long range does not hold the event loop for all of its rows at once
    const out = await runSliced(fileRows(datas, from, to, filters))
    if (datas.length > 1) out.sort((a, b) => a.window_start - b.window_start || cmp(a.event_type, b.event_type) || cmp(a.region, b.region))
    return out
  }

  /** The top entities of the hourly rows in [from, to) (gold-entities.ts), read from the files whose date meets the range. */
  async topEntities (snapshot: GoldSnapshot, from: number, to: number, filters: Filters, limit: number): Promise<EntityCount[]> {
    const state = this.#stateOf(snapshot)
    const files = pruneByDate(state.files, bounded(from), bounded(to)).map((path) => ({ path, partitionValues: this.#partitionValues.get(path) }))
    return await readTopEntities(this.#conn(), files, from, to, filters, limit)
  }

  readonly #load = (path: string): Promise<GoldFileData> => loadGoldFile(this.#conn(), path, this.#partitionValues.get(path))

  dimensions (snapshot: GoldSnapshot): Promise<Dimensions> {
    const state = this.#stateOf(snapshot)
    if (state.dimensions === undefined) {
      const p = this.#loadDimensions(state)
      state.dimensions = p
      // a failed load is not cached
      p.catch(() => { if (state.dimensions === p) state.dimensions = undefined })
    }
    return state.dimensions
  }

  async #loadDimensions (state: State): Promise<Dimensions> {
    const types = new Set<string>()
    const regions = new Set<string>()
    let files = state.files.map((f) => f.path)
    const base = state.dimensionsBase
    state.dimensionsBase = undefined // never a chain of old states
    if (base !== undefined) {
      try {
        const d = await base.dimensions
        d.event_types.forEach((t) => types.add(t))
        d.regions.forEach((r) => regions.add(r))
        files = base.added
      } catch {
        // fall back to reading every file
      }
    }
    if (files.length > 0) {
      const rows = await this.#conn().exclusive(async (raw) => (await raw.runAndReadAll(
        'SELECT DISTINCT event_type, region FROM read_parquet($files::VARCHAR[], hive_partitioning = false)',
        { files: listValue(files) })).getRowsJS())
      for (const r of rows) {
        types.add(r[0] as string)
        regions.add(r[1] as string)
      }
    }
    return { event_types: [...types].sort(), regions: [...regions].sort() }
  }

  /** Stop polling, let statements in flight (e.g. a prefetch) finish, release the connections. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    const conns = this.#conns.splice(0)
    await Promise.all(conns.map((c) => c.idle()))
    if (!this.#db.closed) for (const c of conns) this.#db.release(c)
    await this.#ownSource?.close()
  }
}

/** The partial rows of decoded gold files in [from, to) that pass the filters, in steps. */
function * fileRows (datas: readonly GoldFileData[], from: number, to: number, filters: Filters): Steps<PartialRow[]> {
  const types = filters.event_type !== undefined && filters.event_type.length > 0 ? new Set(filters.event_type) : null
  const regions = filters.region !== undefined && filters.region.length > 0 ? new Set(filters.region) : null
  const out: PartialRow[] = []
  for (const d of datas) {
    for (let i = lowerBound(d.windowStart, from); i < d.rows; i++) {
      const ws = d.windowStart[i] as number
      if (ws >= to) break
      const et = d.eventType[i] as string
      const rg = d.region[i] as string
      if ((types !== null && !types.has(et)) || (regions !== null && !regions.has(rg))) continue
      const response: Sketch = new Map()
      for (let j = d.binStart[i] as number, end = d.binStart[i + 1] as number; j < end; j++) {
        const b = d.bins[j] as number
        response.set(b, (response.get(b) ?? 0) + (d.counts[j] as number))
      }
      out.push({
        window_start: ws,
        event_type: et,
        region: rg,
        partials: {
          events: d.events[i] as number,
          latency_sum: d.latencySum[i] as number,
          latency_count: d.latencyCount[i] as number,
          revenue_cents: d.revenueCents[i] as number,
          response,
          sentiment_sum: d.sentimentSum[i] as number,
          sentiment_count: d.sentimentCount[i] as number,
          sentiment_positive: d.sentimentPositive[i] as number,
          sentiment_neutral: d.sentimentNeutral[i] as number,
          sentiment_negative: d.sentimentNegative[i] as number
        }
      })
      if (out.length % STEP === 0) yield
    }
  }
  return out
}

function cmp (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** First index with windowStart[i] ≥ t (rows are sorted by window_start). */
function lowerBound (a: Float64Array, t: number): number {
  let lo = 0; let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((a[mid] as number) < t) lo = mid + 1; else hi = mid
  }
  return lo
}

/** Instants beyond what a Date can hold (±8.64e15 ms) read as unbounded. */
function bounded (t: number): number {
  return t > 8.64e15 ? Infinity : t < -8.64e15 ? -Infinity : t
}

/** Files whose date= folder intersects [from, to) (UTC dates); files without one always stay. */
export function pruneByDate (files: readonly GoldFile[], from: number, to: number): string[] {
  const first = Number.isFinite(from) ? utcDate(from) : '0000-00-00'
  const last = Number.isFinite(to) ? utcDate(to - 1) : '9999-99-99'
  return files.filter((f) => f.date === null || (f.date >= first && f.date <= last)).map((f) => f.path)
}
