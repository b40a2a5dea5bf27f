// Every error under /odata, whatever went wrong, as the OData JSON error body
//   { "error": { "code", "message", "target"?, "innererror"? } }
// with the same HG_ERR_* code from the catalogue that REST puts in `code` (src/model/errors.ts).
// Statuses and the 5xx rule (no internal message leaks) are the REST ones: see errors-plugin.ts.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors, type HourglassError } from '../../model/index.js'
import { toHourglassError } from '../errors-plugin.js'

export const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8'

/** HG_ERR_ODATA_BAD_OPTION naming the option as the error's target. */
export function badOption (name: string, message: string): HourglassError & { target: string } {
  const err = new errors.HG_ERR_ODATA_BAD_OPTION(name, message) as HourglassError & { target: string }
  err.target = name
  return err
}

export interface ODataErrorBody {
  error: {
    code: string
    message: string
    target?: string
    innererror?: { position: number }
  }
}

export function odataErrorBody (err: unknown, request: FastifyRequest): { status: number, body: ODataErrorBody } {
  const hg = toHourglassError(err, request)
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

export function sendODataError (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = odataErrorBody(err, request)
  if (status >= 500 && status !== 501 && body.error.code !== 'HG_ERR_NOT_READY') request.log.error({ err }, 'unhandled error')
  return reply.code(status).type(JSON_TYPE).send(JSON.stringify(body))
}
