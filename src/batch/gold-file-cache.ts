// Decoded gold files, kept in memory in columnar typed arrays.
//
// A gold file never changes once a gold version holds it (a rebuild writes a new file under a new
// name), so its decoded rows can be cached by path for as long as memory allows. Reading a day of
// gold through DuckDB costs a few ms of Parquet decoding plus ~10 ms of turning ~100k sketch bins
// into JS values; a cached day answers in well under a millisecond. The cache is bounded by the
// number of sketch bins it holds (≈ 12 bytes each) and evicts the least recently used file.
import { DuckDBDoubleVector, DuckDBIntegerVector, DuckDBListVector, DuckDBVarCharVector } from '@duckdb/node-api'
import { LRUCache } from 'lru-cache'
import { TOP_ENTITIES_PER_ROW } from '../model/entities.js'
import type { Conn } from './duckdb.js'

export interface GoldFileData {
  rows: number
  /** window_start, epoch ms */
  windowStart: Float64Array
  eventType: string[]
  region: string[]
  events: Float64Array
  latencySum: Float64Array
  latencyCount: Float64Array
  revenueCents: Float64Array
  /** the sentiment partials (0 in gold written before they were kept) */
  sentimentSum: Float64Array
  sentimentCount: Float64Array
  sentimentPositive: Float64Array
  sentimentNeutral: Float64Array
  sentimentNegative: Float64Array
  /** the bins of row i are bins[binStart[i] .. binStart[i+1]) with counts at the same places */
  binStart: Uint32Array
  bins: Int32Array
  counts: Float64Array
}

/** A gold column's type when its value comes from a partition value (a string) instead of the file. */
const PARTITION_TYPES: Record<string, string> = {
  window_start: 'TIMESTAMPTZ',
  event_type: 'VARCHAR',
  region: 'VARCHAR',
  total_events: 'BIGINT',
  latency_sum: 'DOUBLE',
  latency_count: 'BIGINT',
  revenue_cents: 'BIGINT',
  sentiment_sum: 'DOUBLE',
  sentiment_count: 'BIGINT',
  sentiment_positive: 'BIGINT',
  sentiment_neutral: 'BIGINT',
  sentiment_negative: 'BIGINT'
}

/** The sentiment columns: gold written before them (or by an engine that has none) reads them as 0. */
export const GOLD_SENTIMENT_COLUMNS = ['sentiment_sum', 'sentiment_count', 'sentiment_positive', 'sentiment_neutral', 'sentiment_negative'] as const

/** Gold keeps the most frequent entities of each row (hour or day × event_type × region), at most this many. */
export const TOP_ENTITIES = TOP_ENTITIES_PER_ROW
export const TOP_ENTITIES_TYPE = 'STRUCT(entity VARCHAR, n BIGINT)[]'

/**
 * Gold files as a relation that has the enrichment columns (sentiment partials, top_entities) whether the files hold
 * them or not (a missing one is NULL): `files` is a read_parquet(…) call.
 */
export function withEnrichmentColumns (files: string): string {
  const missing = GOLD_SENTIMENT_COLUMNS.map((c) => `CAST(NULL AS ${PARTITION_TYPES[c] as string}) AS ${c}`).join(', ')
  return `(SELECT * FROM ${files} UNION ALL BY NAME (SELECT ${missing}, CAST(NULL AS ${TOP_ENTITIES_TYPE}) AS top_entities WHERE false))`
}

/**
 * The gold columns a table keeps in partition values rather than in the file (a Delta table partitioned by region), as
 * bound parameters `$<prefix><column>` cast to their gold type ('' is null); `col(name)` is the column's SQL: that
 * cast, or the file's column. Only our own names reach SQL text.
 */
export function partitionColumns (partitionValues: Record<string, string | null> | undefined, prefix: string): {
  col: (name: string) => string, params: Record<string, string | null>
} {
  const params: Record<string, string | null> = {}
  for (const [k, v] of Object.entries(partitionValues ?? {})) if (k in PARTITION_TYPES) params[prefix + k] = v === '' ? null : v
  const col = (name: string): string => prefix + name in params ? `CAST($${prefix}${name} AS ${PARTITION_TYPES[name] as string})` : name
  return { col, params }
}

/** The load statement, each column through `col` (partitionColumns). */
function loadSql (col: (name: string) => string): string {
  return `SELECT CAST(epoch_ms(${col('window_start')}) AS DOUBLE), ${col('event_type')}, ${col('region')},
       CAST(${col('total_events')} AS DOUBLE), CAST(${col('latency_sum')} AS DOUBLE), CAST(${col('latency_count')} AS DOUBLE),
       CAST(${col('revenue_cents')} AS DOUBLE),
       coalesce(list_transform(response_bins, s -> CAST(s.bin AS INTEGER)), []),
       coalesce(list_transform(response_bins, s -> CAST(s.n AS DOUBLE)), []),
       ${GOLD_SENTIMENT_COLUMNS.map((c) => `CAST(coalesce(${col(c)}, 0) AS DOUBLE)`).join(', ')}
FROM ${withEnrichmentColumns('read_parquet($file, hive_partitioning = false)')}
ORDER BY 1, 2, 3`
}

function column<T> (chunk: { getColumnVector (i: number): unknown }, i: number, type: abstract new (...args: never[]) => T): T {
  const v = chunk.getColumnVector(i)
  if (!(v instanceof type)) throw new Error(`gold file: unexpected vector type in column ${i}`)
  return v
}

/**
 * Read one gold file through DuckDB into columnar arrays. `partitionValues`: gold columns a table
 * keeps in its partition values rather than in the file (a Delta table partitioned by region), as text.
 */
export async function loadGoldFile (conn: Conn, path: string, partitionValues: Record<string, string | null> = {}): Promise<GoldFileData> {
  const { col, params } = partitionColumns(partitionValues, 'p_')
  return await conn.exclusive(async (raw) => {
    const result = await raw.run(loadSql(col), { file: path, ...params })
    const ws: number[] = []; const et: string[] = []; const rg: string[] = []
    const ev: number[] = []; const ls: number[] = []; const lc: number[] = []; const rc: number[] = []
    const start: number[] = [0]; const bins: number[] = []; const counts: number[] = []
    const sentiment: number[][] = GOLD_SENTIMENT_COLUMNS.map(() => [])
    for (;;) {
      const chunk = await result.fetchChunk()
      if (chunk === null || chunk.rowCount === 0) break
      const cWs = column(chunk, 0, DuckDBDoubleVector)
      const cEt = column(chunk, 1, DuckDBVarCharVector)
      const cRg = column(chunk, 2, DuckDBVarCharVector)
      const cEv = column(chunk, 3, DuckDBDoubleVector)
      const cLs = column(chunk, 4, DuckDBDoubleVector)
      const cLc = column(chunk, 5, DuckDBDoubleVector)
      const cRc = column(chunk, 6, DuckDBDoubleVector)
      const cB = column(chunk, 7, DuckDBListVector)
      const cN = column(chunk, 8, DuckDBListVector)
      const bChild = cB.childVector
      const nChild = cN.childVector
      if (!(bChild instanceof DuckDBIntegerVector) || !(nChild instanceof DuckDBDoubleVector)) throw new Error('gold file: unexpected response_bins layout')
      const cS = sentiment.map((_, k) => column(chunk, 9 + k, DuckDBDoubleVector))
      for (let i = 0; i < chunk.rowCount; i++) {
        ws.push(cWs.getItem(i) as number)
        et.push(cEt.getItem(i) as string)
        rg.push(cRg.getItem(i) as string)
        ev.push(cEv.getItem(i) ?? 0)
        ls.push(cLs.getItem(i) ?? 0)
        lc.push(cLc.getItem(i) ?? 0)
        rc.push(cRc.getItem(i) ?? 0)
        const bo = cB.getEntryOffset(i); const no = cN.getEntryOffset(i)
        const len = cB.getEntryLength(i)
        for (let j = 0; j < len; j++) {
          bins.push(bChild.getItem(bo + j) as number)
          counts.push(nChild.getItem(no + j) as number)
        }
        start.push(bins.length)
        for (let k = 0; k < cS.length; k++) (sentiment[k] as number[]).push((cS[k] as DuckDBDoubleVector).getItem(i) ?? 0)
      }
    }
    return {
      rows: ws.length,
      windowStart: Float64Array.from(ws),
      eventType: et,
      region: rg,
      events: Float64Array.from(ev),
      latencySum: Float64Array.from(ls),
      latencyCount: Float64Array.from(lc),
      revenueCents: Float64Array.from(rc),
      sentimentSum: Float64Array.from(sentiment[0] as number[]),
      sentimentCount: Float64Array.from(sentiment[1] as number[]),
      sentimentPositive: Float64Array.from(sentiment[2] as number[]),
      sentimentNeutral: Float64Array.from(sentiment[3] as number[]),
      sentimentNegative: Float64Array.from(sentiment[4] as number[]),
      binStart: Uint32Array.from(start),
      bins: Int32Array.from(bins),
      counts: Float64Array.from(counts)
    }
  })
}

type Loader = (path: string) => Promise<GoldFileData>

/** LRU of decoded gold files by path, bounded by the bins held. Concurrent loads of a file share one read. */
export class GoldFileCache {
  readonly #entries: LRUCache<string, GoldFileData, Loader>

  constructor (maxBins = 8_000_000) {
    this.#entries = new LRUCache<string, GoldFileData, Loader>({
      maxSize: maxBins,
      sizeCalculation: (data) => Math.max(1, data.bins.length + data.rows),
      fetchMethod: async (path, _stale, { context }) => await context(path),
      // a file still loading when evicted is handed to its readers all the same (just not kept)
      ignoreFetchAbort: true
    })
  }

  /** The file's data, loaded by `load` unless held or loading; a failed load is not kept. */
  get (path: string, load: Loader): Promise<GoldFileData> {
    return this.#entries.forceFetch(path, { context: load })
  }

  get size (): number {
    return this.#entries.size
  }

  /** sketch bins (plus one per row) held */
  get heldBins (): number {
    return this.#entries.calculatedSize
  }
}
