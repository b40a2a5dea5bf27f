// The merge rule (docs/design.md): cut a query at the batch boundary B and say, before reading any
// data, which layer serves which range and what is missing. Pure: no I/O.
import { errors, type Coverage, type Gap, type Granularity, iso, BUCKET_MS, bucketStart, MINUTE_MS, type SourceRange } from '../model/index.js'

export interface Range { from: number, to: number }

export interface PlanInput {
  from: number
  to: number
  granularity: Granularity
  /** gold complete_until (null: no gold) */
  boundary: number | null
  /** first hour gold covers (null: unknown, assume all history) */
  historyFrom: number | null
  speed: Coverage
  now: number
  /** the speed layer counts as behind when its newest event is older than this, ms */
  speedStaleMs: number
  /** the speed layer holds only some partitions' windows (a memory store in a group of several processes) */
  speedPartial?: boolean
}

export interface Plan {
  from: number
  to: number
  batch: Range | null
  speed: Range | null
  sources: SourceRange[]
  gaps: Gap[]
}

/** Align [from, to) outward to the granularity. */
export function alignRange (from: number, to: number, g: Granularity): Range {
  const start = bucketStart(from, g)
  const endFloor = bucketStart(to, g)
  return { from: start, to: endFloor === to ? to : endFloor + BUCKET_MS[g] }
}

function gap (from: number, to: number, reason: Gap['reason']): Gap {
  return { from: iso(from), to: iso(to), reason }
}

export function planQuery (input: PlanInput): Plan {
  const { from, to } = alignRange(input.from, input.to, input.granularity)
  const B = input.boundary
  const sources: SourceRange[] = []
  const gaps: Gap[] = []

  let batch: Range | null = null
  if (B !== null && from < Math.min(to, B)) {
    batch = { from, to: Math.min(to, B) }
    if (input.granularity === 'minute') {
      throw new errors.HG_ERR_MINUTE_NOT_AVAILABLE(iso(B), iso(from))
    }
    sources.push({ layer: 'batch', from: iso(batch.from), to: iso(batch.to) })
    if (input.historyFrom !== null && batch.from < input.historyFrom) {
      gaps.push(gap(batch.from, Math.min(batch.to, input.historyFrom), 'before_history'))
    }
  }

  let speed: Range | null = null
  const speedFrom = B === null ? from : Math.max(from, B)
  if (speedFrom < to) {
    speed = { from: speedFrom, to }
    sources.push({ layer: 'speed', from: iso(speedFrom), to: iso(to) })
    const until = Math.min(to, Math.max(input.now, speedFrom))
    const covered = input.speed.coveredFrom
    if (covered === null) {
      if (speedFrom < until) gaps.push(gap(speedFrom, until, 'speed_not_covered'))
    } else {
      if (speedFrom < Math.min(covered, until)) gaps.push(gap(speedFrom, Math.min(covered, until), 'speed_not_covered'))
      const newest = input.speed.maxEventTime
      const behind = newest === null || input.now - newest > input.speedStaleMs
      if (behind) {
        // what the speed layer has not caught up with yet, from its newest minute on
        const caughtUp = newest === null ? covered : Math.max(covered, bucketStart(newest, 'minute') + MINUTE_MS)
        const start = Math.max(speedFrom, caughtUp)
        if (start < until) gaps.push(gap(start, until, 'speed_behind'))
      }
    }
    if (input.speedPartial === true && speedFrom < until) gaps.push(gap(speedFrom, until, 'speed_partial'))
  }
  return { from, to, batch, speed, sources, gaps }
}
