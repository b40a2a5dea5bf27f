// The absolute base URL that @odata.context and @odata.nextLink start with. HOURGLASS_PUBLIC_URL
// when it is set (behind a proxy that rewrites paths, or to pin the name clients use); otherwise
// the scheme and host the client reached: Fastify's request.protocol and request.host, which take
// X-Forwarded-Proto/-Host only from the trusted proxies (HOURGLASS_TRUSTED_PROXIES, trustProxy).
// A host that is not host[:port] (a forged Host header) is not echoed: the listening address is.
import type { FastifyRequest } from 'fastify'

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*\\.?|\\[[0-9A-Fa-f:.]{2,45}\\])(?::(\\d{1,5}))?$`)

/** `host` when it is host[:port] with a port up to 65535, else null */
export function validHost (host: string | undefined): string | null {
  if (host === undefined || host.length > 260) return null
  const m = HOST.exec(host)
  if (m === null || (m[1] !== undefined && Number(m[1]) > 65535)) return null
  return host
}

function listeningAddress (request: FastifyRequest): string {
  let address = request.socket?.localAddress
  const port = request.socket?.localPort
  if (address === undefined || port === undefined) return 'localhost'
  if (address.startsWith('::ffff:') && address.includes('.')) address = address.slice('::ffff:'.length)
  return `${address.includes(':') ? `[${address}]` : address}:${port}`
}

/** e.g. https://metrics.example.com or http://127.0.0.1:3000, without a trailing slash */
export function baseUrl (request: FastifyRequest, publicUrl: string): string {
  if (publicUrl !== '') return publicUrl.replace(/\/+$/, '')
  const protocol = request.protocol?.toLowerCase() === 'https' ? 'https' : 'http'
  return `${protocol}://${validHost(request.host) ?? listeningAddress(request)}`
}
