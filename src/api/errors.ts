// The one error module of the three APIs. Whatever goes wrong becomes a catalogue error
// (src/model/errors.ts): one code, and the one status of that code, in each API's shape:
//   REST     { statusCode, code, error, message }
//   OData    { error: { code, message, target?, innererror? } }
//   GraphQL  errors[].extensions.code (mercurius's ErrorWithProps); the status of the first error when there is no data
// toHourglassError maps what is not ours by its class or its `code`, never by its message text:
// - catalogue errors pass through; so do coded ErrorWithProps, and a GraphQLError's coded original;
// - schema validation (Fastify's `validation`) is HG_ERR_UNKNOWN_PARAMETER, HG_ERR_MISSING_PARAMETER
//   or HG_ERR_VALIDATION, naming the parameter;
// - Fastify's and mercurius's own client errors by code (FOREIGN); any other 4xx is HG_ERR_VALIDATION;
// - graphql-js's document errors (a GraphQLError with no coded original) are HG_ERR_GRAPHQL_VALIDATION;
// - anything else (DuckDB, a bug, any 5xx) is HG_ERR_INTERNAL: logged with its cause, never shown.
// Echo rule: a message may repeat the client's input, or a library's 4xx message about that input,
// clipped to ECHO_MAX characters; an internal error's message is never repeated.
// Which shape: every URL under /odata gets the OData body, whoever answers (a route, the not-found
// handler, a hook, the HTTP parser's clientError); everything else but GraphQL the REST body.
import { maxHeaderSize, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type ExecutionResult, type FormattedExecutionResult, GraphQLError } from 'graphql'
import mercurius, { type MercuriusContext } from 'mercurius'
import { ERROR_STATUS, type ErrorCode, errors, type HourglassError, isErrorCode, isHourglassError } from '../model/index.js'
import { JSON_TYPE as ODATA_JSON_TYPE } from './odata/errors.js'

const { ErrorWithProps } = mercurius

/** Longest piece of a client's input echoed back in a message. */
const ECHO_MAX = 200

export function clip (text: string): string {
  return text.length > ECHO_MAX ? text.slice(0, ECHO_MAX) + '…' : text
}

/** A catalogue error from its code and a message already made (a coded ErrorWithProps's). */
function coded (code: ErrorCode, message: string): HourglassError {
  return Object.assign(new Error(message), { code, statusCode: ERROR_STATUS[code] })
}

// ── mapping ───────────────────────────────────────────────────────────────────────────────────

interface ValidationItem {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

const CONTEXT_NOUN: Record<string, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
  body: 'body property'
}

/** The parameters a route's querystring schema allows, for HG_ERR_UNKNOWN_PARAMETER. */
function allowedParameters (request: FastifyRequest | undefined): string {
  const schema = request?.routeOptions?.schema?.querystring as { properties?: Record<string, unknown> } | undefined
  const names = Object.keys(schema?.properties ?? {})
  return names.length === 0 ? 'none' : names.join(', ')
}

function fromValidation (err: FastifyError, request: FastifyRequest | undefined): HourglassError {
  const item = (err.validation as ValidationItem[] | undefined)?.[0]
  const context = err.validationContext ?? 'querystring'
  const noun = CONTEXT_NOUN[context] ?? context
  if (item === undefined) return new errors.HG_ERR_VALIDATION(clip(err.message))
  if (item.keyword === 'additionalProperties' && context === 'querystring') {
    return new errors.HG_ERR_UNKNOWN_PARAMETER(clip(String(item.params.additionalProperty)), allowedParameters(request))
  }
  if (item.keyword === 'required' && context === 'querystring') {
    return new errors.HG_ERR_MISSING_PARAMETER(String(item.params.missingProperty))
  }
  const name = item.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const what = name === '' ? context : `${noun} "${name}"`
  return new errors.HG_ERR_VALIDATION(`${what} ${item.message ?? 'is invalid'}`)
}

type Foreign = (err: Error & { statusCode?: number }, request: FastifyRequest | undefined) => HourglassError

const invalid: Foreign = (err) => new errors.HG_ERR_VALIDATION(clip(err.message))

/** Fastify's and mercurius's client errors, by code. */
const FOREIGN: Record<string, Foreign> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (_err, request) => new errors.HG_ERR_BODY_TOO_LARGE(request?.routeOptions?.bodyLimit ?? '?'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_err, request) => new errors.HG_ERR_UNSUPPORTED_MEDIA_TYPE(clip(String(request?.headers?.['content-type'] ?? ''))),
  MER_ERR_METHOD_NOT_ALLOWED: (_err, request) =>
    new errors.HG_ERR_METHOD_NOT_ALLOWED(request?.method ?? 'GET', 'GET runs queries only; send other operations with POST'),
  FST_ERR_CTP_INVALID_JSON_BODY: invalid,
  FST_ERR_CTP_EMPTY_JSON_BODY: invalid,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: invalid,
  FST_ERR_BAD_URL: invalid,
  FST_ERR_INVALID_URL: invalid,
  // mercurius: variables or extensions that are not JSON (the parse error, with this code)
  MER_ERR_GQL_VALIDATION: invalid
}

/** What a GraphQLError wraps (graphql-js wraps one in another: variables), or itself when it wraps nothing else. */
function causeOf (err: GraphQLError): unknown {
  let cause: unknown = err
  while (cause instanceof GraphQLError && cause.originalError !== undefined && cause.originalError !== null) cause = cause.originalError
  return cause instanceof GraphQLError ? err : cause
}

/** The catalogue code an ErrorWithProps carries in `extensions.code`, if any. */
function codeOfProps (err: unknown): ErrorCode | undefined {
  const code = err instanceof ErrorWithProps ? (err.extensions as { code?: unknown } | undefined)?.code : undefined
  return isErrorCode(code) ? code : undefined
}

/** Any error, as a catalogue error (see the top of this file). */
export function toHourglassError (err: unknown, request?: FastifyRequest): HourglassError {
  if (isHourglassError(err)) {
    if (!isErrorCode(err.code)) return new errors.HG_ERR_INTERNAL() // an HG_ERR_ code the catalogue lacks: a fault of ours
    return err.statusCode === ERROR_STATUS[err.code] ? err : coded(err.code, err.message)
  }
  const propsCode = codeOfProps(err)
  if (propsCode !== undefined) return coded(propsCode, (err as Error).message)
  if (err instanceof GraphQLError) {
    const cause = causeOf(err)
    return cause === err ? new errors.HG_ERR_GRAPHQL_VALIDATION(clip(err.message)) : toHourglassError(cause, request)
  }
  if (!(err instanceof Error)) return new errors.HG_ERR_INTERNAL()
  const fe = err as Partial<FastifyError>
  if (Array.isArray(fe.validation)) return fromValidation(fe as FastifyError, request)
  const foreign = typeof fe.code === 'string' ? FOREIGN[fe.code] : undefined
  if (foreign !== undefined) return foreign(err, request)
  const status = fe.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) return invalid(err, request)
  return new errors.HG_ERR_INTERNAL()
}

/**
 * The catalogue error for `err`; a fault of ours (HG_ERR_INTERNAL) has its cause logged, once: an
 * error that already is a catalogue error was logged where it was made one.
 */
function answer (err: unknown, log: FastifyBaseLogger, request?: FastifyRequest): HourglassError {
  const hg = toHourglassError(err, request)
  const cause = err instanceof GraphQLError ? causeOf(err) : err
  const made = (isHourglassError(cause) && isErrorCode(cause.code)) || codeOfProps(cause) !== undefined
  if (hg.code === 'HG_ERR_INTERNAL' && !made) log.error({ err: cause }, 'unhandled error')
  return hg
}

// ── REST ──────────────────────────────────────────────────────────────────────────────────────

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

function errorBody (err: HourglassError): ErrorBody {
  return { statusCode: err.statusCode, code: err.code, error: STATUS_CODES[err.statusCode] ?? 'Error', message: err.message }
}

/** The path of a request target (origin form, or the absolute form a proxy sends) is /odata or under it. */
export function isODataPath (target: string): boolean {
  return /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*)?\/odata(?:[/?#]|$)/.test(target)
}

/** The error in the body of the URL's API (OData under /odata, else REST). */
export function sendError (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isODataPath(request.url)) {
    const { status, body } = odataError(err, request)
    return reply.code(status).header('OData-Version', '4.0').type(ODATA_JSON_TYPE).send(JSON.stringify(body))
  }
  const hg = answer(err, request.log, request)
  return reply.code(hg.statusCode).type('application/json; charset=utf-8').send(errorBody(hg))
}

// ── the HTTP parser ───────────────────────────────────────────────────────────────────────────

/** The catalogue error for a request Node's HTTP parser refused (or that timed out), by the error's code. */
function parserError (err: Error & { code?: string, reason?: string }): HourglassError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return new errors.HG_ERR_HEADERS_TOO_LARGE(maxHeaderSize)
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new errors.HG_ERR_REQUEST_TIMEOUT(err.code)
  const why = clip(typeof err.reason === 'string' ? err.reason : (err.code ?? 'malformed'))
  const hint = err.code === 'HPE_INVALID_URL' ? ': percent-encode every byte of the URL that is not printable ASCII' : ''
  return new errors.HG_ERR_VALIDATION(`the request line or headers are not HTTP/1.1 (${why})${hint}`)
}

/** Writes `hg` as a whole HTTP/1.1 answer to a socket no route answers on, then closes it. */
export function writeRawError (socket: Duplex, hg: HourglassError, opts: { odata: boolean, headers?: string[] }): void {
  const body = JSON.stringify(opts.odata ? { error: { code: hg.code, message: hg.message } } : errorBody(hg))
  const head = [
    `HTTP/1.1 ${hg.statusCode} ${STATUS_CODES[hg.statusCode] ?? 'Error'}`,
    `Content-Type: ${opts.odata ? ODATA_JSON_TYPE : 'application/json; charset=utf-8'}`,
    ...(opts.odata ? ['OData-Version: 4.0'] : []),
    ...(opts.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close'
  ]
  if (socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0) socket.write(head.join('\r\n') + '\r\n\r\n' + body)
  socket.destroy()
}

/**
 * Fastify's clientErrorHandler: Node's HTTP parser refused the request (a NUL or a byte over 0x7F in
 * the URL, headers over the size limit, a timeout), so no route runs. The answer is written to the
 * socket by hand, in the catalogue shape (OData's when the request line names /odata), and the
 * connection is closed. Nothing of the request is logged: its headers may hold credentials.
 */
export function clientErrorHandler (this: FastifyInstance, err: Error & { code?: string, rawPacket?: unknown }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const hg = parserError(err)
  this.log.debug({ code: err.code, status: hg.statusCode }, 'HTTP parser refused a request')
  const line = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 8192).toString('latin1') : ''
  const target = /^[A-Za-z]+ ([^ \r\n]*)/.exec(line)?.[1] ?? ''
  writeRawError(socket, hg, { odata: isODataPath(target) })
}

// ── OData ─────────────────────────────────────────────────────────────────────────────────────

export interface ODataErrorBody {
  error: {
    code: string
    message: string
    target?: string
    innererror?: { position: number }
  }
}

/** The OData error body and status for `err`; `target` and `position` come from the error (odata/errors.ts). */
export function odataError (err: unknown, request: FastifyRequest): { status: number, body: ODataErrorBody } {
  const hg = answer(err, request.log, request)
  const extra = hg as { target?: unknown, position?: unknown }
  const body: ODataErrorBody = { error: { code: hg.code, message: hg.message } }
  if (hg.code === 'HG_ERR_ODATA_BAD_FILTER') {
    body.error.target = '$filter'
    if (typeof extra.position === 'number') body.error.innererror = { position: extra.position }
  } else if (typeof extra.target === 'string') {
    body.error.target = extra.target
  }
  return { status: hg.statusCode, body }
}

// ── GraphQL ───────────────────────────────────────────────────────────────────────────────────

/** A catalogue error as mercurius's ErrorWithProps: its code in `extensions.code`, its status. */
export function withProps (hg: HourglassError): InstanceType<typeof ErrorWithProps> {
  return new ErrorWithProps(hg.message, { code: hg.code }, hg.statusCode)
}

/** A GraphQL error for a catalogue error, placed at `nodes` (graphql-js copies the original's extensions). */
export function codedGraphQLError (hg: HourglassError, nodes?: GraphQLError['nodes']): GraphQLError {
  return new GraphQLError(hg.message, { nodes: nodes ?? undefined, originalError: withProps(hg) })
}

/** A resolver's error as a coded ErrorWithProps; a fault of ours is logged and hidden. */
export function resolverError (err: unknown, log: FastifyBaseLogger): InstanceType<typeof ErrorWithProps> {
  return withProps(answer(err, log))
}

/** One GraphQL error with its catalogue code and message, where it was; and the status it stands for. */
export function toCodedGraphQLError (err: GraphQLError, log: FastifyBaseLogger, request?: FastifyRequest): { error: GraphQLError, status: number } {
  const hg = answer(err, log, request)
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

/** The errors of a refused document: mercurius's MER_ERR_GQL_VALIDATION, or an AggregateError of ours. */
function documentErrors (err: GraphQLError): readonly unknown[] | undefined {
  const original = err.originalError as (Error & { code?: unknown, errors?: unknown }) | undefined
  if (original === undefined || !(original.code === 'MER_ERR_GQL_VALIDATION' || original instanceof AggregateError)) return undefined
  return Array.isArray(original.errors) ? original.errors : undefined
}

function flatten (errs: readonly GraphQLError[]): GraphQLError[] {
  const asGraphQLError = (i: unknown): GraphQLError =>
    i instanceof GraphQLError ? i : new GraphQLError(String((i as Error).message), { originalError: i as Error })
  return errs.flatMap((e) => documentErrors(e)?.map(asGraphQLError) ?? [e])
}

/**
 * mercurius's errorFormatter: every error gets its code. The status is 200 when there is data;
 * otherwise the first error's (400 for a bad argument or document, 500 for a fault of ours).
 */
export function formatGraphQLErrors (
  execution: ExecutionResult & Required<Pick<ExecutionResult, 'errors'>>,
  context: MercuriusContext
): { statusCode: number, response: FormattedExecutionResult } {
  const request = context.reply?.request
  const log = request?.log ?? context.app.log
  const mapped = flatten(execution.errors).map((e) => toCodedGraphQLError(e, log, request))
  const data = execution.data ?? null
  const statusCode = data !== null ? 200 : mapped[0]?.status ?? 500
  return { statusCode, response: { data, errors: mapped.map((m) => m.error.toJSON()) } }
}

/** The methods a 405's Allow may list. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

function routed (app: FastifyInstance, method: string, path: string): boolean {
  try {
    return app.findRoute({ method: method as (typeof METHODS)[number], url: path }) !== null
  } catch {
    return false // a path the router cannot decode
  }
}

// ── the REST plugin ───────────────────────────────────────────────────────────────────────────

async function errorsPlugin (app: FastifyInstance): Promise<void> {
  // A parameter given twice (from=a&from=b) arrives as an array: say so, rather than "must be string".
  app.addHook('preValidation', async (request) => {
    const query = request.query as Record<string, unknown> | undefined
    if (query === null || typeof query !== 'object') return
    for (const [name, value] of Object.entries(query)) {
      if (Array.isArray(value)) {
        throw new errors.HG_ERR_VALIDATION(`query parameter "${clip(name)}" is given ${value.length} times; ` +
          'give it once (lists are comma-separated: group_by=event_type,region)')
      }
    }
  })

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply))

  // A request that still arrives while the server closes (on a connection busy until then) is a 503
  // in the catalogue shape: Fastify's own has no code (return503OnClosing is off in server.ts).
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return
    reply.header('Retry-After', '1')
    throw new errors.HG_ERR_NOT_READY('the server is shutting down; send the request again')
  })

  // A path some route serves with other methods: 405 with Allow; else 404. OPTIONS alone does not
  // make a path known (a CORS plugin answers preflights on every path).
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url
    const allow = METHODS.filter((method) => method !== request.method && routed(app, method, path))
    if (!allow.some((m) => m !== 'OPTIONS')) return sendError(new errors.HG_ERR_NOT_FOUND(request.method, clip(path)), request, reply)
    reply.header('Allow', allow.join(', '))
    return sendError(new errors.HG_ERR_METHOD_NOT_ALLOWED(request.method, `${clip(path)} answers ${allow.join(', ')}`), request, reply)
  })
}

export default fp(errorsPlugin, { name: 'hourglass-errors', fastify: '5.x' })
