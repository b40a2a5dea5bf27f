// k6 thresholds evaluated on what `npm run load` measured: "p(99)<250", "avg<100", "med<50", "max<1000" on a trend
// (milliseconds) and "rate<0.001" on a rate, with <, <=, >, >=, == and !=. Pure.

export interface Threshold { text: string, stat: string, op: '<' | '<=' | '>' | '>=' | '==' | '!=', value: number }

const THRESHOLD = /^\s*(p\(\d+(?:\.\d+)?\)|avg|min|max|med|rate|count)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/

/** Parse one k6 threshold expression; throws naming it when it is not one this runner evaluates. */
export function parseThreshold (text: string): Threshold {
  const m = THRESHOLD.exec(text)
  if (m === null) throw new Error(`threshold "${text}": expected e.g. p(99)<250, avg<100, rate<0.001`)
  return { text, stat: m[1] as string, op: m[2] as Threshold['op'], value: Number(m[3]) }
}

/** The q-th percentile of ascending values (nearest rank; NaN when there are none). */
export function percentile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((q / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

/** What a metric measured: a trend's values (ms, ascending) or a rate's passes and total. */
export type Measured = { kind: 'trend', sorted: number[] } | { kind: 'rate', hits: number, total: number }

/** The statistic a threshold reads, from a measured metric. */
export function statOf (t: Threshold, m: Measured): number {
  if (m.kind === 'rate') {
    if (t.stat === 'rate') return m.total === 0 ? 0 : m.hits / m.total
    if (t.stat === 'count') return m.hits
    throw new Error(`threshold "${t.text}" reads a trend, not a rate`)
  }
  const v = m.sorted
  const p = /^p\((.+)\)$/.exec(t.stat)
  if (p !== null) return percentile(v, Number(p[1]))
  switch (t.stat) {
    case 'avg': return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length
    case 'min': return v[0] ?? NaN
    case 'max': return v[v.length - 1] ?? NaN
    case 'med': return percentile(v, 50)
    case 'count': return v.length
    default: throw new Error(`threshold "${t.text}" reads a rate, not a trend`)
  }
}

/** Whether the threshold holds for the statistic (NaN never holds: nothing was measured). */
export function holds (t: Threshold, x: number): boolean {
  if (Number.isNaN(x)) return false
  switch (t.op) {
    case '<': return x < t.value
    case '<=': return x <= t.value
    case '>': return x > t.value
    case '>=': return x >= t.value
    case '==': return x === t.value
    case '!=': return x !== t.value
  }
}
