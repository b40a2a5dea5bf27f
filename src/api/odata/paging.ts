// Server-driven paging. Rows are sorted by $orderby and then by the key (window_start, event_type,
// region), so the order is total; a page ends with an opaque $skiptoken that holds the sort values
// of its last row, the entity set, the range the first page read and how many rows were returned so
// far (signed: skiptoken.ts). The next page seeks past that row (it does not count rows), so a row
// that appears or vanishes in between shifts nothing, and $top stays exact across pages. Pure.
import { KEY, type PropertyName } from './csdl.js'
import type { RowValues } from './evaluate.js'

export const DEFAULT_PAGE_SIZE = 1000

/** One key of $orderby: the rows sort by these, then by the entity key. */
export interface OrderKey { name: PropertyName, desc: boolean }

export type SortValue = string | number | null

export interface SkipToken {
  /** the entity set it pages through */
  set: string
  /** the range [from, to) the first page read, epoch ms: later pages read the same one */
  range: { from: number, to: number }
  /** the sort values of the last row returned */
  after: SortValue[]
  /** rows returned so far */
  returned: number
}

/** $orderby, then the key properties it does not name, ascending */
export function sortKeys (orderby: OrderKey[]): OrderKey[] {
  const keys = [...orderby]
  for (const k of KEY) if (!keys.some((o) => o.name === k)) keys.push({ name: k as PropertyName, desc: false })
  return keys
}

function compareValues (a: SortValue, b: SortValue): number {
  if (a === b) return 0
  if (a === null) return -1 // null sorts first, ascending (OData: null is the lowest value)
  if (b === null) return 1
  return a < b ? -1 : 1
}

export function compareTuples (keys: OrderKey[], a: SortValue[], b: SortValue[]): number {
  for (let i = 0; i < keys.length; i++) {
    const c = compareValues(a[i] ?? null, b[i] ?? null)
    if (c !== 0) return (keys[i] as OrderKey).desc ? -c : c
  }
  return 0
}

export interface Page {
  rows: RowValues[]
  /** the token of the next page, or null when this is the last */
  next: SkipToken | null
}

/**
 * One page of `rows` (already filtered): sorted, then either $skip (first page) or the seek past
 * the token's row, then at most `pageSize` rows and never more than $top in all.
 */
export function takePage (
  rows: RowValues[],
  o: { set: string, orderby: OrderKey[], top: number | null, skip: number, token: SkipToken | null, range: { from: number, to: number } },
  pageSize: number
): Page {
  const keys = sortKeys(o.orderby)
  const tuples = rows.map((row) => ({ row, t: keys.map((k) => (row[k.name] ?? null)) }))
  tuples.sort((a, b) => compareTuples(keys, a.t, b.t))
  let start: number
  let returned: number
  if (o.token === null) {
    start = Math.min(o.skip, tuples.length)
    returned = 0
  } else {
    const after = o.token.after
    // first row past the token's (binary search: the tuples are sorted)
    let lo = 0; let hi = tuples.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareTuples(keys, (tuples[mid] as { t: SortValue[] }).t, after) <= 0) lo = mid + 1
      else hi = mid
    }
    start = lo
    returned = o.token.returned
  }
  const remaining = o.top === null ? Infinity : Math.max(0, o.top - returned)
  const take = Math.min(pageSize, remaining, tuples.length - start)
  const slice = tuples.slice(start, start + take)
  const more = start + take < tuples.length && take < remaining
  const last = slice[slice.length - 1]
  return {
    rows: slice.map((x) => x.row),
    next: more && last !== undefined ? { set: o.set, range: o.range, after: last.t, returned: returned + take } : null
  }
}

/** The absolute URL of the next page: the same options, with the new $skiptoken (encoded). */
export function nextLink (base: string, carry: Array<[string, string]>, skiptoken: string): string {
  const parts = [...carry, ['$skiptoken', skiptoken] as [string, string]]
  return base + '?' + parts.map(([k, v]) => `${encodeURIComponent(k).replaceAll('%24', '$')}=${encodeURIComponent(v)}`).join('&')
}
