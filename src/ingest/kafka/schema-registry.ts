// A small client of a Confluent-compatible schema registry (its REST API: /schemas/ids/{id}, /subjects/{s}/versions,
// /config/{s}): what decoding needs (a writer schema by id, cached: an id never changes its schema) and what a producer
// needs (register a schema under a subject). Failures are told apart: an unknown id is the record's fault, anything
// else (refused connection, timeout, 5xx) is the registry's and is retried by the caller, never dead-lettered.

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json'

export interface SchemaRegistryOptions {
  /** the API's base URL, e.g. http://127.0.0.1:8081 (Confluent) or …/apis/ccompat/v7 (Apicurio) */
  url: string
  username?: string
  password?: string
  /** per request (default 5000 ms) */
  timeoutMs?: number
}

/** The registry answered that it has no schema under that id (HTTP 404): it is the record that is wrong. */
export class UnknownSchemaError extends Error {
  constructor (readonly id: number) {
    super(`the schema registry has no schema with id ${id}`)
    this.name = 'UnknownSchemaError'
  }
}

/** The registry could not be asked (network, timeout, 5xx, unexpected answer): retry later. */
export class RegistryUnavailableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RegistryUnavailableError'
  }
}

/** The registry refused a schema (HTTP 409: incompatible with the subject's earlier versions, or 422: invalid). */
export class SchemaRejectedError extends Error {
  constructor (readonly status: number, message: string) {
    super(message)
    this.name = 'SchemaRejectedError'
  }
}

export type Compatibility = 'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE'

export class SchemaRegistryClient {
  readonly url: string
  readonly #auth: string | undefined
  readonly #timeoutMs: number
  /** writer schemas by id, as the registry's JSON text */
  readonly #byId = new Map<number, string>()
  readonly #pending = new Map<number, Promise<string>>()

  constructor (options: SchemaRegistryOptions) {
    this.url = options.url.replace(/\/+$/, '')
    this.#timeoutMs = options.timeoutMs ?? 5000
    if (options.username !== undefined && options.username !== '') {
      this.#auth = 'Basic ' + Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')
    }
  }

  async #request (method: string, path: string, body?: unknown): Promise<{ status: number, json: Record<string, unknown> }> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE }
    if (this.#auth !== undefined) headers.authorization = this.#auth
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE
    let res: Response
    try {
      res = await fetch(this.url + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.#timeoutMs)
      })
    } catch (err) {
      throw new RegistryUnavailableError(`the schema registry at ${this.url} could not be reached: ${(err as Error).message}`, { cause: err })
    }
    const text = await res.text().catch(() => '')
    let json: Record<string, unknown> = {}
    try { json = JSON.parse(text) as Record<string, unknown> } catch { /* not JSON: told below by the status */ }
    return { status: res.status, json }
  }

  /** The cached writer schema of `id`, if it was fetched already (no I/O). */
  cached (id: number): string | undefined {
    return this.#byId.get(id)
  }

  /** The schema with this id (JSON text), fetched once and cached. */
  schemaById (id: number): Promise<string> {
    const known = this.#byId.get(id)
    if (known !== undefined) return Promise.resolve(known)
    let p = this.#pending.get(id)
    if (p === undefined) {
      p = this.#fetchSchema(id).finally(() => this.#pending.delete(id))
      this.#pending.set(id, p)
    }
    return p
  }

  async #fetchSchema (id: number): Promise<string> {
    const { status, json } = await this.#request('GET', `/schemas/ids/${id}`)
    if (status === 404) throw new UnknownSchemaError(id)
    if (status !== 200 || typeof json.schema !== 'string') {
      throw new RegistryUnavailableError(`the schema registry answered ${status} for schema id ${id}`)
    }
    this.#byId.set(id, json.schema)
    return json.schema
  }

  /** Register `schema` (Avro, JSON text) under `subject`; its id (the same id when it is registered already). */
  async register (subject: string, schema: string): Promise<number> {
    const { status, json } = await this.#request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema })
    if (status === 409 || status === 422) {
      throw new SchemaRejectedError(status, `the schema registry refused the schema for ${subject}: ${String(json.message)}`)
    }
    if (status !== 200 || typeof json.id !== 'number') throw new RegistryUnavailableError(`the schema registry answered ${status} registering ${subject}`)
    this.#byId.set(json.id, schema)
    return json.id
  }

  /** Set the compatibility rule a new version of `subject` must follow. */
  async setCompatibility (subject: string, compatibility: Compatibility): Promise<void> {
    const { status } = await this.#request('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility })
    if (status !== 200) throw new RegistryUnavailableError(`the schema registry answered ${status} setting ${subject}'s compatibility`)
  }
}

export interface WriterSchemaSourceOptions {
  /** the registry stopped answering at `since` (with why), or answers again (null) */
  onUnavailable?: (since: number | null, err?: Error) => void
  /** stop retrying (the process is stopping): the batch then fails instead of waiting */
  signal?: AbortSignal
  /** the longest wait between two attempts (default 5 s; the first is 100 ms, doubling) */
  maxBackoffMs?: number
  now?: () => number
}

/**
 * The writer schemas of `ids` (null for an id the registry does not have). While the registry does not answer, tries
 * again with backoff for as long as that lasts: a record is never judged for the registry's outage.
 */
export function writerSchemaSource (client: SchemaRegistryClient, o: WriterSchemaSourceOptions = {}): (ids: number[]) => Promise<Map<number, string | null>> {
  const now = o.now ?? Date.now
  let since: number | null = null
  const one = (id: number): Promise<[number, string | null]> => client.schemaById(id).then(
    (schema) => [id, schema],
    (err: unknown) => { if (err instanceof UnknownSchemaError) return [id, null]; throw err })
  return async (ids) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const got = new Map(await Promise.all(ids.map(one)))
        if (since !== null) { since = null; o.onUnavailable?.(null) }
        return got
      } catch (err) {
        if (!(err instanceof RegistryUnavailableError) || o.signal?.aborted === true) throw err
        if (since === null) { since = now(); o.onUnavailable?.(since, err) }
        const wait = Math.min(o.maxBackoffMs ?? 5000, 100 * 2 ** Math.min(attempt, 10))
        await new Promise<void>((resolve) => {
          const done = (): void => { clearTimeout(timer); o.signal?.removeEventListener('abort', done); resolve() }
          const timer = setTimeout(done, wait)
          o.signal?.addEventListener('abort', done, { once: true })
        })
      }
    }
  }
}
