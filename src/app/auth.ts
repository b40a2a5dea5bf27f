// The server's authentication settings from the configuration.
import type { AuthSettings } from '../api/auth/index.js'
import { authConfigured, type Config } from '../config.js'

export function authSettings (config: Config, now: () => number): AuthSettings {
  const on = authConfigured(config)
  return {
    ...(on && config.apiKeysFile !== '' ? { apiKeysFile: config.apiKeysFile } : {}),
    ...(on && config.jwtIssuer !== '' ? { jwt: { issuer: config.jwtIssuer, audience: config.jwtAudience, jwksUrl: config.jwtJwksUrl } } : {}),
    rateLimitMax: config.rateLimitMax,
    rateLimitWindowMs: config.rateLimitWindowMs,
    maxSubscriptionsPerKey: config.maxSubscriptionsPerKey,
    now
  }
}
