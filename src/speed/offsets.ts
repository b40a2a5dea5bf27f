// Kafka offsets are int64: they travel as decimal strings and are compared as BigInt, never as
// strings ("9" > "10") or doubles (2^53 + 1 === 2^53).

const OFFSET = /^-?\d{1,19}$/

/** An int64 offset as a BigInt; throws a TypeError on anything else. */
export function parseOffset (offset: string): bigint {
  if (typeof offset !== 'string' || !OFFSET.test(offset)) throw new TypeError(`offset must be a decimal int64 string, got ${JSON.stringify(offset)}`)
  return BigInt(offset)
}
