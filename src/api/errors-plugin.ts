// Every error response, whatever the route and whatever went wrong, has the body
// { statusCode, code, error, message } with a stable HG_ERR_* code from the catalogue
// (src/model/errors.ts):
// - catalogue errors pass through with their status;
// - schema validation errors become HG_ERR_UNKNOWN_PARAMETER (a parameter the route does not
//   take), HG_ERR_MISSING_PARAMETER or HG_ERR_VALIDATION, naming the parameter;
// - other Fastify 4xx errors (bad URL, body too large, …) become HG_ERR_VALIDATION with their status;
// - anything else is logged and answered 500 HG_ERR_INTERNAL without its message.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errors, type HourglassError, isHourglassError } from '../model/index.js'

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

/** Longest piece of a client's input echoed back in a message. */
const ECHO_MAX = 200

function clip (text: string): string {
  return text.length > ECHO_MAX ? text.slice(0, ECHO_MAX) + '…' : text
}

export function errorBody (err: HourglassError): ErrorBody {
  return { statusCode: err.statusCode, code: err.code, error: STATUS_CODES[err.statusCode] ?? 'Error', message: err.message }
}

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
function allowedParameters (request: FastifyRequest): string {
  const schema = request.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined
  const names = Object.keys(schema?.properties ?? {})
  return names.length === 0 ? 'none' : names.join(', ')
}

function fromValidation (err: FastifyError, request: FastifyRequest): HourglassError {
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

/** Any error thrown while handling a request, as a catalogue error. */
export function toHourglassError (err: unknown, request: FastifyRequest): HourglassError {
  if (isHourglassError(err)) return err
  const fe = err as Partial<FastifyError> | null
  if (fe !== null && typeof fe === 'object' && Array.isArray(fe.validation)) return fromValidation(fe as FastifyError, request)
  const status = fe?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const e: HourglassError = new errors.HG_ERR_VALIDATION(clip(String(fe?.message ?? STATUS_CODES[status])))
    e.statusCode = status
    return e
  }
  return new errors.HG_ERR_INTERNAL()
}

export function sendError (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const hg = toHourglassError(err, request)
  if (hg.statusCode >= 500 && hg.code !== 'HG_ERR_NOT_READY') {
    request.log.error({ err }, 'unhandled error')
  }
  return reply.code(hg.statusCode).type('application/json; charset=utf-8').send(errorBody(hg))
}

async function errorsPlugin (app: FastifyInstance): Promise<void> {
  // A parameter given twice (from=a&from=b) arrives as an array: say so, rather than "must be string".
  app.addHook('preValidation', async (request) => {
    const query = request.query as Record<string, unknown> | undefined
    if (query === null || typeof query !== 'object') return
    for (const [name, value] of Object.entries(query)) {
      if (Array.isArray(value)) {
        throw new errors.HG_ERR_VALIDATION(`query parameter "${clip(name)}" is given ${value.length} times; give it once (lists are comma-separated: group_by=event_type,region)`)
      }
    }
  })

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply))

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url
    return sendError(new errors.HG_ERR_NOT_FOUND(request.method, clip(path)), request, reply)
  })
}

export default fp(errorsPlugin, { name: 'hourglass-errors', fastify: '5.x' })
