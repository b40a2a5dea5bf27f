// Credentials for the authentication tests: an API keys file with keys of each kind, and a JWT
// issuer (an RSA key pair made here and its JWKS served on 127.0.0.1, with discovery).
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { type ApiKeyRecord, makeKey, type Scope, writeKeysFile } from '../../src/api/auth/keys-file.js'

export interface TestKeys {
  dir: string
  file: string
  /** scopes metrics:read + ops:read */
  all: string
  metricsOnly: string
  opsOnly: string
  expired: string
  revoked: string
  records: ApiKeyRecord[]
  close (): Promise<void>
}

export async function makeTestKeys (now = Date.now()): Promise<TestKeys> {
  const dir = await mkdtemp(join(tmpdir(), 'hourglass-auth-'))
  const file = join(dir, 'keys.json')
  const make = (name: string, scopes: Scope[], expires: number | null = null) => makeKey(name, scopes, expires, now - 60_000)
  const [all, metricsOnly, opsOnly, expired, revoked] = await Promise.all([
    make('all', ['metrics:read', 'ops:read']),
    make('metrics', ['metrics:read']),
    make('ops', ['ops:read']),
    make('old', ['metrics:read', 'ops:read'], now - 1000),
    make('gone', ['metrics:read', 'ops:read'])
  ])
  revoked.record.revoked = new Date(now - 1000).toISOString()
  const records = [all, metricsOnly, opsOnly, expired, revoked].map((k) => k.record)
  await writeKeysFile(file, { keys: records })
  return {
    dir,
    file,
    all: all.token,
    metricsOnly: metricsOnly.token,
    opsOnly: opsOnly.token,
    expired: expired.token,
    revoked: revoked.token,
    records,
    close: () => rm(dir, { recursive: true, force: true })
  }
}

export interface TestIssuer {
  issuer: string
  audience: string
  jwksUrl: string
  /** how many times the JWKS was fetched */
  fetches: number
  sign (claims: Record<string, unknown>, opts?: { audience?: string, expiresIn?: string | number, issuer?: string }): Promise<string>
  close (): Promise<void>
}

/** An OIDC issuer on 127.0.0.1: /.well-known/openid-configuration and /jwks.json. */
export async function startTestIssuer (audience = 'api://hourglass'): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk: JWK = { ...await exportJWK(publicKey), kid: 'test-1', alg: 'RS256', use: 'sig' }
  let base = ''
  const state = { fetches: 0 }
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      state.fetches++
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))
    } else if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks.json` }))
    } else {
      res.writeHead(404).end()
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    issuer: base,
    audience,
    jwksUrl: `${base}/jwks.json`,
    get fetches () { return state.fetches },
    sign: (claims, opts = {}) => new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-1' })
      .setIssuer(opts.issuer ?? base)
      .setAudience(opts.audience ?? audience)
      .setIssuedAt()
      .setExpirationTime(opts.expiresIn ?? '10m')
      .sign(privateKey),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
