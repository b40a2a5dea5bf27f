// Authentication inside GraphQL. Queries: the HTTP hook has checked metrics:read; `quality` (the
// data of GET /v1/quality) also needs ops:read. Subscriptions over WebSocket: credentials come with
// the upgrade request (checked by the HTTP hook) or in connection_init's payload (checked here, in
// mercurius's onConnect: bad ones refuse the connection). Each `subscribe` then needs a principal
// with metrics:read, and one key (an anonymous client: its IP) holds at most
// maxSubscriptionsPerKey subscriptions at once; a refusal is a GraphQL error with its catalogue code.
import type { FastifyRequest } from 'fastify'
import { type DocumentNode, visit } from 'graphql'
import type { MercuriusContext } from 'mercurius'
import { errors } from '../../model/index.js'
import { codedGraphQLError } from '../errors.js'
import type { Authenticator } from './authenticator.js'
import { credentialOf } from './credentials.js'
import type { Principal } from './principal.js'

/** What onConnect adds to a connection's context. */
interface Held {
  hgPrincipal: Principal | null
  /** the subscription ids this connection holds, counted against its key */
  hgHeld: Map<string, string>
}

type Ctx = MercuriusContext & Partial<Held> & { request?: FastifyRequest & { principal?: Principal | null } }

/** A connection_init payload's credentials, as headers: { Authorization }, { headers: {…} }, { 'X-API-Key' } or { api_key }. */
function payloadHeaders (payload: unknown): { headers: Record<string, string>, key: string | undefined } {
  const p = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>
  const source = (p.headers !== null && typeof p.headers === 'object' ? p.headers : p) as Record<string, unknown>
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(source)) if (typeof value === 'string') headers[name.toLowerCase()] = value
  const key = typeof p.api_key === 'string' ? p.api_key : typeof p.apiKey === 'string' ? p.apiKey : undefined
  return { headers, key }
}

/** Query fields that need more than metrics:read. */
const FIELD_SCOPES: Record<string, string> = { quality: 'ops:read' }

export class GraphqlGuard {
  readonly #auth: Authenticator
  readonly #max: number
  /** key → subscriptions held */
  readonly #counts = new Map<string, number>()

  constructor (auth: Authenticator) {
    this.#auth = auth
    this.#max = auth.settings.maxSubscriptionsPerKey ?? Infinity
  }

  /** The subscriptions a key holds now. */
  held (key: string): number {
    return this.#counts.get(key) ?? 0
  }

  readonly preExecution = async (_schema: unknown, document: DocumentNode, context: Ctx): Promise<void> => {
    const principal = context.reply?.request?.principal
    if (!this.#auth.enabled || principal === null || principal === undefined) return
    let missing: { field: string, scope: string } | undefined
    visit(document, {
      Field (node) {
        const scope = FIELD_SCOPES[node.name.value]
        if (scope !== undefined && !principal.scopes.has(scope)) missing ??= { field: node.name.value, scope }
      }
    })
    if (missing !== undefined) throw codedGraphQLError(new errors.HG_ERR_FORBIDDEN(principal.name, missing.scope, `the GraphQL field ${missing.field}`))
  }

  readonly onConnect = async (data: { payload: unknown }): Promise<Held | false> => {
    const { headers, key } = payloadHeaders(data.payload)
    const credential = credentialOf(headers, key)
    if (credential === null || !this.#auth.enabled) return { hgPrincipal: null, hgHeld: new Map() }
    const outcome = await this.#auth.authenticate(credential)
    return outcome.ok ? { hgPrincipal: outcome.principal, hgHeld: new Map() } : false
  }

  readonly preSubscriptionExecution = async (_schema: unknown, _document: unknown, context: Ctx, id?: string | number): Promise<void> => {
    const principal = context.hgPrincipal ?? context.request?.principal ?? null
    if (this.#auth.enabled) {
      if (principal === null) throw codedGraphQLError(new errors.HG_ERR_UNAUTHENTICATED('send credentials with the upgrade or in connection_init'))
      if (!principal.scopes.has('metrics:read')) {
        throw codedGraphQLError(new errors.HG_ERR_FORBIDDEN(principal.name, 'metrics:read', 'a GraphQL subscription'))
      }
    }
    const key = principal?.id ?? `ip:${context.request?.ip ?? '?'}`
    const held = this.held(key)
    if (held >= this.#max) throw codedGraphQLError(new errors.HG_ERR_TOO_MANY_SUBSCRIPTIONS(held, this.#max))
    this.#counts.set(key, held + 1)
    context.hgHeld?.set(String(id), key)
  }

  #release (held: Map<string, string> | undefined, id: string): void {
    const key = held?.get(id)
    if (held === undefined || key === undefined) return
    held.delete(id)
    const n = this.held(key) - 1
    if (n > 0) this.#counts.set(key, n)
    else this.#counts.delete(key)
  }

  readonly onSubscriptionEnd = async (context: Ctx, id: string | number): Promise<void> => {
    this.#release(context.hgHeld, String(id))
  }

  readonly onDisconnect = (context: Ctx): void => {
    for (const id of [...(context.hgHeld?.keys() ?? [])]) this.#release(context.hgHeld, id)
  }
}
