// What one GraphQL operation may ask for, checked before anything runs:
// - depth: fields nest at most `maxDepth` levels (the schema itself needs 4), and introspection
//   (__schema, __type) at most `maxIntrospectionDepth`, enough for GraphiQL's introspection query.
//   A validation rule, so it holds for queries over HTTP and subscriptions over WebSocket alike;
// - cost: each field costs 1, and each `metrics` or `live` field adds its buckets × its groups ×
//   the fields selected under `rows` (at least 1): the buckets parsed from its arguments (variables
//   applied) as the resolver parses them, the groups per groupBy dimension the values its filter
//   lists or else the values the data holds (a parameter). Each alias counts: aliases of one shape
//   share one read (budget.ts), but each is an answer of its own. The cost is the answer's size in
//   values, so the limit also bounds its bytes. What the cost stops is many queries aliased into one
//   request, or one grouped over more groups than an answer should carry. A `topEntities` field adds its limit × the
//   fields selected under `entities` (its answer has at most limit rows, whatever the range).
// Pure: no I/O, the clock is a parameter.
import {
  type ASTVisitor, type DocumentNode, type FieldNode, type FragmentDefinitionNode, getOperationAST, Kind,
  type SelectionSetNode, type ValidationContext, type ValidationRule, valueFromASTUntyped
} from 'graphql'
import type { Limits } from '../../merger/types.js'
import { BUCKET_MS, errors, MINUTE_MS } from '../../model/index.js'
import { type LiveInput, type MetricsInput, parseLiveInput, parseMetricsInput } from '../rest/parse-query.js'
import { codedGraphQLError } from '../errors.js'
import { parseEntitiesLimit } from '../rest/entity-query.js'

export const DEFAULT_MAX_DEPTH = 6
/** graphql-js 16's getIntrospectionQuery() nests 15 levels (TypeRef's ofType chain) */
export const DEFAULT_MAX_INTROSPECTION_DEPTH = 16
/**
 * the cost limit, in buckets × row fields, per service bucket limit (the widest REST answer fits the
 * cost; the response budget, index.ts, may still refuse it as too many bytes for one GraphQL answer)
 */
export const COST_PER_MAX_BUCKETS = 8
/** the least cost limit, whatever the bucket limit: GraphiQL's introspection query costs about 220 */
export const MIN_MAX_COST = 1000

/** The cost limit for a service's bucket limit. */
export function defaultMaxCost (maxBuckets: number): number {
  return Math.max(MIN_MAX_COST, COST_PER_MAX_BUCKETS * maxBuckets)
}

const INTROSPECTION_ROOTS = new Set(['__schema', '__type'])

interface Depths { depth: number, introspection: number }

function measure (
  set: SelectionSetNode, level: number, inIntrospection: boolean,
  fragment: (name: string) => FragmentDefinitionNode | null | undefined, visiting: Set<string>, out: Depths
): void {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      const intro = inIntrospection || INTROSPECTION_ROOTS.has(s.name.value)
      if (intro) out.introspection = Math.max(out.introspection, level)
      else out.depth = Math.max(out.depth, level)
      if (s.selectionSet !== undefined) measure(s.selectionSet, level + 1, intro, fragment, visiting, out)
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      measure(s.selectionSet, level, inIntrospection, fragment, visiting, out)
    } else {
      const name = s.name.value
      const def = fragment(name)
      // a cycle is reported by the specified rules (NoFragmentCycles); do not loop on it here
      if (def === null || def === undefined || visiting.has(name)) continue
      visiting.add(name)
      measure(def.selectionSet, level, inIntrospection, fragment, visiting, out)
      visiting.delete(name)
    }
  }
}

/** The nesting depth of an operation's fields: its own, and that of its introspection fields. */
export function operationDepth (
  selectionSet: SelectionSetNode, fragment: (name: string) => FragmentDefinitionNode | null | undefined
): Depths {
  const out: Depths = { depth: 0, introspection: 0 }
  measure(selectionSet, 1, false, fragment, new Set(), out)
  return out
}

/** A validation rule: each operation within the depth limits (HG_ERR_GRAPHQL_TOO_DEEP). */
export function depthLimitRule (maxDepth = DEFAULT_MAX_DEPTH, maxIntrospectionDepth = DEFAULT_MAX_INTROSPECTION_DEPTH): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition (node) {
      const { depth, introspection } = operationDepth(node.selectionSet, (n) => context.getFragment(n))
      const name = node.name?.value ?? `(${node.operation})`
      if (depth > maxDepth) {
        context.reportError(codedGraphQLError(new errors.HG_ERR_GRAPHQL_TOO_DEEP(name, depth, maxDepth), [node]))
      } else if (introspection > maxIntrospectionDepth) {
        context.reportError(codedGraphQLError(new errors.HG_ERR_GRAPHQL_TOO_DEEP(`${name} (introspection)`, introspection, maxIntrospectionDepth), [node]))
      }
      return false
    }
  })
}

type Variables = Record<string, unknown> | null | undefined

/** GraphQL's input coercion of a single value where a list belongs: a list of one. */
const listOf = (v: unknown): unknown => v === null || v === undefined || Array.isArray(v) ? v : [v]

/** A field's arguments as the typed input its resolver gets (unchecked: the parser checks them). */
function argumentsOf (field: FieldNode, variables: Variables): MetricsInput & LiveInput {
  const out: Record<string, unknown> = {}
  for (const a of field.arguments ?? []) out[a.name.value] = valueFromASTUntyped(a.value, variables ?? undefined)
  const filter = out.filter as Record<string, unknown> | null | undefined
  if (filter !== null && typeof filter === 'object') out.filter = { event_type: listOf(filter.event_type), region: listOf(filter.region) }
  return { ...out, groupBy: listOf(out.groupBy), metrics: listOf(out.metrics) } as MetricsInput & LiveInput
}

/**
 * The buckets a `metrics` or `live` field asks for, parsed exactly as its resolver will parse it;
 * 1 when the arguments are invalid, so the resolver reports them with their own code (a range
 * starting in 1999 is HG_ERR_TIMESTAMP_OUT_OF_RANGE, not a cost error).
 */
export function bucketsOf (field: FieldNode, variables: Variables, limits: Limits, now: number): number {
  const args = argumentsOf(field, variables)
  try {
    if (field.name.value === 'live') return Math.ceil(parseLiveInput(args, limits).last / MINUTE_MS)
    const q = parseMetricsInput(args, limits, now)
    return (q.to - q.from) / BUCKET_MS[q.granularity]
  } catch {
    return 1
  }
}

function fieldCount (set: SelectionSetNode | undefined, fragments: Map<string, FragmentDefinitionNode>, visiting: Set<string>): number {
  if (set === undefined) return 0
  let n = 0
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) n += 1 + fieldCount(s.selectionSet, fragments, visiting)
    else if (s.kind === Kind.INLINE_FRAGMENT) n += fieldCount(s.selectionSet, fragments, visiting)
    else {
      const def = fragments.get(s.name.value)
      if (def === undefined || visiting.has(s.name.value)) continue
      visiting.add(s.name.value)
      n += fieldCount(def.selectionSet, fragments, visiting)
      visiting.delete(s.name.value)
    }
  }
  return n
}

/** The fields of a selection set, fragments spread in (the root fields, with aliases kept apart). */
function fieldsOf (set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, visiting = new Set<string>()): FieldNode[] {
  const out: FieldNode[] = []
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) out.push(s)
    else if (s.kind === Kind.INLINE_FRAGMENT) out.push(...fieldsOf(s.selectionSet, fragments, visiting))
    else {
      const def = fragments.get(s.name.value)
      if (def === undefined || visiting.has(s.name.value)) continue
      visiting.add(s.name.value)
      out.push(...fieldsOf(def.selectionSet, fragments, visiting))
      visiting.delete(s.name.value)
    }
  }
  return out
}

/**
 * The groups a `metrics` or `live` field's groupBy makes: per dimension, the values its filter lists,
 * or else `values(dimension)` (at least 1 each).
 */
export function groupsOf (field: FieldNode, variables: Variables, values: (dimension: string) => number): number {
  const args = argumentsOf(field, variables)
  const filter = (args.filter ?? {}) as Record<string, unknown>
  let groups = 1
  for (const dimension of new Set((args.groupBy ?? []) as unknown[])) {
    const listed = filter[String(dimension)]
    groups *= Array.isArray(listed) && listed.length > 0 ? listed.length : Math.max(1, values(String(dimension)))
  }
  return groups
}

const BUCKETED = new Set(['metrics', 'live'])

/** The rows a `topEntities` field may answer: its limit as the resolver reads it (1 when it is not valid: the resolver refuses it). */
function entityRowsOf (field: FieldNode, variables: Variables): number {
  const limit = (argumentsOf(field, variables) as { limit?: unknown }).limit
  if (limit !== null && limit !== undefined && typeof limit !== 'number') return 1
  try {
    return parseEntitiesLimit(limit)
  } catch {
    return 1
  }
}

/**
 * The cost of the operation that will run (see the top of this file); `values(dimension)` is how
 * many values the data holds for a dimension (default: 1, groups not counted).
 */
export function operationCost (
  document: DocumentNode, operationName: string | null | undefined, variables: Variables, limits: Limits, now: number,
  values: (dimension: string) => number = () => 1
): number {
  const operation = getOperationAST(document, operationName ?? undefined)
  if (operation === null || operation === undefined) return 0
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d)
  let cost = 0
  for (const field of fieldsOf(operation.selectionSet, fragments)) {
    if (field.name.value === 'topEntities' && field.selectionSet !== undefined) {
      cost += 1 + subCost(field.selectionSet, fragments, 'entities', entityRowsOf(field, variables))
      continue
    }
    if (!BUCKETED.has(field.name.value) || field.selectionSet === undefined) {
      cost += 1 + fieldCount(field.selectionSet, fragments, new Set())
      continue
    }
    cost += 1 + subCost(field.selectionSet, fragments, 'rows', bucketsOf(field, variables, limits, now) * groupsOf(field, variables, values))
  }
  return cost
}

/** The cost under a field: 1 per field, but the fields under `rowsName` (at least 1) count once per row of `rows`. */
function subCost (set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, rowsName: string, rows: number): number {
  let rowFields = 0
  let other = 0
  for (const sub of fieldsOf(set, fragments)) {
    const n = fieldCount(sub.selectionSet, fragments, new Set())
    if (sub.name.value === rowsName) rowFields += n
    else other += 1 + n
  }
  return other + rows * Math.max(1, rowFields)
}
