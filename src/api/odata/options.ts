// The system query options of an entity set request, read from the raw query string. Pure.
//
// The raw string is decoded here rather than by Fastify's parser because OData literals may hold a
// literal `+` (2024-05-01T02:00:00+02:00): a value is form-decoded (`+` as a space) only when it
// carries no %20, i.e. when the client encoded spaces the form way.
import { errors } from '../../model/index.js'
import { badOption } from './errors.js'
import { PROPERTY_NAMES, type PropertyName } from './csdl.js'
import { type Expr, parseFilter } from './filter-parser.js'
import type { OrderKey, SkipToken } from './paging.js'

export interface ODataOptions {
  filter: Expr | null
  /** the properties asked for; null: all */
  select: PropertyName[] | null
  orderby: OrderKey[]
  top: number | null
  skip: number
  count: boolean
  skiptoken: SkipToken | null
  /** the options as given, less $skiptoken, to carry into @odata.nextLink */
  carry: Array<[string, string]>
}

const SUPPORTED = ['$filter', '$select', '$orderby', '$top', '$skip', '$count', '$skiptoken', '$format']
const NOT_IMPLEMENTED = new Set(['$expand', '$apply', '$search', '$compute', '$levels', '$index', '$schemaversion', '$id', '$deltatoken'])
/** largest $top / $skip */
const MAX_INT = 1_000_000_000

function decode (text: string, what: string): string {
  const form = text.includes('+') && !/%20/i.test(text)
  try {
    return decodeURIComponent(form ? text.replaceAll('+', ' ') : text)
  } catch {
    throw badOption(what, 'it is not valid percent-encoding')
  }
}

/** "a=1&b=2" → [['a', '1'], ['b', '2']], decoded */
export function splitQuery (raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const part of raw.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = decode(eq === -1 ? part : part.slice(0, eq), 'the query string')
    out.push([name, eq === -1 ? '' : decode(part.slice(eq + 1), name)])
  }
  return out
}

function property (name: string, option: string): PropertyName {
  if ((PROPERTY_NAMES as readonly string[]).includes(name)) return name as PropertyName
  throw badOption(option, `unknown property "${name}"; the properties are ${PROPERTY_NAMES.join(', ')}`)
}

function integer (text: string, option: string): number {
  if (!/^\d{1,10}$/.test(text.trim()) || Number(text) > MAX_INT) throw badOption(option, `"${text}" is not a non-negative integer (at most ${MAX_INT})`)
  return Number(text)
}

export function parseSelect (text: string): PropertyName[] | null {
  const items = text.split(',').map((s) => s.trim())
  if (items.includes('*')) return null
  const out: PropertyName[] = []
  for (const item of items) {
    if (item.includes('/') || item.includes('(')) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(`$select of "${item}" (paths and expressions)`)
    const p = property(item, '$select')
    if (!out.includes(p)) out.push(p)
  }
  return out
}

export function parseOrderBy (text: string): OrderKey[] {
  const out: OrderKey[] = []
  for (const item of text.split(',').map((s) => s.trim())) {
    if (item.includes('(') || item.includes('/')) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(`$orderby by "${item}" (only properties can be ordered by)`)
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?$/.exec(item)
    if (m === null) throw badOption('$orderby', `"${item}" is not "property [asc|desc]"`)
    const name = property(m[1] as string, '$orderby')
    if (out.some((k) => k.name === name)) throw badOption('$orderby', `"${name}" appears twice`)
    out.push({ name, desc: m[2] === 'desc' })
  }
  return out
}

/** Read the query string (without the leading ?) of an entity set request; `decodeToken` reads $skiptoken. */
export function parseODataQuery (raw: string, decodeToken: (text: string) => SkipToken): ODataOptions {
  const opts: ODataOptions = { filter: null, select: null, orderby: [], top: null, skip: 0, count: false, skiptoken: null, carry: [] }
  const seen = new Set<string>()
  for (const [given, value] of splitQuery(raw)) {
    if (given.startsWith('@')) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED('Parameter aliases (@name)')
    // custom options are ignored, and carried into @odata.nextLink (an api_key never gets here: the
    // auth plugin takes it out of every URL before routing)
    if (!given.startsWith('$')) { opts.carry.push([given, value]); continue }
    const name = given.toLowerCase()
    if (NOT_IMPLEMENTED.has(name)) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(`The ${name} option`)
    if (!SUPPORTED.includes(name)) throw badOption(given, `unknown system query option; supported: ${SUPPORTED.join(', ')}`)
    if (seen.has(name)) throw badOption(name, 'the option is given twice')
    seen.add(name)
    if (name !== '$skiptoken') opts.carry.push([name, value])
    switch (name) {
      case '$filter': opts.filter = parseFilter(value); break
      case '$select': opts.select = parseSelect(value); break
      case '$orderby': opts.orderby = parseOrderBy(value); break
      case '$top': opts.top = integer(value, '$top'); break
      case '$skip': opts.skip = integer(value, '$skip'); break
      case '$count':
        if (value !== 'true' && value !== 'false') throw badOption('$count', `"${value}" is neither true nor false`)
        opts.count = value === 'true'
        break
      case '$skiptoken': opts.skiptoken = decodeToken(value); break
      case '$format':
        if (!/^(json|application\/json)(;.*)?$/i.test(value.trim())) throw new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(`$format=${value} (only json)`)
        break
    }
  }
  return opts
}
