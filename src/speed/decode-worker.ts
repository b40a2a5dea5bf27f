// A decode thread of the pool (decode-pool.ts): packed record bytes in, validated columns out, their
// typed arrays moved back rather than copied.
import { move, transferableSymbol, valueSymbol } from 'piscina'
import type { ValueDecoding } from './decode-avro.js'
import { columnBuffers, decodeColumns, type PackedRecords } from './decode-columns.js'

export interface DecodeTask extends PackedRecords {
  now: number
  /** absent: JSON */
  decoding?: ValueDecoding
}

export default function decode (task: DecodeTask): unknown {
  const columns = decodeColumns(task, task.now, task.decoding)
  return move({
    get [transferableSymbol] () { return columnBuffers(columns) },
    get [valueSymbol] () { return columns }
  })
}
