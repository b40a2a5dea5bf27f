// Reconciliation: speed against batch for each hour gold publishes while the speed layer still holds
// it; the ledger keeps the store's closed minutes past its retention until then. It runs at start,
// after each batch run that published, and every reconcileIntervalMs (for gold other processes
// publish, and to read closed minutes before the store evicts them). Runs never overlap. While the
// store holds only some partitions' windows (a memory store shared by a group: speed-share.ts) no
// run is made: every hour would differ.
import type { GoldReader } from '../batch/index.js'
import { reconcileGold, type ReconciliationLog, SpeedLedger } from '../merger/index.js'
import { iso, type SpeedStore } from '../model/index.js'
import type { AppContext } from './context.js'
import type { Part } from './lifecycle.js'

export interface Reconciliation extends Part {
  readonly log: ReconciliationLog
  /** one run, after the one in progress; never rejects (a failure is logged) */
  run (): Promise<void>
  /** run every reconcileIntervalMs */
  start (): void
}

export interface ReconciliationDeps {
  gold: GoldReader
  store: SpeedStore
  /** where the runs are recorded (the server already reads it) */
  reconciliations: ReconciliationLog
  /** whether the store holds only some partitions' windows */
  partial: () => boolean
}

export async function openReconciliation (ctx: AppContext, { gold, store, reconciliations, partial }: ReconciliationDeps): Promise<Reconciliation> {
  const { config, log } = ctx
  const ledger = new SpeedLedger({ store })
  let running: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  const run = (): Promise<void> => {
    running = running.then(async () => {
      if (partial()) return
      for (const o of await reconcileGold({ gold, ledger, log: reconciliations })) {
        if (o.comparable) {
          const r = o.reconciliation
          log.info({
            hour: iso(r.hour),
            batchVersion: r.batch_version,
            speedEvents: r.speed_events,
            batchEvents: r.batch_events,
            eventsDiff: r.events_diff,
            revenueDiffCents: r.revenue_diff_cents
          }, 'reconciled speed against batch')
        } else log.debug({ hour: iso(o.notComparable.hour), reason: o.notComparable.reason }, 'hour not comparable for reconciliation')
      }
    }).catch((err: unknown) => { log.error({ err }, 'reconciliation failed') })
    return running
  }
  await run()
  return {
    name: 'reconciliation',
    log: reconciliations,
    run,
    start: () => { timer = setInterval(() => { void run() }, config.reconcileIntervalMs).unref() },
    close: async () => {
      clearInterval(timer)
      await running
    }
  }
}
