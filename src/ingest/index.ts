// Record sources: the synthetic traffic generator and the JSON Lines file source.
export { FileSource, type FileSourceOptions } from './file-source.js'
export type { BatchHandler, RawBatch, RawRecord, RecordSource } from './source.js'
export {
  diurnalFactor, EVENT_TYPES, generateHistory, type HistoryBatch, type HistoryOptions,
  type HistoryRecord, LATE_MAX_MS, LATE_MIN_MS, LiveTraffic, type LiveTrafficOptions, prng, REGIONS, type Shares, sharesOf,
  SyntheticSource, type SyntheticSourceOptions, TrafficGenerator, type TrafficOptions
} from './synthetic.js'
