// GraphQL errors carry the catalogue's code in `extensions.code` (src/model/errors.ts), whatever
// went wrong and whichever transport carried it:
// - catalogue errors thrown by resolvers (bad arguments, the merger's refusals) keep their code,
//   message and, when the answer has no data, their HTTP status;
// - documents that do not parse or validate are HG_ERR_GRAPHQL_VALIDATION, except an unknown enum
//   value, which gets the code REST gives the same mistake (granularity=week is
//   HG_ERR_UNKNOWN_GRANULARITY in both), and a missing required argument (HG_ERR_MISSING_PARAMETER);
// - the depth and cost limits raise their own codes (limits.ts);
// - other 4xx errors from Fastify or mercurius (bad JSON variables, GET for a non-query) are
//   HG_ERR_VALIDATION with their status;
// - anything else is logged and answered HG_ERR_INTERNAL without its message.
import { STATUS_CODES } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import { type ExecutionResult, type FormattedExecutionResult, GraphQLError } from 'graphql'
import type { MercuriusContext } from 'mercurius'
import { type ErrorCode, errors, type HourglassError, isHourglassError } from '../../model/index.js'

/** Longest piece of a client's input echoed back in a message. */
const ECHO_MAX = 200

function clip (text: string): string {
  return text.length > ECHO_MAX ? text.slice(0, ECHO_MAX) + '…' : text
}

/** The error's code in `extensions.code` (graphql-js copies an original error's `extensions`). */
export function withCode<E extends HourglassError> (err: E): E & { extensions: { code: string } } {
  return Object.assign(err, { extensions: { code: err.code } })
}

/** A GraphQL error for a catalogue error, placed at `nodes` when given. */
export function codedGraphQLError (err: HourglassError, nodes?: GraphQLError['nodes']): GraphQLError {
  return new GraphQLError(err.message, { nodes: nodes ?? undefined, originalError: withCode(err), extensions: { code: err.code } })
}

/** Resolver errors as catalogue errors with their code: an unexpected one is logged and hidden. */
export function asCoded (err: unknown, log: FastifyBaseLogger): HourglassError & { extensions: { code: string } } {
  if (isHourglassError(err)) return withCode(err)
  log.error({ err }, 'graphql resolver failed')
  return withCode(new errors.HG_ERR_INTERNAL())
}

const ENUM_CODES: Record<string, (value: string) => HourglassError> = {
  Granularity: (v) => new errors.HG_ERR_UNKNOWN_GRANULARITY(clip(v)),
  Dimension: (v) => new errors.HG_ERR_UNKNOWN_DIMENSION(clip(v)),
  Metric: (v) => new errors.HG_ERR_UNKNOWN_METRIC(clip(v))
}

// graphql-js 16's wording, for an enum literal / a variable, and for a string or number given
// where an enum literal belongs; test/graphql.test.ts pins both.
const NOT_IN_ENUM = /Value "(.*)" does not exist in "(\w+)" enum\./
const NOT_AN_ENUM = /Enum "(\w+)" cannot represent non-enum value: (.*?)\.(?: Did you mean|$)/
const MISSING_ARGUMENT = /^Field "\w+" argument "(\w+)" of type "[^"]+" is required, but it was not provided\./
const TOO_MANY_TOKENS = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/

/** A document error of graphql-js (no original error) as a catalogue error. */
function fromDocumentError (message: string): HourglassError {
  const notIn = NOT_IN_ENUM.exec(message)
  if (notIn !== null) {
    const make = ENUM_CODES[notIn[2] as string]
    if (make !== undefined) return make(notIn[1] as string)
  }
  const notAn = NOT_AN_ENUM.exec(message)
  if (notAn !== null) {
    const make = ENUM_CODES[notAn[1] as string]
    if (make !== undefined) {
      const printed = notAn[2] as string
      let value = printed
      try { value = String(JSON.parse(printed)) } catch { /* a literal that is not JSON: keep it printed */ }
      return make(value)
    }
  }
  const missing = MISSING_ARGUMENT.exec(message)
  if (missing !== null) return new errors.HG_ERR_MISSING_PARAMETER(missing[1] as string)
  const tokens = TOO_MANY_TOKENS.exec(message)
  if (tokens !== null) return new errors.HG_ERR_GRAPHQL_TOO_COMPLEX(`the document has more than ${tokens[1]} tokens`)
  return new errors.HG_ERR_GRAPHQL_VALIDATION(clip(message))
}

function statusOf (code: string): number {
  const Make = errors[code as ErrorCode] as (new () => HourglassError) | undefined
  return Make === undefined ? 400 : new Make().statusCode
}

/** One error of an execution result, with a catalogue code, and the HTTP status it stands for. */
export function toCodedError (err: GraphQLError, log: FastifyBaseLogger): { error: GraphQLError, status: number } {
  const code = err.extensions?.code
  if (typeof code === 'string' && code.startsWith('HG_ERR_')) return { error: err, status: statusOf(code) }
  const original: unknown = err.originalError
  let hg: HourglassError
  if (isHourglassError(original)) {
    hg = original
  } else if (original === undefined || original === null || original instanceof GraphQLError) {
    // graphql-js's own: syntax, validation, variable coercion (whose original is a GraphQLError too)
    hg = fromDocumentError(err.message)
  } else {
    const status = (original as { statusCode?: unknown }).statusCode
    if (typeof status === 'number' && status >= 400 && status < 500) {
      hg = new errors.HG_ERR_VALIDATION(clip(String((original as Error).message ?? STATUS_CODES[status])))
      hg.statusCode = status
    } else {
      log.error({ err: original }, 'graphql request failed')
      hg = new errors.HG_ERR_INTERNAL()
    }
  }
  const error = new GraphQLError(hg.message, {
    nodes: err.nodes ?? undefined,
    source: err.source,
    positions: err.positions,
    path: err.path,
    originalError: err.originalError ?? undefined,
    extensions: { ...err.extensions, code: hg.code }
  })
  return { error, status: hg.statusCode }
}

/** mercurius wraps the errors of a document it refused (MER_ERR_GQL_VALIDATION) in `errors`. */
function flatten (errs: readonly GraphQLError[]): GraphQLError[] {
  const out: GraphQLError[] = []
  for (const e of errs) {
    const inner = (e.originalError as { errors?: unknown } | undefined)?.errors
    if (Array.isArray(inner)) {
      for (const i of inner as unknown[]) {
        out.push(i instanceof GraphQLError ? i : new GraphQLError(String((i as Error).message), { originalError: i as Error }))
      }
    } else {
      out.push(e)
    }
  }
  return out
}

/**
 * mercurius's errorFormatter: every error gets its code. The status is 200 when there is data;
 * otherwise the first error's (400 for a bad argument or document, 500 for a fault of ours), as
 * mercurius's default formatter does for one error.
 */
export function formatErrors (
  execution: ExecutionResult & Required<Pick<ExecutionResult, 'errors'>>,
  context: MercuriusContext
): { statusCode: number, response: FormattedExecutionResult } {
  const log = (context.reply as { log?: FastifyBaseLogger } | undefined)?.log ?? context.app.log
  const coded = flatten(execution.errors).map((e) => toCodedError(e, log))
  const data = execution.data ?? null
  const statusCode = data !== null ? 200 : coded[0]?.status ?? 500
  return { statusCode, response: { data, errors: coded.map((c) => c.error.toJSON()) } }
}
