// Node hands every request that asks for a protocol upgrade to the server's 'upgrade' listeners as
// soon as there are any (mercurius's WebSocket server is one), and then parses nothing more on that
// connection. Java's HttpClient sends `Upgrade: h2c` on every http:// request, so its next request
// on a keep-alive connection would never be answered. Here only WebSocket upgrades stay upgrades:
// any other is answered as the plain HTTP/1.1 request it also is, and the connection stays usable.
// This reaches into the connection's parser (Node 20 has no option for it; newer Node has
// `shouldUpgradeCallback`), guarded so that a Node without these internals keeps its own behaviour.
// As in Node without upgrade listeners, bytes pipelined behind such a request in the same packet
// are not read; a client that waits for each answer (Java's does) is served request after request.
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { errors } from '../model/index.js'
import { isODataPath, writeRawError } from './errors.js'

interface Parser {
  onIncoming?: ((req: IncomingMessage, keepAlive: boolean) => unknown) | null
}

export function isWebSocketUpgrade (req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade
  return typeof upgrade === 'string' && upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket')
}

function plainHttpUnlessWebSocket (socket: Socket & { parser?: Parser | null }): void {
  const parser = socket.parser
  const onIncoming = parser?.onIncoming
  if (parser == null || typeof onIncoming !== 'function') return
  parser.onIncoming = (req: IncomingMessage & { upgrade?: boolean }, keepAlive) => {
    if (req.upgrade === true && req.method !== 'CONNECT' && !isWebSocketUpgrade(req)) req.upgrade = false
    return onIncoming(req, keepAlive)
  }
}

/** CONNECT (a proxy tunnel, which this is not): 405 in the catalogue body; Node alone closes without a word. */
function refuseConnect (req: IncomingMessage, socket: Duplex): void {
  const target = (req.url ?? '').slice(0, 200)
  const hg = new errors.HG_ERR_METHOD_NOT_ALLOWED('CONNECT', `${target} is not a tunnel; this is an HTTP API`)
  writeRawError(socket, hg, { odata: isODataPath(target), headers: ['Allow: GET, HEAD, POST'] })
}

/** Declines every non-WebSocket upgrade on `server`'s connections (plain and TLS), and CONNECT. */
export function declineNonWebSocketUpgrades (server: Server): void {
  server.on('connection', plainHttpUnlessWebSocket)
  server.on('secureConnection', plainHttpUnlessWebSocket)
  server.on('connect', refuseConnect)
}
