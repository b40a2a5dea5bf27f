// Bronze compaction: the small files of one hour (one per flush and partition) merged into one sorted file, safe while
// the batch job reads. The compacted file, named for every offset range it covers, is renamed into place first; only
// then are the files it covers removed. A run that reads both counts each event once (the batch dedups by
// (event_id, event_time), keeping the lowest source position, as compaction does), and the hour's fingerprint is
// unchanged. A crash in between leaves duplicates on disk that the next compaction removes; no event is ever in no file.
import { rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import { HOUR_MS, iso } from '../model/time.js'
import { tempPathFor } from './atomic-file.js'
import { bronzeFiles } from './bronze-columns.js'
import { compactedName, covers, isCompactedName, type OffsetRange, packCompacted, parseBronzeName, unionRanges } from './bronze-coverage.js'
import { bronzeWatermark, listBronzeHours } from './bronze-layout.js'
import { type Db, num } from './duckdb.js'
import { acquireLock, compactionLockPath, type LockOptions } from './lock.js'

export interface CompactOptions {
  dataDir: string
  db: Db
  /** compact this hour only (its start, epoch ms) */
  hour?: number
  /** compact every hour; default: the hours that ended before the bronze watermark */
  all?: boolean
  /** compact an hour once it has at least this many files (default 2) */
  minFiles?: number
  onProgress?: (line: string) => void
  /** the compaction lock (bronze/_compact.lock); false only in tests */
  lock?: boolean | LockOptions
  /** test seam: after a compacted file is in place, before the files it covers are removed */
  afterWrite?: (compacted: string, covered: string[]) => void | Promise<void>
}

export interface CompactSummary {
  /** hours that had files merged or cleaned up */
  hours: number
  /** compacted files written (absolute paths) */
  written: string[]
  /** small files removed */
  removed: number
  /** events in the files written (after dedup) */
  events: number
  elapsedMs: number
  /** set when another compaction holds the lock */
  busy?: string
}

const COPY_COMPACTED = `COPY (
  SELECT event_id, event_time, event_type, region, processing_time, response_time, revenue_cents, user_id,
         src_topic, src_partition, src_offset, text, sentiment_score, sentiment_label, entities
  FROM ${bronzeFiles()}
  QUALIFY row_number() OVER (PARTITION BY event_id, event_time ORDER BY src_topic, src_partition, src_offset) = 1
  ORDER BY event_type, region, event_time, event_id
) TO $path (FORMAT parquet, COMPRESSION zstd)`

interface Parsed { path: string, ranges: OffsetRange[] }

/** One line saying what a compaction did (the CLI's and serve's progress line). */
export function describeCompaction (s: CompactSummary): string {
  if (s.busy !== undefined) return `compact: ${s.busy}; nothing done`
  return `compact: ${s.hours} hours, ${s.removed} files merged into ${s.written.length}, ` +
    `${s.events.toLocaleString('en-US')} events (${(s.elapsedMs / 1000).toFixed(1)} s)`
}

export async function compactBronze (options: CompactOptions): Promise<CompactSummary> {
  const started = performance.now()
  if (options.lock === false) return await compactNow(options, started)
  const lockOptions = typeof options.lock === 'object' ? options.lock : {}
  const r = await acquireLock(compactionLockPath(options.dataDir), { purpose: 'compact', onProgress: options.onProgress, ...lockOptions })
  if (!r.acquired) {
    options.onProgress?.(`compact: ${r.reason}; not compacting`)
    return { hours: 0, written: [], removed: 0, events: 0, elapsedMs: performance.now() - started, busy: r.reason }
  }
  try {
    return await compactNow(options, started)
  } finally {
    await r.lock.release()
  }
}

async function compactNow (options: CompactOptions, started: number): Promise<CompactSummary> {
  const { dataDir, db, onProgress } = options
  const minFiles = Math.max(2, options.minFiles ?? 2)
  let hours: Map<number, string[]>
  if (options.hour !== undefined) {
    const h = Math.floor(options.hour / HOUR_MS) * HOUR_MS
    hours = await listBronzeHours(dataDir, h, h + HOUR_MS)
  } else if (options.all === true) {
    hours = await listBronzeHours(dataDir)
  } else {
    // an hour still being written would just get more small files beside its compacted one
    const wm = await bronzeWatermark(dataDir)
    hours = wm === null ? new Map() : await listBronzeHours(dataDir, -Infinity, Math.floor(wm / HOUR_MS) * HOUR_MS)
  }
  const summary: CompactSummary = { hours: 0, written: [], removed: 0, events: 0, elapsedMs: 0 }
  const conn = await db.connect()
  try {
    for (const [hour, listed] of hours) {
      const parsed: Parsed[] = []
      for (const path of listed) {
        const ranges = parseBronzeName(path)
        if (ranges !== null) parsed.push({ path, ranges }) // files not named by us are left alone
      }
      if (parsed.length < 2) continue
      let touched = false

      // clean up after a crash between write and remove: files a compacted file already covers
      const compacted = parsed.filter((p) => isCompactedName(p.path))
      const redundant = new Set<string>()
      for (const c of compacted) {
        for (const p of parsed) if (p !== c && !redundant.has(c.path) && covers(c.ranges, p.ranges)) redundant.add(p.path)
      }
      for (const path of redundant) await rm(path, { force: true })
      if (redundant.size > 0) {
        touched = true
        summary.removed += redundant.size
        onProgress?.(`compact: ${iso(hour)}: removed ${redundant.size} file(s) an earlier compaction already covers`)
      }
      const rest = parsed.filter((p) => !redundant.has(p.path))

      if (rest.length >= minFiles) {
        for (const group of packCompacted(unionRanges(rest.flatMap((p) => p.ranges)))) {
          const inputs = rest.filter((p) => covers(group, p.ranges))
          if (inputs.length < 2) continue
          // the name is the union of what the inputs cover, never more (a file straddling two
          // groups stays as it is)
          const out = join(dirname(inputs[0]!.path), compactedName(unionRanges(inputs.flatMap((p) => p.ranges))))
          const tmp = tempPathFor(out)
          try {
            await conn.run(COPY_COMPACTED, { files: listValue(inputs.map((p) => p.path)), path: tmp })
            await rename(tmp, out)
          } catch (err) {
            await rm(tmp, { force: true })
            throw err
          }
          const n = await conn.rows('SELECT count(*) AS n FROM read_parquet($f, hive_partitioning = false)', { f: out })
          summary.events += num(n[0]?.n)
          summary.written.push(out)
          const covered = inputs.map((p) => p.path).filter((p) => p !== out)
          await options.afterWrite?.(out, covered)
          for (const p of covered) await rm(p, { force: true })
          summary.removed += covered.length
          touched = true
          onProgress?.(`compact: ${iso(hour)}: ${covered.length} files → ${basename(out)}`)
        }
      }
      if (touched) summary.hours++
    }
  } finally {
    db.release(conn)
  }
  summary.elapsedMs = performance.now() - started
  return summary
}
