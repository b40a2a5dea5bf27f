// Authentication, scopes, rate limits and the subscription cap of the HTTP server.
export { type AuthSettings, Authenticator } from './authenticator.js'
export { redactUrl } from './credentials.js'
export { default as authPlugin } from './plugin.js'
export type { Principal } from './principal.js'
export { GraphqlGuard } from './graphql-guard.js'
export { scopeFor } from './scopes.js'
