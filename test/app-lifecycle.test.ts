// The app's lifecycle: parts close in reverse order of opening, each within closeTimeoutMs; a close
// that fails or overruns is logged by name and the next part closes all the same.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pino from 'pino'
import { closedTogether, Lifecycle } from '../src/app/lifecycle.js'

/** A logger that keeps what it is given at error level. */
function recorder (): { log: pino.Logger, errors: string[] } {
  const errors: string[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => { errors.push(JSON.parse(line).msg as string) } })
  return { log, errors }
}

test('parts close in reverse order of opening; a failing or overrunning close is logged and the next one still closes', async () => {
  const { log, errors } = recorder()
  const life = new Lifecycle({ log, closeTimeoutMs: 200 })
  const closed: string[] = []
  life.add({ name: 'db', close: () => { closed.push('db') } })
  life.add({ name: 'store', close: async () => { closed.push('store'); throw new Error('boom') } })
  life.add({ name: 'slow', close: () => new Promise<void>(() => { closed.push('slow') }) }) // never settles
  life.add({ name: 'server', close: async () => { closed.push('server') } })
  const started = Date.now()
  await life.close()
  assert.deepEqual(closed, ['server', 'slow', 'store', 'db'])
  assert.ok(Date.now() - started < 5_000, 'the overrunning close is given up after the timeout')
  assert.deepEqual(errors, ['slow did not close in time; closing the next part', 'store failed to close'])
})

test('a second close waits for the first and closes nothing twice', async () => {
  const { log } = recorder()
  const life = new Lifecycle({ log, closeTimeoutMs: 1_000 })
  let closes = 0
  let release = (): void => undefined
  life.add({ name: 'part', close: () => new Promise<void>((resolve) => { closes++; release = resolve }) })
  const first = life.close()
  let secondDone = false
  const second = life.close().then(() => { secondDone = true })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(secondDone, false, 'the second close waits')
  release()
  await Promise.all([first, second])
  assert.equal(closes, 1)
})

test('parts closed together close side by side; one that fails is logged under their joint name after both have closed', async () => {
  const { log, errors } = recorder()
  const life = new Lifecycle({ log, closeTimeoutMs: 5_000 })
  const begun: string[] = []
  const ended: string[] = []
  let releaseA = (): void => undefined
  const a = { name: 'feed', close: () => new Promise<void>((resolve) => { begun.push('feed'); releaseA = () => { ended.push('feed'); resolve() } }) }
  const b = { name: 'speed', close: async () => { begun.push('speed'); await new Promise((resolve) => setImmediate(resolve)); ended.push('speed'); throw new Error('boom') } }
  life.add(closedTogether([a, b]))
  const closing = life.close()
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(begun, ['feed', 'speed'], 'the second began before the first ended')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(ended, ['speed'])
  releaseA()
  await closing
  assert.deepEqual(ended, ['speed', 'feed'])
  assert.deepEqual(errors, ['feed and speed failed to close'])
  assert.equal(closedTogether([a]), a, 'one part alone is itself')
})
