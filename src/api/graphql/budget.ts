// One GraphQL request's reads, kept within a budget:
// - fields asking the same normalised query (aliases of one shape) share one read;
// - the reads run one after another, the event loop yielded between them, so a request of many
//   aliases neither holds many answers in flight at once nor keeps other requests waiting;
// - the answer's size, estimated as its rows arrive (rows × fields under `rows`), stays within
//   maxResponseBytes, one field's within a quarter of it (HG_ERR_RESPONSE_TOO_LARGE), and the reads within timeoutMs of the start
//   (HG_ERR_GRAPHQL_TOO_COMPLEX).
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { type FieldNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql'
import { errors } from '../../model/index.js'

export interface BudgetLimits {
  /** largest answer, bytes (estimated) */
  maxResponseBytes: number
  /** longest time the request's reads may take, ms */
  timeoutMs: number
}

/** the estimated JSON bytes of one value in a row, its key included (hourly rows of five fields: about 28) */
export const BYTES_PER_CELL = 32

/**
 * One field's answer may take at most 1/FIELD_SHARE of maxResponseBytes: aliases are completed one per turn of the
 * event loop, but graphql-js completes one field's rows in one go, about 100 ms per MiB here
 */
export const FIELD_SHARE = 4

export class RequestBudget {
  readonly #reads = new Map<string, Promise<unknown>>()
  #last: Promise<unknown> = Promise.resolve()
  #bytes = 0
  readonly #startedAt = performance.now()

  constructor (readonly limits: BudgetLimits) {}

  /** `read()`'s answer for `key`, read once per request, after the reads asked before it. */
  read<T> (key: string, read: () => Promise<T>): Promise<T> {
    const kept = this.#reads.get(key)
    if (kept !== undefined) return kept as Promise<T>
    const first = this.#reads.size === 0
    const next = this.#last.then(async () => {
      if (!first) await yieldLoop()
      this.#checkTime()
      return await read()
    })
    this.#last = next.catch(() => undefined)
    this.#reads.set(key, next)
    return next
  }

  /** answers counted so far */
  answers = 0
  #turns: Promise<void> = Promise.resolve()

  /**
   * Resolves on a turn of the event loop of its own: callers are let through one per turn, in order (answers
   * sharing one read would otherwise all be completed and serialised in the turn the read ends).
   */
  turn (): Promise<void> {
    const mine = this.#turns.then(async () => { await yieldLoop() })
    this.#turns = mine
    return mine
  }

  /** Counts an answer of `rows` rows of `fields` fields; refuses once the whole is too large. */
  spend (rows: number, fields: number): void {
    this.answers++
    const bytes = rows * Math.max(1, fields) * BYTES_PER_CELL
    const fieldMax = Math.floor(this.limits.maxResponseBytes / FIELD_SHARE)
    if (bytes > fieldMax) throw new errors.HG_ERR_RESPONSE_TOO_LARGE(fieldMax, 'one field of a request (its rows are completed in one go)')
    this.#bytes += bytes
    if (this.#bytes > this.limits.maxResponseBytes) throw new errors.HG_ERR_RESPONSE_TOO_LARGE(this.limits.maxResponseBytes, 'one request')
  }

  #checkTime (): void {
    const ms = performance.now() - this.#startedAt
    if (ms > this.limits.timeoutMs) {
      throw new errors.HG_ERR_GRAPHQL_TOO_COMPLEX(`it has read for ${Math.round(ms)} ms; at most ${this.limits.timeoutMs} ms are allowed: split the request`)
    }
  }
}

function countFields (set: SelectionSetNode | undefined, info: GraphQLResolveInfo, visiting: Set<string>): number {
  let n = 0
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FIELD) n += s.name.value === '__typename' ? 0 : 1
    else if (s.kind === Kind.INLINE_FRAGMENT) n += countFields(s.selectionSet, info, visiting)
    else if (!visiting.has(s.name.value)) {
      visiting.add(s.name.value)
      n += countFields(info.fragments[s.name.value]?.selectionSet, info, visiting)
      visiting.delete(s.name.value)
    }
  }
  return n
}

function rowsFields (set: SelectionSetNode | undefined, info: GraphQLResolveInfo, visiting: Set<string>, name: string): FieldNode[] {
  const out: FieldNode[] = []
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FIELD) {
      if (s.name.value === name) out.push(s)
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      out.push(...rowsFields(s.selectionSet, info, visiting, name))
    } else if (!visiting.has(s.name.value)) {
      visiting.add(s.name.value)
      out.push(...rowsFields(info.fragments[s.name.value]?.selectionSet, info, visiting, name))
      visiting.delete(s.name.value)
    }
  }
  return out
}

/** The fields the client selects under the field being resolved (a list field's row fields). */
export function selectedFields (info: GraphQLResolveInfo): number {
  let n = 0
  for (const node of info.fieldNodes) n += countFields(node.selectionSet, info, new Set())
  return n
}

/** The fields the client selects under `rows` (or `name`) of the field being resolved (each `rows` counted). */
export function selectedRowFields (info: GraphQLResolveInfo, name = 'rows'): number {
  let n = 0
  for (const node of info.fieldNodes) {
    for (const rows of rowsFields(node.selectionSet, info, new Set(), name)) n += countFields(rows.selectionSet, info, new Set())
  }
  return n
}
