// Who made a request, once authenticated, and what it may do.
import type { Scope } from './keys-file.js'

export interface Principal {
  /** 'key:<id>' or 'jwt:<sub>': what rate limits and the subscription cap count by; never a secret */
  id: string
  /** the key's name or the token's subject, for messages and logs */
  name: string
  scopes: ReadonlySet<string>
}

export type { Scope }
