// JWTs from an OIDC issuer (Entra ID and the like), verified with `jose`: signature against the
// issuer's JWKS (createRemoteJWKSet fetches and caches it, and fetches again for an unknown key
// id), `iss`, `aud`, `exp`/`nbf`. The JWKS URL is configured, or read once from the issuer's
// discovery document. Scopes come from `scp` or `scope` (space-separated or a list) and `roles`.
import { createRemoteJWKSet, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose'
import type { Principal } from './principal.js'

export interface JwtOptions {
  issuer: string
  audience: string
  /** '' : from `${issuer}/.well-known/openid-configuration` */
  jwksUrl: string
}

export type JwtCheck = { ok: true, principal: Principal } | { ok: false, why: string }

/** Three base64url parts, the first a JSON header: a compact JWS. */
export function looksLikeJwt (token: string): boolean {
  return /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)
}

function scopesOf (payload: JWTPayload): Set<string> {
  const out = new Set<string>()
  for (const claim of ['scp', 'scope', 'roles']) {
    const v = payload[claim]
    const list = typeof v === 'string' ? v.split(/\s+/) : Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []
    for (const s of list) if (s !== '') out.add(s)
  }
  return out
}

async function discoverJwks (issuer: string): Promise<URL> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) })
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  const doc = await response.json() as { jwks_uri?: unknown }
  if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} names no jwks_uri`)
  return new URL(doc.jwks_uri)
}

export class JwtVerifier {
  readonly #opts: JwtOptions
  #jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null

  constructor (opts: JwtOptions) {
    this.#opts = opts
  }

  #keySet (): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#jwks ??= (this.#opts.jwksUrl !== '' ? Promise.resolve(new URL(this.#opts.jwksUrl)) : discoverJwks(this.#opts.issuer))
      .then((url) => createRemoteJWKSet(url))
    // a failed discovery is tried again by the next request
    this.#jwks.catch(() => { this.#jwks = null })
    return this.#jwks
  }

  async check (token: string): Promise<JwtCheck> {
    try {
      const { payload } = await jwtVerify(token, await this.#keySet(), { issuer: this.#opts.issuer, audience: this.#opts.audience })
      const sub = typeof payload.sub === 'string' ? payload.sub : '(no subject)'
      return { ok: true, principal: { id: `jwt:${sub}`, name: sub, scopes: scopesOf(payload) } }
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, why: 'the token has expired' }
      if (err instanceof joseErrors.JWTClaimValidationFailed) return { ok: false, why: `the token's "${err.claim}" claim is not accepted` }
      if (err instanceof joseErrors.JOSEError) return { ok: false, why: 'the token is not valid' }
      return { ok: false, why: 'the token could not be checked: the issuer\'s keys are not reachable' }
    }
  }
}
