// The start-up stand-in (src/app/startup.ts) on its own: until the app is built every data call is
// HG_ERR_NOT_READY naming the stage and readiness says the stage; afterwards calls pass on, and the
// problems reported (a Kafka outage) keep it not ready while they last. A stop ends the next stage.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { limitsOf, StartingService } from '../src/app/startup.js'
import { isHourglassError } from '../src/model/index.js'
import { DEFAULTS } from './helpers/settings.js'
import { StubMetricsService } from './helpers/stub-service.js'

const notReady = (stage: RegExp) => (err: unknown): boolean => isHourglassError(err) && err.code === 'HG_ERR_NOT_READY' && stage.test(err.message)

test('before it is built: data calls are HG_ERR_NOT_READY with the stage; readiness names the stage; status is unknown', async () => {
  const starting = new StartingService(limitsOf(DEFAULTS))
  assert.deepEqual(starting.limits.maxBuckets, DEFAULTS.maxBuckets)
  starting.enter('seeding history')
  assert.equal(starting.stage, 'seeding history')
  await assert.rejects(async () => await starting.query({} as never), notReady(/starting: seeding history/))
  await assert.rejects(async () => await starting.dimensions(), notReady(/seeding history/))
  assert.throws(() => starting.quality(), notReady(/seeding history/))
  assert.throws(() => starting.deadLetters(5), notReady(/seeding history/))
  assert.throws(() => starting.reconciliations({ latest: () => [], recorded: 0 }).latest(1), notReady(/seeding history/))
  starting.enter('building gold')
  assert.deepEqual(await starting.readiness(), { ready: false, reasons: ['starting: building gold'], batch_version: null, speed_watermark: null })
  assert.deepEqual(await starting.status(), { batchVersion: null, batchAgeSeconds: null, watermarkLagSeconds: null })
})

test('once built: calls pass on; a reported problem keeps it not ready, with when it began, until it is over', async () => {
  const starting = new StartingService(limitsOf(DEFAULTS))
  const service = new StubMetricsService()
  starting.serve(service)
  assert.equal(starting.stage, null)
  assert.deepEqual(await starting.dimensions(), await service.dimensions())
  assert.equal((await starting.readiness()).ready, true)
  const since = Date.parse('2026-12-03T10:00:00Z')
  starting.problem('kafka hg', 'Kafka: consumer group hg reaches no broker', since)
  const r = await starting.readiness()
  assert.equal(r.ready, false)
  assert.deepEqual(r.reasons, ['Kafka: consumer group hg reaches no broker since 2026-12-03T10:00:00.000Z'])
  starting.problem('kafka hg', null)
  assert.equal((await starting.readiness()).ready, true)
})

test('a stop asked for during start-up ends it at the next stage', () => {
  const stop = new AbortController()
  const starting = new StartingService(limitsOf(DEFAULTS), stop.signal)
  starting.enter('seeding history')
  stop.abort()
  assert.throws(() => starting.enter('building gold'), { name: 'AbortError' })
})
