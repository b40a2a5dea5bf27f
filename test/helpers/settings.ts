// The settings as a start with no flags and no HOURGLASS_* variables has them: the defaults of the
// config schema (src/config.ts), the one place they are written. Tests that build a module "as
// configured by default" take its values from here.
import { type Config, loadConfig } from '../../src/config.js'
import { sharesOf } from '../../src/ingest/index.js'

export const DEFAULTS: Readonly<Config> = Object.freeze(loadConfig({}))

/** What every speed store takes: retention and dedup window. */
export const STORE_DEFAULTS = { retentionMs: DEFAULTS.retentionMs, dedupWindowMs: DEFAULTS.dedupWindowMs } as const

/** What a speed pipeline takes besides its store. */
export const PIPELINE_DEFAULTS = {
  dedupWindowMs: DEFAULTS.dedupWindowMs,
  allowedLatenessMs: DEFAULTS.allowedLatenessMs,
  deadLetterKeep: DEFAULTS.deadLetterKeep
} as const

/** What a bronze sink takes besides its folder and database. */
export const SINK_DEFAULTS = { flushMs: DEFAULTS.bronzeFlushMs, maxBuffered: DEFAULTS.bronzeFlushEvents } as const

/** The query limits a service is built with. */
export const LIMITS_DEFAULTS = {
  maxBuckets: DEFAULTS.maxBuckets,
  maxRangeDays: DEFAULTS.maxRangeDays,
  maxFilterValues: DEFAULTS.maxFilterValues,
  retentionMs: DEFAULTS.retentionMs
} as const

/** The shares of synthetic duplicates, late and invalid records. */
export const SHARES_DEFAULTS = sharesOf(DEFAULTS)
