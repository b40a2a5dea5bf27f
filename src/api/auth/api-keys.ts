// API keys as presented by clients, checked against the keys file. scrypt runs once per distinct
// presented key: the outcome is cached under an HMAC of the key (a per-process secret), so the
// cache holds no key and a lookup costs one HMAC. The file is read again when it changes
// (`hourglass keys revoke` takes effect within a second); the cache is then emptied.
import { createHmac, randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { LRUCache } from 'lru-cache'
import { type ApiKeyRecord, inForce, keyIdOf, readKeysFile, verifyKey } from './keys-file.js'
import type { Principal } from './principal.js'

/** How often the file's modification time is looked at, ms. */
const RECHECK_MS = 1000

export type KeyCheck = { ok: true, principal: Principal } | { ok: false, why: string }

export class ApiKeys {
  readonly #path: string
  readonly #now: () => number
  readonly #secret = randomBytes(32)
  /** HMAC(presented key) → the id of the record it matched, or null when it matches none */
  readonly #cache = new LRUCache<string, string | { miss: true }>({ max: 10_000 })
  #byId = new Map<string, ApiKeyRecord>()
  #stamp = ''
  #checkedAt = -Infinity
  #reloading: Promise<void> | null = null

  private constructor (path: string, now: () => number) {
    this.#path = path
    this.#now = now
  }

  /** Reads the file now: a missing or malformed file fails here, at start. */
  static async open (path: string, now: () => number): Promise<ApiKeys> {
    const keys = new ApiKeys(path, now)
    await keys.#reload()
    return keys
  }

  async #reload (): Promise<void> {
    const info = await stat(this.#path)
    const stamp = `${info.mtimeMs}:${info.size}:${info.ino}`
    this.#checkedAt = this.#now()
    if (stamp === this.#stamp) return
    const file = await readKeysFile(this.#path)
    this.#byId = new Map(file.keys.map((k) => [k.id, k]))
    this.#cache.clear()
    this.#stamp = stamp
  }

  async #fresh (): Promise<void> {
    if (this.#now() - this.#checkedAt < RECHECK_MS) return
    // a file being replaced keeps the keys last read
    this.#reloading ??= this.#reload().catch(() => { this.#checkedAt = this.#now() }).finally(() => { this.#reloading = null })
    await this.#reloading
  }

  async check (token: string): Promise<KeyCheck> {
    await this.#fresh()
    const tag = createHmac('sha256', this.#secret).update(token).digest('base64url')
    let hit = this.#cache.get(tag)
    if (hit === undefined) {
      const id = keyIdOf(token)
      const record = id === null ? undefined : this.#byId.get(id)
      hit = record !== undefined && await verifyKey(token, record.hash) ? record.id : { miss: true }
      this.#cache.set(tag, hit)
    }
    const record = typeof hit === 'string' ? this.#byId.get(hit) : undefined
    if (record === undefined) return { ok: false, why: 'the API key is not valid' }
    const state = inForce(record, this.#now())
    if (state !== 'ok') return { ok: false, why: `the API key "${record.name}" has ${state === 'expired' ? 'expired' : 'been revoked'}` }
    return { ok: true, principal: { id: `key:${record.id}`, name: record.name, scopes: new Set(record.scopes) } }
  }
}
