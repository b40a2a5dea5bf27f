// `hourglass keys add|list|revoke` and serve's refusal to listen beyond loopback without
// authentication, as a user runs them (the CLI from the sources, a child process each); the pure
// parts (credentials, redaction, the start-up check) directly.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { credentialOf, redactUrl, takeQueryKey } from '../src/api/auth/credentials.js'
import { keyIdOf, verifyKey } from '../src/api/auth/keys-file.js'
import { authAtStart, loadConfig } from '../src/config.js'
import { hourglass } from './helpers/cli.js'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hourglass-keys-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('hourglass keys and serve without authentication', { concurrency: 3 }, () => {
  test('keys add prints the key once and stores only its hash; list shows it; revoke marks it', async (t) => {
    const file = join(await tempDir(t), 'keys.json')
    const env = { HOURGLASS_API_KEYS_FILE: file }
    const added = await hourglass(['keys', 'add', '--name', 'powerbi', '--scopes', 'metrics:read', '--expires', '90d'], env)
    assert.equal(added.code, 0, added.stderr)
    const key = added.stdout.split('\n').find((l) => /^hg_[0-9a-f]{12}_/.test(l)) ?? ''
    const id = keyIdOf(key)
    assert.ok(id !== null, added.stdout)
    const text = await readFile(file, 'utf8')
    assert.ok(!text.includes(key) && !text.includes(key.slice(16)), 'the file holds no key')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const record = (JSON.parse(text) as { keys: Array<{ id: string, name: string, scopes: string[], hash: string, expires: string }> }).keys[0]
    assert.equal(record?.id, id)
    assert.deepEqual(record?.scopes, ['metrics:read'])
    assert.match(record?.hash ?? '', /^scrypt\$/)
    assert.ok(Math.abs(Date.parse(record?.expires ?? '') - Date.now() - 90 * 86_400_000) < 120_000, 'expires in 90 days')
    assert.ok(await verifyKey(key, record?.hash ?? ''), 'the hash verifies the key')
    assert.ok(!await verifyKey(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), record?.hash ?? ''), 'and no other')

    const second = await hourglass(['keys', 'add', '--keys-file', file, '--name', 'grafana', '--scopes', 'metrics:read,ops:read'])
    assert.equal(second.code, 0, second.stderr)
    const list = await hourglass(['keys', 'list'], env)
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`${id}\\s+powerbi\\s+metrics:read\\s`))
    assert.match(list.stdout, /grafana\s+metrics:read,ops:read/)
    assert.ok(!list.stdout.includes(key), 'list shows no key')

    const revoked = await hourglass(['keys', 'revoke', 'powerbi'], env)
    assert.equal(revoked.code, 0, revoked.stderr)
    assert.match((await hourglass(['keys', 'list'], env)).stdout, /powerbi.*revoked 20/)
    const again = await hourglass(['keys', 'revoke', 'powerbi'], env)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /no key in force/)
  })

  test('keys add run several times at once keeps every key (the file is changed under its lock)', async (t) => {
    const file = join(await tempDir(t), 'keys.json')
    const env = { HOURGLASS_API_KEYS_FILE: file }
    const names = ['a', 'b', 'c', 'd', 'e']
    const runs = await Promise.all(names.map((name) => hourglass(['keys', 'add', '--name', name], env)))
    for (const r of runs) assert.equal(r.code, 0, r.stderr)
    const stored = (JSON.parse(await readFile(file, 'utf8')) as { keys: Array<{ name: string }> }).keys.map((k) => k.name).sort()
    assert.deepEqual(stored, names)
    await assert.rejects(stat(`${file}.lock`), 'the lock is released')
  })

  test('keys refuses bad input with exit 2, naming what is wrong', async (t) => {
    const file = join(await tempDir(t), 'keys.json')
    const env = { HOURGLASS_API_KEYS_FILE: file }
    const runs = await Promise.all([
      hourglass(['keys', 'add', '--name', 'x', '--scopes', 'metrics:write'], env),
      hourglass(['keys', 'add', '--scopes', 'metrics:read'], env),
      hourglass(['keys', 'add', '--name', 'x', '--expires', 'yesterday'], env),
      hourglass(['keys', 'list']),
      hourglass(['keys', 'rotate'], env)
    ])
    assert.deepEqual(runs.map((r) => r.code), [2, 2, 2, 2, 2], runs.map((r) => r.stderr).join('\n'))
    assert.match(runs[0]?.stderr ?? '', /--scopes="metrics:write"/)
    assert.match(runs[1]?.stderr ?? '', /--name/)
    assert.match(runs[2]?.stderr ?? '', /--expires="yesterday"/)
    assert.match(runs[3]?.stderr ?? '', /HOURGLASS_API_KEYS_FILE/)
  })

  test('serve beyond loopback without authentication refuses to start, naming the settings', async () => {
    const r = await hourglass(['serve', '--host', '0.0.0.0', '--source', 'none', '--seed-days', '0', '--port', '0'])
    assert.equal(r.code, 2, r.stderr)
    for (const name of ['HOURGLASS_API_KEYS_FILE', 'HOURGLASS_JWT_ISSUER', 'HOURGLASS_JWT_AUDIENCE', 'HOURGLASS_AUTH']) assert.match(r.stderr, new RegExp(name))
    assert.doesNotMatch(r.stdout, /serving/)
  })

  test('serve with a keys file that is missing or not one stops at once, naming it', async (t) => {
    const dir = await tempDir(t)
    const args = ['serve', '--source', 'none', '--seed-days', '0', '--port', '0', '--data', dir]
    const missing = await hourglass(args, { HOURGLASS_API_KEYS_FILE: join(dir, 'nope.json') })
    assert.equal(missing.code, 2, missing.stderr)
    assert.match(missing.stderr, /HOURGLASS_API_KEYS_FILE: cannot read the API keys file .*nope\.json/)
    const broken = join(dir, 'broken.json')
    await writeFile(broken, '{"keys": [{"id": 1}]}')
    const bad = await hourglass(args, { HOURGLASS_API_KEYS_FILE: broken })
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /key 1 is not a valid record/)
  })
})

test('authAtStart: loopback needs nothing; beyond it, keys or JWT, or an explicit none with a warning', () => {
  assert.deepEqual(authAtStart(loadConfig({})), {})
  assert.deepEqual(authAtStart(loadConfig({ HOURGLASS_HOST: '::1' })), {})
  assert.match(authAtStart(loadConfig({ HOURGLASS_HOST: '0.0.0.0' })).error ?? '', /HOURGLASS_API_KEYS_FILE/)
  assert.deepEqual(authAtStart(loadConfig({ HOURGLASS_HOST: '0.0.0.0', HOURGLASS_API_KEYS_FILE: '/k.json' })), {})
  assert.deepEqual(authAtStart(loadConfig({ HOURGLASS_HOST: '10.1.2.3', HOURGLASS_JWT_ISSUER: 'https://i', HOURGLASS_JWT_AUDIENCE: 'a' })), {})
  const none = authAtStart(loadConfig({ HOURGLASS_HOST: '0.0.0.0', HOURGLASS_AUTH: 'none', HOURGLASS_API_KEYS_FILE: '/k.json' }))
  assert.equal(none.error, undefined)
  assert.match(none.warning ?? '', /without authentication/)
  assert.throws(() => loadConfig({ HOURGLASS_JWT_ISSUER: 'https://i' }), /HOURGLASS_JWT_AUDIENCE/)
})

test('credentials: each way of presenting a key, the first found winning; api_key taken out of the URL and redacted', () => {
  assert.deepEqual(credentialOf({ authorization: 'Bearer abc' }, 'q'), { kind: 'bearer', secret: 'abc' })
  assert.deepEqual(credentialOf({ authorization: 'Basic ' + Buffer.from('me:k:ey').toString('base64') }, undefined), { kind: 'basic', secret: 'k:ey' })
  assert.equal(credentialOf({ authorization: 'Basic bm9jb2xvbg==' }, undefined)?.kind, 'malformed')
  assert.deepEqual(credentialOf({ 'x-api-key': ' k ' }, 'q'), { kind: 'header', secret: 'k' })
  assert.deepEqual(credentialOf({}, 'q'), { kind: 'query', secret: 'q' })
  assert.equal(credentialOf({}, undefined), null)
  assert.deepEqual(takeQueryKey('/v1/x?a=1&api_key=hg%2Bk&b=2'), { url: '/v1/x?a=1&b=2', key: 'hg+k' })
  assert.deepEqual(takeQueryKey('/v1/x?api_key=k'), { url: '/v1/x', key: 'k' })
  assert.deepEqual(takeQueryKey('/v1/x?api%5Fkey=k&api_key=j'), { url: '/v1/x', key: 'k' })
  assert.deepEqual(takeQueryKey('/v1/x?a=%zz'), { url: '/v1/x?a=%zz', key: undefined })
  assert.equal(redactUrl('/odata/H?$top=1&api_key=secret&x=1'), '/odata/H?$top=1&api_key=[redacted]&x=1')
  assert.equal(redactUrl('/v1?API%5Fkey=secret'), '/v1?API%5Fkey=[redacted]')
})
