// The scope each route needs. Pure. Liveness and readiness are public (probes carry no
// credentials), and so are the browser pages' shells and their scripts (they hold no data: each call
// they make carries the user's key); operational data needs ops:read; every other route, the API
// documentation and unknown paths included, needs metrics:read.
import type { Scope } from './keys-file.js'

export type Need = Scope | 'public'

const PUBLIC = new Set(['/healthz', '/readyz'])
const OPS = new Set(['/v1/quality', '/v1/dead-letters', '/v1/reconciliation', '/metrics'])
const PAGES = /^\/(dashboard|graphiql)(\/[^/]*)?$/

/** `path`: the route's URL pattern, or the request's path when no route matched. */
export function scopeFor (path: string): Need {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path
  if (PUBLIC.has(p) || PAGES.test(p)) return 'public'
  if (OPS.has(p)) return 'ops:read'
  return 'metrics:read'
}

/** Paths a browser or Power BI opens: their challenge is Basic, so the user is asked for a key. */
export function wantsBasic (path: string): boolean {
  return /^\/(odata|docs)(\/|$)/.test(path)
}
