// SQL fragments built from our own constants: the DDSketch bin of src/model/sketch.ts in DuckDB,
// and the quantile rank rule of sketchQuantile. Only identifiers and numbers from this codebase
// are put into SQL text here; every outside value is bound as a parameter.
import { LN_GAMMA, ZERO_BIN } from '../model/sketch.js'

/**
 * A finite JS double as a DuckDB DOUBLE expression with exactly the same value.
 *
 * `String(x)` is the shortest decimal that reads back as the same double, and DuckDB parses a
 * string cast to DOUBLE with correct rounding, so the round trip is exact. A bare literal would
 * not do: DuckDB reads `0.01` as DECIMAL, and `ln((1 + 0.01) / (1 - 0.01))` would then be decimal
 * arithmetic followed by DuckDB's own `ln`, which may differ from V8's `Math.log(GAMMA)` in the
 * last bit and shift every bin edge.
 */
export function sqlDouble (x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`)
  return `CAST('${String(x)}' AS DOUBLE)`
}

/** ln γ, γ = (1 + α)/(1 − α), α = RELATIVE_ACCURACY: the same double as model LN_GAMMA. */
export const SQL_LN_GAMMA = sqlDouble(LN_GAMMA)

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

function ident (column: string): string {
  if (!IDENT.test(column)) throw new Error(`not a plain column name: ${column}`)
  return column
}

/**
 * The DDSketch bin of `column` (a DOUBLE ≥ 0, in ms), identical to model binOf:
 * x = 0 → ZERO_BIN; x > 0 → ceil(ln x / ln γ); NULL → NULL.
 * `Math.log(x) / LN_GAMMA` in V8 and `ln(x) / LN_GAMMA` in DuckDB are the same IEEE division of
 * the same divisor; only the natural log may differ in the last bit, which moves a value that sits
 * exactly on a bin edge (x = γ^i) by one bin (see test/sketch-sql.test.ts).
 */
export function sqlBinOf (column: string): string {
  const c = ident(column)
  return `CASE WHEN ${c} = 0 THEN ${ZERO_BIN} ELSE CAST(ceil(ln(${c}) / ${SQL_LN_GAMMA}) AS INTEGER) END`
}

/**
 * The rank of the q-quantile among `total` values, as model sketchQuantile computes it:
 * floor(q·(total − 1)) with q and the product in doubles (q = 0.95 is not exact in binary; a
 * DECIMAL 0.95 would differ from JS for some totals).
 */
export function sqlQuantileRank (q: number, totalColumn: string): string {
  return `floor(${sqlDouble(q)} * CAST(${ident(totalColumn)} - 1 AS DOUBLE))`
}


/** The gold column type of a response sketch. */
export const SQL_BINS_TYPE = 'STRUCT(bin INTEGER, n BIGINT)[]'
