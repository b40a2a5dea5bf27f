// One reconciliation pass, run by the composition root after each gold version it publishes (and
// at start, and now and then for versions other writers publish): the hours of the gold in force
// that the speed ledger holds are compared (src/merger/reconcile.ts), the comparable ones go to the
// log, and the ledger forgets what gold now holds, so every hour is compared once.
import { HOUR_MS, type GoldSource } from '../model/index.js'
import { type HourOutcome, reconcileHours } from './reconcile.js'
import type { ReconciliationLog } from './reconciliation-log.js'
import type { SpeedLedger } from './speed-ledger.js'

export interface ReconcileGoldOptions {
  gold: GoldSource
  ledger: SpeedLedger
  log: ReconciliationLog
}

/**
 * Capture the speed ledger, compare every hour before the gold boundary it (even partly) holds,
 * record the comparable ones, and release the ledger up to the boundary (hours the speed side has
 * not closed yet stay for the next pass). Returns every outcome, the not comparable ones included.
 */
export async function reconcileGold ({ gold, ledger, log }: ReconcileGoldOptions): Promise<HourOutcome[]> {
  await ledger.capture()
  const snapshot = gold.snapshot()
  const coverage = ledger.coverage()
  if (snapshot === null || snapshot.completeUntil === null || coverage.coveredFrom === null) return []
  const boundary = snapshot.completeUntil
  const first = Math.max(Math.floor(coverage.coveredFrom / HOUR_MS) * HOUR_MS, snapshot.completeFrom ?? -Infinity)
  const hours: number[] = []
  for (let h = first; h + HOUR_MS <= boundary; h += HOUR_MS) hours.push(h)
  if (hours.length === 0) return []
  const from = hours[0] as number
  const to = boundary
  const outcomes = reconcileHours({
    hours,
    gold: await gold.query(snapshot, from, to, {}),
    speed: ledger.rows(from, to),
    coverage,
    batchVersion: snapshot.version
  })
  log.add(outcomes.flatMap((o) => o.comparable ? [o.reconciliation] : []))
  // hours the speed layer has not closed yet stay, to be compared once it has
  const closed = coverage.closedUntil === null ? from : Math.floor(coverage.closedUntil / HOUR_MS) * HOUR_MS
  ledger.release(Math.min(boundary, closed))
  return outcomes
}
