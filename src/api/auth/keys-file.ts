// The API keys file (HOURGLASS_API_KEYS_FILE): one JSON document listing each key's id, name,
// scopes, optional expiry and scrypt hash (node:crypto's scrypt, with a random salt per key). The
// key itself is shown once, when it is made, and is never stored. A key reads
// `hg_<id>_<secret>`: the id finds its record, so a presented key is hashed against one record only.
import { randomBytes, scrypt as scryptCb, type ScryptOptions, timingSafeEqual } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: ScryptOptions) => Promise<Buffer>

/** The scopes a key or token may carry. */
export const SCOPES = ['metrics:read', 'ops:read'] as const
export type Scope = typeof SCOPES[number]

export interface ApiKeyRecord {
  id: string
  name: string
  scopes: Scope[]
  /** `scrypt$N$r$p$<salt>$<hash>`, base64url */
  hash: string
  created: string
  /** ISO instant after which the key is refused; null: never */
  expires: string | null
  /** ISO instant the key was revoked; null: in force */
  revoked: string | null
}

export interface KeysFile { keys: ApiKeyRecord[] }

// 2^15 × 8 × 128 bytes = 32 MiB and about 50 ms per hash; verified keys are cached (api-keys.ts)
const N = 32768
const R = 8
const P = 1
const KEY_LENGTH = 32
const MAXMEM = 64 * 1024 * 1024

const TOKEN = /^hg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/

/** The id of a presented key, or null when it is not shaped like one of ours. */
export function keyIdOf (token: string): string | null {
  return TOKEN.exec(token)?.[1] ?? null
}

export async function hashKey (token: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(token, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: MAXMEM })
  return ['scrypt', N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** Whether `token` hashes to `stored` (compared in constant time). */
export async function verifyKey (token: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$')
  if (kind !== 'scrypt' || salt === undefined || hash === undefined) return false
  const want = Buffer.from(hash, 'base64url')
  const got = await scrypt(token, Buffer.from(salt, 'base64url'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: MAXMEM })
  return got.length === want.length && timingSafeEqual(got, want)
}

/** A new key: its record (hashed) and the key itself, to show once. */
export async function makeKey (name: string, scopes: Scope[], expires: number | null, now: number): Promise<{ record: ApiKeyRecord, token: string }> {
  const id = randomBytes(6).toString('hex')
  const token = `hg_${id}_${randomBytes(32).toString('base64url')}`
  const record: ApiKeyRecord = {
    id,
    name,
    scopes,
    hash: await hashKey(token),
    created: new Date(now).toISOString(),
    expires: expires === null ? null : new Date(expires).toISOString(),
    revoked: null
  }
  return { record, token }
}

export class KeysFileError extends Error {
  override name = 'KeysFileError'
}

function checkRecord (r: unknown, path: string, i: number): ApiKeyRecord {
  const x = r as Partial<ApiKeyRecord> | null
  const ok = x !== null && typeof x === 'object' && typeof x.id === 'string' && typeof x.name === 'string' &&
    typeof x.hash === 'string' && Array.isArray(x.scopes) && x.scopes.every((s) => (SCOPES as readonly string[]).includes(s)) &&
    (x.expires === null || (typeof x.expires === 'string' && !Number.isNaN(Date.parse(x.expires)))) &&
    (x.revoked === null || typeof x.revoked === 'string')
  if (!ok) throw new KeysFileError(`${path}: key ${i + 1} is not a valid record (id, name, scopes of ${SCOPES.join('/')}, hash, expires, revoked)`)
  return x as ApiKeyRecord
}

/** The file's keys; a missing file is an empty one when `missingIsEmpty`. */
export async function readKeysFile (path: string, missingIsEmpty = false): Promise<KeysFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && missingIsEmpty) return { keys: [] }
    throw new KeysFileError(`cannot read the API keys file ${path}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new KeysFileError(`${path} is not JSON`)
  }
  const keys = (doc as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys)) throw new KeysFileError(`${path}: expected { "keys": [...] }`)
  return { keys: keys.map((k, i) => checkRecord(k, path, i)) }
}

/** Replace the file whole (temp file, then rename), readable by its owner only. */
export async function writeKeysFile (path: string, file: KeysFile): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 })
  await rename(temp, path)
}

/** Whether a record is in force at `now`: not revoked, not expired. */
export function inForce (record: ApiKeyRecord, now: number): 'ok' | 'revoked' | 'expired' {
  if (record.revoked !== null) return 'revoked'
  if (record.expires !== null && Date.parse(record.expires) <= now) return 'expired'
  return 'ok'
}
