// The credential a request presents, and the URL with `api_key` taken out. Pure.
// Accepted, first found wins: Authorization Bearer <key or JWT>, Authorization Basic with the key
// as password (any user name: Power BI's "Basic"), X-API-Key, and ?api_key= (Power BI's "Web API"
// key with ApiKeyName="api_key").

export const API_KEY_PARAMETER = 'api_key'

export type Credential =
  | { kind: 'bearer' | 'basic' | 'header' | 'query', secret: string }
  | { kind: 'malformed', why: string }

type Headers = Record<string, string | string[] | undefined>

function one (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function decodeComponent (text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return null
  }
}

/** The URL without any api_key parameter, and the first api_key's value. */
export function takeQueryKey (url: string): { url: string, key: string | undefined } {
  const q = url.indexOf('?')
  if (q === -1) return { url, key: undefined }
  let key: string | undefined
  const kept: string[] = []
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=')
    if (decodeComponent(eq === -1 ? part : part.slice(0, eq)) === API_KEY_PARAMETER) {
      key ??= decodeComponent(eq === -1 ? '' : part.slice(eq + 1)) ?? ''
    } else {
      kept.push(part)
    }
  }
  if (key === undefined) return { url, key }
  return { url: url.slice(0, q) + (kept.length === 0 ? '' : '?' + kept.join('&')), key }
}

/** A URL fit for a log line: api_key's value replaced. */
export function redactUrl (url: string): string {
  return url.replace(/([?&](?:api_key|api%5Fkey)=)[^&#]*/gi, '$1[redacted]')
}

export function credentialOf (headers: Headers, queryKey: string | undefined): Credential | null {
  const authorization = one(headers.authorization)
  if (authorization !== undefined) {
    const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(authorization)
    const scheme = m?.[1]?.toLowerCase()
    const value = m?.[2] ?? ''
    if (scheme === 'bearer') return { kind: 'bearer', secret: value }
    if (scheme === 'basic') {
      const text = Buffer.from(value, 'base64').toString('utf8')
      const colon = text.indexOf(':')
      if (colon === -1) return { kind: 'malformed', why: 'the Basic credentials are not user:password in base64' }
      return { kind: 'basic', secret: text.slice(colon + 1) }
    }
    return { kind: 'malformed', why: 'the Authorization header is neither Bearer <key or token> nor Basic' }
  }
  const header = one(headers['x-api-key'])
  if (header !== undefined) return { kind: 'header', secret: header.trim() }
  if (queryKey !== undefined) return { kind: 'query', secret: queryKey }
  return null
}
