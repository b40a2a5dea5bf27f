// The OData v4 $filter subset Hourglass supports, parsed by hand: a tokenizer and a recursive
// descent parser that build a typed AST. Pure: no I/O. No maintained npm parser fits.
//
// Supported: eq ne gt ge lt le, and or not, parentheses, `in (…)`, the functions startswith,
// endswith, contains, tolower, toupper, year, month, day, hour, minute; literals: strings ('' is a
// quote), numbers, DateTimeOffset (2024-05-01T00:00:00Z or with ±hh:mm), true, false, null.
// Precedence, loosest first: or, and, not, comparison. `not` binds looser than a comparison, so
// `not total_events gt 5` reads as `not (total_events gt 5)`.
// Recognised but not supported (501 HG_ERR_ODATA_NOT_IMPLEMENTED): arithmetic (add, sub, mul, div,
// divby, mod, unary minus), has, lambda and navigation paths (x/any(…)), parameter aliases (@p),
// the other standard functions. Everything else malformed is 400 HG_ERR_ODATA_BAD_FILTER, with the
// 1-based character position where the problem starts.
import { errors, type HourglassError } from '../../model/index.js'
import { PROPERTY_TYPES, type ValueType } from './csdl.js'

export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'
export type FunctionName = 'startswith' | 'endswith' | 'contains' | 'tolower' | 'toupper' | 'year' | 'month' | 'day' | 'hour' | 'minute'

export type Literal =
  | { kind: 'literal', type: 'string', value: string }
  | { kind: 'literal', type: 'number', value: number }
  | { kind: 'literal', type: 'datetime', value: number, text: string }
  | { kind: 'literal', type: 'boolean', value: boolean }
  | { kind: 'literal', type: 'null', value: null }

export type Expr =
  | Literal
  | { kind: 'property', name: string }
  | { kind: 'compare', op: CompareOp, left: Expr, right: Expr }
  | { kind: 'and' | 'or', left: Expr, right: Expr }
  | { kind: 'not', operand: Expr }
  | { kind: 'in', operand: Expr, values: Literal[] }
  | { kind: 'call', name: FunctionName, args: Expr[] }

type ExprType = ValueType | 'null'

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'gt', 'ge', 'lt', 'le'])
const ARITHMETIC_OPS = new Set(['add', 'sub', 'mul', 'div', 'divby', 'mod'])

interface FunctionSig { args: ValueType[], result: ValueType }
const FUNCTIONS: Record<FunctionName, FunctionSig> = {
  startswith: { args: ['string', 'string'], result: 'boolean' },
  endswith: { args: ['string', 'string'], result: 'boolean' },
  contains: { args: ['string', 'string'], result: 'boolean' },
  tolower: { args: ['string'], result: 'string' },
  toupper: { args: ['string'], result: 'string' },
  year: { args: ['datetime'], result: 'number' },
  month: { args: ['datetime'], result: 'number' },
  day: { args: ['datetime'], result: 'number' },
  hour: { args: ['datetime'], result: 'number' },
  minute: { args: ['datetime'], result: 'number' }
}

/** Standard OData functions this service does not implement (501 rather than 400). */
const OTHER_ODATA_FUNCTIONS = new Set([
  'substringof', 'substring', 'indexof', 'length', 'concat', 'trim', 'matchespattern', 'second', 'fractionalseconds',
  'totalseconds', 'totaloffsetminutes', 'date', 'time', 'now', 'maxdatetime', 'mindatetime', 'round', 'floor',
  'ceiling', 'cast', 'isof', 'geo.distance', 'geo.intersects', 'geo.length', 'case', 'hassubset', 'hassubsequence'
])

/** Longest $filter accepted, characters (the URL limit caps it anyway). */
export const MAX_FILTER_LENGTH = 2048
/** Deepest nesting of parentheses and `not`. */
export const MAX_DEPTH = 32

// ── errors ──────────────────────────────────────────────────────────────────────────────────────

/** A catalogue error for a malformed $filter; `position` is 1-based. */
export function badFilter (position: number, message: string): HourglassError & { position: number } {
  const err = new errors.HG_ERR_ODATA_BAD_FILTER(position, message) as HourglassError & { position: number }
  err.position = position
  return err
}

function notImplemented (what: string): HourglassError {
  return new errors.HG_ERR_ODATA_NOT_IMPLEMENTED(what)
}

// ── tokenizer ───────────────────────────────────────────────────────────────────────────────────

type TokenKind = 'word' | 'string' | 'number' | 'datetime' | '(' | ')' | ',' | '/' | ':' | '@' | 'end'

interface Token {
  kind: TokenKind
  /** the source text of the token */
  text: string
  /** 0-based offset */
  at: number
  /** decoded value: a string literal's content, a number, an instant in epoch ms */
  value?: string | number
}

const DATETIME = /(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,12})?)?(Z|[+-]\d{2}:\d{2})/y
const DATETIME_NO_ZONE = /\d{4}-\d{2}-\d{2}(T[\d:.]+)?/y
const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y
const WORD = /[A-Za-z_][A-Za-z0-9_.]*/y

function parseDateTime (m: RegExpExecArray, at: number): number {
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[]
  const year = Number(y); const month = Number(mo); const day = Number(d)
  const hour = Number(h); const minute = Number(mi); const second = s === undefined ? 0 : Number(s)
  const ms = frac === undefined ? 0 : Math.floor(Number(frac) * 1000)
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  const check = new Date(utc)
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day ||
    hour > 23 || minute > 59 || second > 59) {
    throw badFilter(at + 1, `"${m[0]}" is not a valid DateTimeOffset`)
  }
  let offset = 0
  if (zone !== undefined && zone !== 'Z') {
    const oh = Number(zone.slice(1, 3)); const om = Number(zone.slice(4, 6))
    if (oh > 23 || om > 59) throw badFilter(at + 1, `"${m[0]}" has an invalid zone offset`)
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000
  }
  return utc - offset
}

export function tokenize (src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i] as string
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue }
    if (c === '(' || c === ')' || c === ',' || c === '/' || c === ':' || c === '@') {
      out.push({ kind: c, text: c, at: i }); i++; continue
    }
    if (c === '\'') {
      let j = i + 1; let value = ''
      for (;;) {
        if (j >= src.length) throw badFilter(i + 1, 'unterminated string literal (a quote inside a string is written \'\')')
        if (src[j] === '\'') {
          if (src[j + 1] === '\'') { value += '\''; j += 2; continue }
          break
        }
        value += src[j]; j++
      }
      out.push({ kind: 'string', text: src.slice(i, j + 1), at: i, value })
      i = j + 1
      continue
    }
    if (/[0-9-]/.test(c)) {
      DATETIME.lastIndex = i
      const dt = DATETIME.exec(src)
      if (dt !== null) {
        out.push({ kind: 'datetime', text: dt[0], at: i, value: parseDateTime(dt, i) })
        i += dt[0].length
        continue
      }
      DATETIME_NO_ZONE.lastIndex = i
      const partial = DATETIME_NO_ZONE.exec(src)
      if (partial !== null) {
        throw badFilter(i + 1, `"${partial[0]}" is not a DateTimeOffset: write a full instant with a zone, ` +
          'e.g. 2024-05-01T00:00:00Z or 2024-05-01T02:00:00+02:00')
      }
      NUMBER.lastIndex = i
      const num = NUMBER.exec(src)
      if (num !== null) {
        const next = src[i + num[0].length]
        if (next !== undefined && /[A-Za-z_]/.test(next)) {
          throw badFilter(i + 1, `"${num[0]}${next}…" is not a number (type suffixes such as L, M, d are OData v2 syntax)`)
        }
        out.push({ kind: 'number', text: num[0], at: i, value: Number(num[0]) })
        i += num[0].length
        continue
      }
      if (c === '-') throw notImplemented('Arithmetic (the minus operator)')
    }
    WORD.lastIndex = i
    const w = WORD.exec(src)
    if (w !== null) {
      out.push({ kind: 'word', text: w[0], at: i })
      i += w[0].length
      continue
    }
    throw badFilter(i + 1, `unexpected character "${c}"`)
  }
  out.push({ kind: 'end', text: '', at: src.length })
  return out
}

// ── parser ──────────────────────────────────────────────────────────────────────────────────────

interface Typed { expr: Expr, type: ExprType, at: number }

function describe (t: Token): string {
  return t.kind === 'end' ? 'the end of the filter' : `"${t.text}"`
}

class Parser {
  readonly #tokens: Token[]
  readonly #properties: Readonly<Record<string, ValueType>>
  #i = 0
  #depth = 0

  constructor (tokens: Token[], properties: Readonly<Record<string, ValueType>>) {
    this.#tokens = tokens
    this.#properties = properties
  }

  get #peek (): Token { return this.#tokens[this.#i] as Token }
  #next (): Token { return this.#tokens[this.#i++] as Token }
  #isWord (t: Token, word: string): boolean { return t.kind === 'word' && t.text === word }

  #expect (kind: TokenKind, what: string): Token {
    const t = this.#peek
    if (t.kind !== kind) throw badFilter(t.at + 1, `expected ${what}, found ${describe(t)}`)
    return this.#next()
  }

  #enter (at: number): void {
    if (++this.#depth > MAX_DEPTH) throw badFilter(at + 1, `nested more than ${MAX_DEPTH} levels deep`)
  }

  parse (): Expr {
    const start = this.#peek
    if (start.kind === 'end') throw badFilter(1, 'the filter is empty')
    const e = this.#or()
    const t = this.#peek
    if (t.kind !== 'end') {
      if (t.kind === 'word' && ARITHMETIC_OPS.has(t.text)) throw notImplemented(`Arithmetic (the ${t.text} operator)`)
      if (t.kind === 'word' && t.text === 'has') throw notImplemented('The has operator')
      throw badFilter(t.at + 1, `expected and, or or the end of the filter, found ${describe(t)}`)
    }
    this.#boolean(e, 'the filter')
    return e.expr
  }

  #boolean (e: Typed, what: string): void {
    if (e.type !== 'boolean') throw badFilter(e.at + 1, `${what} must be a condition (true or false), not a ${e.type} value`)
  }

  #or (): Typed {
    let left = this.#and()
    while (this.#isWord(this.#peek, 'or')) {
      this.#next()
      const right = this.#and()
      this.#boolean(left, 'the left side of or'); this.#boolean(right, 'the right side of or')
      left = { expr: { kind: 'or', left: left.expr, right: right.expr }, type: 'boolean', at: left.at }
    }
    return left
  }

  #and (): Typed {
    let left = this.#not()
    while (this.#isWord(this.#peek, 'and')) {
      this.#next()
      const right = this.#not()
      this.#boolean(left, 'the left side of and'); this.#boolean(right, 'the right side of and')
      left = { expr: { kind: 'and', left: left.expr, right: right.expr }, type: 'boolean', at: left.at }
    }
    return left
  }

  #not (): Typed {
    const t = this.#peek
    if (this.#isWord(t, 'not')) {
      this.#next()
      this.#enter(t.at)
      const operand = this.#not()
      this.#depth--
      this.#boolean(operand, 'the operand of not')
      return { expr: { kind: 'not', operand: operand.expr }, type: 'boolean', at: t.at }
    }
    return this.#comparison()
  }

  #comparison (): Typed {
    const left = this.#primary()
    const t = this.#peek
    if (t.kind !== 'word') return left
    if (COMPARE_OPS.has(t.text)) {
      this.#next()
      const right = this.#primary()
      const op = t.text as CompareOp
      this.#compatible(left, right, op, t)
      return { expr: { kind: 'compare', op, left: left.expr, right: right.expr }, type: 'boolean', at: left.at }
    }
    if (t.text === 'in') {
      this.#next()
      return this.#in(left)
    }
    if (ARITHMETIC_OPS.has(t.text)) throw notImplemented(`Arithmetic (the ${t.text} operator)`)
    if (t.text === 'has') throw notImplemented('The has operator')
    return left
  }

  #compatible (left: Typed, right: Typed, op: CompareOp, at: Token): void {
    if (left.type === 'null' || right.type === 'null') {
      if (op !== 'eq' && op !== 'ne') throw badFilter(at.at + 1, `null can only be compared with eq or ne, not ${op}`)
      return
    }
    if (left.type !== right.type) {
      throw badFilter(right.at + 1, `cannot compare a ${left.type} with a ${right.type} (${op})`)
    }
    if (left.type === 'boolean' && op !== 'eq' && op !== 'ne') throw badFilter(at.at + 1, `conditions can only be compared with eq or ne, not ${op}`)
  }

  #in (left: Typed): Typed {
    const open = this.#expect('(', 'a parenthesised list of values after in')
    const values: Literal[] = []
    for (;;) {
      const item = this.#peek
      const lit = this.#literal()
      if (lit === null) throw badFilter(item.at + 1, `expected a literal value in the in list, found ${describe(item)}`)
      const type: ExprType = lit.type
      if (type !== 'null' && left.type !== 'null' && type !== left.type) throw badFilter(item.at + 1, `cannot compare a ${left.type} with a ${type} (in)`)
      values.push(lit)
      const sep = this.#next()
      if (sep.kind === ')') break
      if (sep.kind !== ',') throw badFilter(sep.at + 1, `expected , or ) in the in list, found ${describe(sep)}`)
    }
    if (values.length === 0) throw badFilter(open.at + 1, 'the in list is empty')
    if (left.type === 'boolean') throw badFilter(left.at + 1, 'in needs a value on its left, not a condition')
    return { expr: { kind: 'in', operand: left.expr, values }, type: 'boolean', at: left.at }
  }

  #literal (): Literal | null {
    const t = this.#peek
    switch (t.kind) {
      case 'string': this.#next(); return { kind: 'literal', type: 'string', value: t.value as string }
      case 'number': this.#next(); return { kind: 'literal', type: 'number', value: t.value as number }
      case 'datetime': this.#next(); return { kind: 'literal', type: 'datetime', value: t.value as number, text: t.text }
      case 'word':
        if (t.text === 'true' || t.text === 'false') { this.#next(); return { kind: 'literal', type: 'boolean', value: t.text === 'true' } }
        if (t.text === 'null') { this.#next(); return { kind: 'literal', type: 'null', value: null } }
        return null
      default:
        return null
    }
  }

  #primary (): Typed {
    const t = this.#peek
    const lit = this.#literal()
    if (lit !== null) return { expr: lit, type: lit.type, at: t.at }
    switch (t.kind) {
      case '(': {
        this.#next()
        this.#enter(t.at)
        const inner = this.#or()
        this.#depth--
        this.#expect(')', 'a closing parenthesis')
        return { ...inner, at: t.at }
      }
      case '@': throw notImplemented('Parameter aliases (@name)')
      case 'word': return this.#identifier()
      default:
        throw badFilter(t.at + 1, `expected a property, a value or a function, found ${describe(t)}`)
    }
  }

  #identifier (): Typed {
    const t = this.#next()
    const name = t.text
    if (this.#peek.kind === '/') throw notImplemented('Navigation paths and lambda operators (any, all)')
    if (this.#peek.kind === '(') {
      const lower = name.toLowerCase()
      if (lower === 'any' || lower === 'all') throw notImplemented('Lambda operators (any, all)')
      if (!(name in FUNCTIONS)) {
        if (OTHER_ODATA_FUNCTIONS.has(lower)) throw notImplemented(`The function ${name}`)
        throw badFilter(t.at + 1, `unknown function "${name}"; supported: ${Object.keys(FUNCTIONS).join(', ')}`)
      }
      return this.#call(name as FunctionName, t)
    }
    if (COMPARE_OPS.has(name) || name === 'and' || name === 'or' || name === 'in') {
      throw badFilter(t.at + 1, `expected a property, a value or a function, found the operator "${name}"`)
    }
    if (name === 'not') throw badFilter(t.at + 1, 'not needs a condition after it')
    const type = this.#properties[name]
    if (type === undefined) {
      throw badFilter(t.at + 1, `unknown property "${name}"; the properties are ${Object.keys(this.#properties).join(', ')}`)
    }
    return { expr: { kind: 'property', name }, type, at: t.at }
  }

  #call (name: FunctionName, t: Token): Typed {
    const sig = FUNCTIONS[name]
    this.#expect('(', '(')
    this.#enter(t.at)
    const args: Typed[] = []
    if (this.#peek.kind !== ')') {
      for (;;) {
        args.push(this.#or())
        if (this.#peek.kind === ',') { this.#next(); continue }
        break
      }
    }
    this.#expect(')', `, or ) in the arguments of ${name}`)
    this.#depth--
    if (args.length !== sig.args.length) {
      throw badFilter(t.at + 1, `${name} takes ${sig.args.length} argument${sig.args.length === 1 ? '' : 's'}, not ${args.length}`)
    }
    args.forEach((a, k) => {
      if (a.type !== sig.args[k] && a.type !== 'null') throw badFilter(a.at + 1, `argument ${k + 1} of ${name} must be a ${sig.args[k]}, not a ${a.type}`)
    })
    return { expr: { kind: 'call', name, args: args.map((a) => a.expr) }, type: sig.result, at: t.at }
  }
}

/**
 * Parse a $filter into an AST, checking property names and types against `properties`
 * (default: the Metric entity type). Throws HG_ERR_ODATA_BAD_FILTER or HG_ERR_ODATA_NOT_IMPLEMENTED.
 */
export function parseFilter (src: string, properties: Readonly<Record<string, ValueType>> = PROPERTY_TYPES): Expr {
  if (src.length > MAX_FILTER_LENGTH) throw badFilter(MAX_FILTER_LENGTH + 1, `the filter is longer than ${MAX_FILTER_LENGTH} characters`)
  return new Parser(tokenize(src), properties).parse()
}

/** A compact, stable rendering of an AST (S-expressions), for tests and logs. */
export function show (e: Expr): string {
  switch (e.kind) {
    case 'literal':
      if (e.type === 'string') return `'${e.value.replaceAll('\'', '\'\'')}'`
      if (e.type === 'datetime') return new Date(e.value).toISOString()
      return String(e.value)
    case 'property': return e.name
    case 'compare': return `(${e.op} ${show(e.left)} ${show(e.right)})`
    case 'and': case 'or': return `(${e.kind} ${show(e.left)} ${show(e.right)})`
    case 'not': return `(not ${show(e.operand)})`
    case 'in': return `(in ${show(e.operand)} [${e.values.map(show).join(' ')}])`
    case 'call': return `(${e.name} ${e.args.map(show).join(' ')})`
  }
}
