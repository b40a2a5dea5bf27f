// How the HTTP server meets the network: HTTPS when a certificate and key are configured (read and
// checked here, so a bad file stops the start with a message naming the setting), and where it
// listens, before anything else is built, so a port in use fails at once.
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { TlsMaterial } from '../api/plugins/tls.js'
import type { BuildServerOptions, HourglassServer } from '../api/server.js'
import { type Config, ConfigError, envName } from '../config.js'
import { authSettings } from './auth.js'

/** The certificate and key files, read and checked as a pair; undefined without them (plain HTTP). */
export async function readTls (config: Pick<Config, 'tlsCert' | 'tlsKey'>): Promise<TlsMaterial | undefined> {
  if (config.tlsCert === '' || config.tlsKey === '') return undefined
  const read = async (key: 'tlsCert' | 'tlsKey'): Promise<Buffer> => {
    try {
      return await readFile(config[key])
    } catch (err) {
      throw new ConfigError(`${envName(key)}="${config[key]}" cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
    }
  }
  const material = { cert: await read('tlsCert'), key: await read('tlsKey') }
  try {
    createSecureContext(material)
  } catch (err) {
    throw new ConfigError(`${envName('tlsCert')} and ${envName('tlsKey')} are not a PEM certificate and its private key: ${(err as Error).message}`)
  }
  return material
}

/** Thrown when the server cannot listen; the message says where and why. */
export class ListenError extends Error {
  override name = 'ListenError'
}

/** Listen on host:port; a port in use (or not allowed) becomes a ListenError naming the settings. Returns the address. */
export async function listen (server: HourglassServer, config: Pick<Config, 'host' | 'port'>): Promise<string> {
  try {
    return await server.listen({ port: config.port, host: config.host })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EADDRINUSE' ? 'the port is in use (another process listens there)'
      : code === 'EACCES' ? 'not allowed (a port below 1024 needs privileges)'
        : code === 'EADDRNOTAVAIL' ? 'no such interface' : String(code ?? err)
    throw new ListenError(`cannot listen on ${config.host}:${config.port}: ${why}; set ${envName('port')} / ${envName('host')} (--port, --host)`)
  }
}

type EdgeOptions = Pick<BuildServerOptions, 'corsOrigins' | 'tls' | 'auth' | 'publicUrl' | 'trustedProxies' | 'skiptokenKey' | 'graphql' | 'pressure'>

/**
 * The server's edge from the settings: CORS, HTTPS, authentication, the public URL, trusted proxies,
 * the $skiptoken key, GraphQL's budgets and when to answer 503 for overload.
 */
export function edgeOptions (config: Config, now: () => number, tls: TlsMaterial | undefined): EdgeOptions {
  return {
    corsOrigins: config.corsOrigins,
    ...(tls === undefined ? {} : { tls }),
    auth: authSettings(config, now),
    publicUrl: config.publicUrl,
    trustedProxies: config.trustedProxies,
    skiptokenKey: config.skiptokenKey,
    graphql: { bodyLimit: config.graphqlBodyLimit, maxResponseBytes: config.graphqlMaxResponseBytes, timeoutMs: config.graphqlTimeoutMs },
    pressure: { maxEventLoopDelayMs: config.maxEventLoopDelayMs, maxHeapShare: config.maxHeapShare }
  }
}
