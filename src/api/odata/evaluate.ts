// Evaluates the part of a $filter the merger's typed query cannot express, on result rows in
// memory. Pure. OData's three-valued logic: a comparison with null (other than eq/ne) is null, a
// function of null is null, and a row passes only when the whole filter is true.
import type { Expr } from './filter-parser.js'

/** One row's values by property name; window_start as epoch ms. */
export type RowValues = Readonly<Record<string, string | number | null | undefined>>

type Value = string | number | boolean | null

function compare (op: string, l: Value, r: Value): boolean | null {
  if (l === null || r === null) {
    if (op === 'eq') return l === r
    if (op === 'ne') return l !== r
    return null
  }
  switch (op) {
    case 'eq': return l === r
    case 'ne': return l !== r
    case 'gt': return l > r
    case 'ge': return l >= r
    case 'lt': return l < r
    case 'le': return l <= r
    default: return null
  }
}

function call (name: string, args: Value[]): Value {
  if (args.some((a) => a === null)) return null
  const [a, b] = args
  switch (name) {
    case 'startswith': return (a as string).startsWith(b as string)
    case 'endswith': return (a as string).endsWith(b as string)
    case 'contains': return (a as string).includes(b as string)
    case 'tolower': return (a as string).toLowerCase()
    case 'toupper': return (a as string).toUpperCase()
    case 'year': return new Date(a as number).getUTCFullYear()
    case 'month': return new Date(a as number).getUTCMonth() + 1
    case 'day': return new Date(a as number).getUTCDate()
    case 'hour': return new Date(a as number).getUTCHours()
    case 'minute': return new Date(a as number).getUTCMinutes()
    default: return null
  }
}

export function evaluate (e: Expr, row: RowValues): Value {
  switch (e.kind) {
    case 'literal': return e.value
    case 'property': return row[e.name] ?? null
    case 'compare': return compare(e.op, evaluate(e.left, row), evaluate(e.right, row))
    case 'and': {
      const l = evaluate(e.left, row)
      if (l === false) return false
      const r = evaluate(e.right, row)
      if (r === false) return false
      return l === null || r === null ? null : true
    }
    case 'or': {
      const l = evaluate(e.left, row)
      if (l === true) return true
      const r = evaluate(e.right, row)
      if (r === true) return true
      return l === null || r === null ? null : false
    }
    case 'not': {
      const v = evaluate(e.operand, row)
      return v === null ? null : !(v as boolean)
    }
    case 'in': {
      const v = evaluate(e.operand, row)
      return e.values.some((lit) => lit.value === v)
    }
    case 'call': return call(e.name, e.args.map((a) => evaluate(a, row)))
  }
}

/** true when the row passes the filter (null counts as false). */
export function matches (e: Expr | null, row: RowValues): boolean {
  return e === null || evaluate(e, row) === true
}
