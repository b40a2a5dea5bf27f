// The OData-specific parts of its errors: the error that names a system query option as its target,
// and the content type of every JSON answer, errors included. The body itself is made by
// src/api/errors.ts, with the same HG_ERR_* code REST puts in `code`.
import { errors, type HourglassError } from '../../model/index.js'

export const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8'

/** HG_ERR_ODATA_BAD_OPTION naming the option as the error's target. */
export function badOption (name: string, message: string): HourglassError & { target: string } {
  const err = new errors.HG_ERR_ODATA_BAD_OPTION(name, message) as HourglassError & { target: string }
  err.target = name
  return err
}
