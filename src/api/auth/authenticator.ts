// One place that turns a presented credential into a Principal, or says why not: API keys
// (api-keys.ts) and JWTs (jwt.ts). A Bearer value shaped like a JWT goes to the JWT verifier when
// one is configured; every other value is an API key.
import { ApiKeys } from './api-keys.js'
import type { Credential } from './credentials.js'
import { type JwtOptions, JwtVerifier, looksLikeJwt } from './jwt.js'
import type { Principal } from './principal.js'

export interface AuthSettings {
  /** the API keys file; absent: no keys */
  apiKeysFile?: string
  /** absent: no JWTs */
  jwt?: JwtOptions
  /** most requests per key (per IP when anonymous) in each window; 0 or absent: no limit */
  rateLimitMax?: number
  rateLimitWindowMs?: number
  /** most GraphQL subscriptions one key (or anonymous IP) holds at once; absent: no cap */
  maxSubscriptionsPerKey?: number
  now?: () => number
}

export type AuthOutcome = { ok: true, principal: Principal } | { ok: false, why: string }

export class Authenticator {
  readonly settings: AuthSettings
  /** whether credentials are required (keys or JWTs are configured) */
  readonly enabled: boolean
  readonly #jwt: JwtVerifier | null
  #keys: ApiKeys | null = null

  constructor (settings: AuthSettings) {
    this.settings = settings
    this.enabled = settings.apiKeysFile !== undefined || settings.jwt !== undefined
    this.#jwt = settings.jwt === undefined ? null : new JwtVerifier(settings.jwt)
  }

  /** Reads the keys file (a missing or malformed one fails here). */
  async open (): Promise<void> {
    if (this.settings.apiKeysFile !== undefined && this.#keys === null) {
      this.#keys = await ApiKeys.open(this.settings.apiKeysFile, this.settings.now ?? Date.now)
    }
  }

  async authenticate (credential: Credential | null): Promise<AuthOutcome> {
    if (credential === null) return { ok: false, why: 'no credentials: send an API key (Authorization: Bearer, X-API-Key, Basic password) or a JWT' }
    if (credential.kind === 'malformed') return { ok: false, why: credential.why }
    const secret = credential.secret
    if (secret === '') return { ok: false, why: 'the credentials are empty' }
    if (this.#jwt !== null && looksLikeJwt(secret)) return await this.#jwt.check(secret)
    if (this.#keys === null) return { ok: false, why: this.#jwt === null ? 'the API key is not valid' : 'the token is not a JWT' }
    return await this.#keys.check(secret)
  }
}
