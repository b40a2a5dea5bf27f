// HTTPS served by the process itself (HOURGLASS_TLS_CERT / HOURGLASS_TLS_KEY), for setups without a
// TLS-terminating proxy: Fastify's `https` option, so it makes a node:https server with its own
// timeouts and says https:// in its addresses.
/** PEM contents of the certificate chain and its private key. */
export interface TlsMaterial {
  cert: Buffer
  key: Buffer
}

/**
 * Fastify's `https` option for `material`. Typed as the HTTP server's option: node:https serves the
 * same request and response objects as node:http, so the server keeps one type either way.
 */
export function httpsOption (material: TlsMaterial | undefined): { https?: null } {
  return material === undefined ? {} : { https: { cert: material.cert, key: material.key } } as unknown as { https?: null }
}
