// The speed store contract (docs/design.md, "Speed store"), the same for every backend.
import type { PartialRow } from './partials.js'
import type { Filters } from './query.js'

/** Where a consumed batch came from: a Kafka partition and the last offset in the batch. */
export interface SourcePosition {
  topic: string
  partition: number
  /** decimal string (Kafka offsets are int64) */
  offset: string
}

/** The window deltas of one consumed batch, applied atomically with its source position. */
export interface ApplyBatch {
  deltas: PartialRow[]
  position: SourcePosition
  /**
   * the offset this batch was computed after, as the writer read it from the store (null: the
   * store had none). When given, the store applies the batch only if its position for the
   * partition is still exactly that (compare-and-set): two consumers that briefly both own a
   * partition during a rebalance cannot count the same records twice.
   */
  previous?: string | null
  /** the speed layer's watermark after this batch (epoch ms), if it moved */
  watermark?: number
  /** the newest event time in this batch (epoch ms) */
  maxEventTime?: number
  /**
   * dedup keys (dedupKey(event_id, ts)) of the events this batch admitted: the store remembers them
   * for the dedup window, atomically with the deltas, so a duplicate arriving after a crash and
   * restart is still recognised (see `seen`)
   */
  dedupKeys?: string[]
}

/** The key under which an event is deduplicated: its event_id and its event time. */
export function dedupKey (eventId: string, ts: number): string {
  return ts + '|' + eventId
}

/** What SpeedStore.applyUnseen did: applied, or not, because of the dedup keys at these indexes (none: as apply()). */
export interface UnseenApply {
  applied: boolean
  seen: number[]
}

export interface Coverage {
  /** oldest and newest minute window held (window_start, epoch ms) */
  oldest: number | null
  newest: number | null
  watermark: number | null
  /** newest event time applied */
  maxEventTime: number | null
  /** event time from which the store holds every on-time event (after eviction: ≥ now − retention) */
  coveredFrom: number | null
}

export interface SpeedStore {
  readonly kind: string
  /**
   * Whether the store records dedup keys for processes to come (ApplyBatch.dedupKeys, seen). A
   * store that outlives its writer (Redis, Cosmos DB) does: a restarted or new consumer asks it.
   * One that lives and dies with its single writer (memory) need not: every key it could hold,
   * the writer's own in-memory dedup has already seen, so the pipeline neither builds the keys
   * nor asks (seen() must still answer correctly for what was recorded).
   */
  readonly keepsDedupKeys: boolean
  /**
   * Apply one batch. Idempotent: a batch whose position is not newer than the last one applied
   * for its (topic, partition), or whose `previous` is not the stored position, changes nothing.
   * Returns true when it was applied.
   */
  apply (batch: ApplyBatch): Promise<boolean>
  /** partial rows whose window_start lies in [from, to), filtered */
  query (from: number, to: number, filters: Filters): Promise<PartialRow[]>
  coverage (): Promise<Coverage>
  /** last applied offset for a partition, or null when the store has none */
  position (topic: string, partition: number): Promise<string | null>
  /** declare that the store holds every on-time event from `t` on (a consumer that rebuilt it says so) */
  setCoveredFrom (t: number): Promise<void>
  /**
   * For each key, whether an applied batch recorded it (ApplyBatch.dedupKeys) within the dedup
   * window. The pipeline asks before it counts a batch: dedup that survives a crash.
   */
  seen (keys: readonly string[]): Promise<boolean[]>
  /**
   * Optional: seen() and apply() in one step (one round trip). When none of the batch's dedup keys is
   * recorded, as apply(); else nothing changes and `seen` holds the indexes of the recorded ones.
   */
  applyUnseen?: (batch: ApplyBatch) => Promise<UnseenApply>
  /**
   * A token for the rows with window_start in [from, to): it changes whenever they may have changed
   * and, once changed, never comes back. The metrics service keeps rolled-up speed parts and answers
   * between queries behind it.
   */
  changeToken (from: number, to: number): Promise<string>
  close (): Promise<void>
}
