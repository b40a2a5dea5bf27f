// A decode thread of the pool (decode-pool.ts): packed record bytes in, validated columns out, their
// typed arrays moved back rather than copied.
import { move, transferableSymbol, valueSymbol } from 'piscina'
import { columnBuffers, decodeColumns, type PackedRecords } from './decode-columns.js'

export interface DecodeTask extends PackedRecords {
  now: number
}

export default function decode (task: DecodeTask): unknown {
  const columns = decodeColumns(task, task.now)
  return move({
    get [transferableSymbol] () { return columnBuffers(columns) },
    get [valueSymbol] () { return columns }
  })
}
