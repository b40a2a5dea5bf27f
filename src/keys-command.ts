// `hourglass keys add|list|revoke`: the API keys file (HOURGLASS_API_KEYS_FILE or --keys-file).
// A new key is printed once and stored only as its scrypt hash (src/api/auth/keys-file.ts).
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type KeysFile, KeysFileError, makeKey, readKeysFile, type Scope, SCOPES, writeKeysFile } from './api/auth/keys-file.js'
import { acquireLock } from './batch/lock.js'
import { type ParsedArgs, usage } from './cli-args.js'
import { authConfigured, type Config, envName } from './config.js'
import { parseDuration, parseInstant } from './model/index.js'

const print = (line: string): void => { process.stdout.write(line + '\n') }
const fail = (message: string): number => { process.stderr.write(`hourglass: ${message}\n\n${usage('keys')}\n`); return 2 }

/** --expires: a duration from now (90d, 12h) or an ISO instant; undefined when malformed. */
function expiry (text: string, now: number): number | undefined {
  const d = parseDuration(text.trim())
  if (d !== null && d > 0) return now + d
  return parseInstant(text.trim()) ?? undefined
}

/** How long a change waits for another `hourglass keys` changing the same file. */
const LOCK_WAIT_MS = 15_000

/**
 * Read, change and write the keys file holding its lock (`<file>.lock`), so that two changes at
 * once do not lose one. `change` returns the exit code; the file is written only when it is 0.
 */
async function changeKeysFile (path: string, missingIsEmpty: boolean, change: (file: KeysFile) => Promise<number>): Promise<number> {
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    const r = await acquireLock(`${path}.lock`, { purpose: 'hourglass keys', staleMs: 30_000 })
    if (r.acquired) {
      try {
        const file = await readKeysFile(path, missingIsEmpty)
        const code = await change(file)
        if (code === 0) await writeKeysFile(path, file)
        return code
      } finally {
        await r.lock.release()
      }
    }
    if (Date.now() > deadline) { process.stderr.write(`hourglass: ${path} is being changed by another process (${r.reason}); try again\n`); return 1 }
    await sleep(100)
  }
}

export async function keysCommand (config: Config, parsed: ParsedArgs, now: number): Promise<number> {
  const [action, target, ...extra] = parsed.positionals
  if (config.apiKeysFile === '') return fail(`name the keys file with --keys-file or ${envName('apiKeysFile')}`)
  const path = resolve(config.apiKeysFile)
  if (action === 'list' && target === undefined) {
    const { keys } = await readKeysFile(path, true)
    if (keys.length === 0) print(`no keys in ${path}`)
    for (const k of keys) {
      const state = k.revoked !== null ? `revoked ${k.revoked}` : k.expires === null ? 'no expiry' : `expires ${k.expires}`
      print(`${k.id}  ${k.name.padEnd(20)} ${k.scopes.join(',').padEnd(21)} created ${k.created}  ${state}`)
    }
    return 0
  }
  if (action === 'add' && target === undefined) {
    const name = parsed.options.name?.trim() ?? ''
    if (name === '') return fail('keys add needs --name (who uses the key)')
    const scopes = (parsed.options.scopes ?? 'metrics:read').split(',').map((s) => s.trim()).filter((s) => s !== '')
    const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s))
    if (unknown !== undefined || scopes.length === 0) return fail(`--scopes="${parsed.options.scopes ?? ''}": use ${SCOPES.join(' and/or ')}`)
    let expires: number | null = null
    if (parsed.options.expires !== undefined) {
      const t = expiry(parsed.options.expires, now)
      if (t === undefined || t <= now) return fail(`--expires="${parsed.options.expires}" is not a future instant or a duration such as 90d`)
      expires = t
    }
    const { record, token } = await makeKey(name, [...new Set(scopes)] as Scope[], expires, now)
    const code = await changeKeysFile(path, true, async (file) => { file.keys.push(record); return 0 })
    if (code !== 0) return code
    print(`added key ${record.id} "${name}" (${record.scopes.join(', ')}${record.expires === null ? '' : ', expires ' + record.expires}) to ${path}`)
    print('the key (shown this once; it is stored only hashed):')
    print(token)
    return 0
  }
  if (action === 'revoke' && target !== undefined && extra.length === 0) {
    return await changeKeysFile(path, false, async (file) => {
      const hits = file.keys.filter((k) => k.revoked === null && (k.id === target || k.name === target))
      if (hits.length === 0) { process.stderr.write(`hourglass: no key in force has the id or name "${target}" in ${path}\n`); return 1 }
      if (hits.length > 1) return fail(`${hits.length} keys are named "${target}": revoke one by its id (${hits.map((k) => k.id).join(', ')})`)
      const hit = hits[0] as (typeof hits)[number]
      hit.revoked = new Date(now).toISOString()
      print(`revoked key ${hit.id} "${hit.name}"; a running server refuses it within a second`)
      return 0
    })
  }
  return fail('use `keys add --name N`, `keys list` or `keys revoke <id|name>`')
}

/** `serve`'s check of the keys file before anything starts: what is wrong with it, or null. */
export async function keysFileProblem (config: Config): Promise<string | null> {
  if (!authConfigured(config) || config.apiKeysFile === '') return null
  try {
    await readKeysFile(resolve(config.apiKeysFile))
    return null
  } catch (err) {
    if (err instanceof KeysFileError) return `${envName('apiKeysFile')}: ${err.message} (make it with \`hourglass keys add\`)`
    throw err
  }
}
