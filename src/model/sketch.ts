// DDSketch with a logarithmic mapping (docs/design.md, "Partials and the sketch").
// A value x > 0 goes to bin ceil(ln x / ln γ), x = 0 to ZERO_BIN; bin i stands for 2γ^i/(γ+1).
// The batch SQL (src/batch/sql.ts) computes the same bins; keep the two in step.

export const RELATIVE_ACCURACY = 0.01
export const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
export const LN_GAMMA = Math.log(GAMMA)
export const ZERO_BIN = -32768

/** bin index → count */
export type Sketch = Map<number, number>

export function binOf (x: number): number {
  if (x === 0) return ZERO_BIN
  return Math.ceil(Math.log(x) / LN_GAMMA)
}

export function binValue (bin: number): number {
  if (bin === ZERO_BIN) return 0
  return (2 * Math.pow(GAMMA, bin)) / (GAMMA + 1)
}

export function sketchAdd (s: Sketch, x: number, n = 1): void {
  const b = binOf(x)
  s.set(b, (s.get(b) ?? 0) + n)
}

export function sketchMerge (into: Sketch, from: Sketch): void {
  for (const [b, n] of from) into.set(b, (into.get(b) ?? 0) + n)
}

export function sketchCount (s: Sketch): number {
  let n = 0
  for (const c of s.values()) n += c
  return n
}

/**
 * The q-quantile (0 ≤ q ≤ 1): the value of the bin holding the element of rank floor(q·(n−1))
 * in sorted order, so it is within RELATIVE_ACCURACY of that element. null for an empty sketch.
 */
export function sketchQuantile (s: Sketch, q: number): number | null {
  const total = sketchCount(s)
  if (total === 0) return null
  const rank = Math.floor(q * (total - 1))
  const bins = [...s.keys()].sort((a, b) => a - b)
  let seen = 0
  for (const b of bins) {
    seen += s.get(b) ?? 0
    if (seen > rank) return binValue(b)
  }
  return binValue(bins[bins.length - 1] as number)
}

export interface SketchBin { bin: number, n: number }

export function sketchToBins (s: Sketch): SketchBin[] {
  return [...s.entries()].sort((a, b) => a[0] - b[0]).map(([bin, n]) => ({ bin, n }))
}

export function sketchFromBins (bins: Iterable<SketchBin>): Sketch {
  const s: Sketch = new Map()
  for (const { bin, n } of bins) s.set(bin, (s.get(bin) ?? 0) + n)
  return s
}
