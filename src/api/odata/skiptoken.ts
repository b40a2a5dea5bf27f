// The $skiptoken of server-driven paging: the JSON of a SkipToken, base64url, then "." and its
// HMAC-SHA256, so that a client can only hand back a token this service issued. The key is
// HOURGLASS_SKIPTOKEN_KEY (the same in every process behind a balancer) or, when that is empty, a
// random one of this process (its tokens then end with it). The key is never logged or shown.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { badOption } from './errors.js'
import type { SkipToken, SortValue } from './paging.js'

export interface SkipTokenCodec {
  encode: (token: SkipToken) => string
  /** the token, or HG_ERR_ODATA_BAD_OPTION when it was not issued here (or is malformed) */
  decode: (text: string) => SkipToken
}

function badToken (): Error {
  return badOption('$skiptoken', 'it is not a token this service issued; follow @odata.nextLink as given')
}

const TOKEN = /^([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{43})$/

function parsePayload (payload: string): SkipToken {
  let raw: unknown
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    throw badToken()
  }
  const o = raw as { v?: unknown, s?: unknown, r?: unknown, a?: unknown, n?: unknown }
  const ok = o !== null && typeof o === 'object' && o.v === 2 && typeof o.s === 'string' &&
    Array.isArray(o.r) && o.r.length === 2 && o.r.every((x) => Number.isSafeInteger(x)) &&
    Array.isArray(o.a) && o.a.every((x) => x === null || typeof x === 'string' || typeof x === 'number') &&
    Number.isSafeInteger(o.n) && (o.n as number) >= 0
  if (!ok) throw badToken()
  const [from, to] = o.r as [number, number]
  return { set: o.s as string, range: { from, to }, after: o.a as SortValue[], returned: o.n as number }
}

/** A codec signing with `key` (UTF-8), or with a random key of this process when `key` is empty. */
export function skipTokenCodec (key: string): SkipTokenCodec {
  const secret = key === '' ? randomBytes(32) : Buffer.from(key, 'utf8')
  const mac = (payload: string): Buffer => createHmac('sha256', secret).update(payload).digest()
  return {
    encode: (t) => {
      const payload = Buffer.from(JSON.stringify({ v: 2, s: t.set, r: [t.range.from, t.range.to], a: t.after, n: t.returned })).toString('base64url')
      return `${payload}.${mac(payload).toString('base64url')}`
    },
    decode: (text) => {
      const m = TOKEN.exec(text)
      if (m === null) throw badToken()
      const given = Buffer.from(m[2] as string, 'base64url')
      const expected = mac(m[1] as string)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badToken()
      return parsePayload(m[1] as string)
    }
  }
}
