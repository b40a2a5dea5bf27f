// Long computations run in slices: the same result as straight through, and other callbacks run between slices.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runSliced, runSteps, type Steps } from '../src/model/steps.js'
import { finaliseOverSteps, finaliseRollup, rollUp, rollUpSteps } from '../src/merger/merge.js'
import { emptyPartials, type PartialRow } from '../src/model/index.js'

function * count (n: number, log: string[]): Steps<number> {
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += i
    log.push(`step ${i}`)
    yield
  }
  return sum
}

test('runSteps runs straight through; runSliced gives the event loop turns between slices', async () => {
  const straight: string[] = []
  assert.equal(runSteps(count(5, straight)), 10)
  assert.deepEqual(straight, ['step 0', 'step 1', 'step 2', 'step 3', 'step 4'])

  const sliced: string[] = []
  setImmediate(() => sliced.push('other work'))
  assert.equal(await runSliced(count(5, sliced), 0), 10) // a slice of 0 ms: a turn after every step
  const other = sliced.indexOf('other work')
  assert.ok(other > 0 && other < sliced.length - 1, `other work ran between steps: ${sliced.join(', ')}`)

  const long: string[] = []
  setImmediate(() => long.push('other work'))
  assert.equal(await runSliced(count(5, long), 60_000), 10) // the slice never ends: no turn until done
  assert.equal(long.indexOf('other work'), -1)
})

test('rollUp and finalise give the same rows whether run straight through or in slices', async () => {
  const rows: PartialRow[] = []
  for (let i = 0; i < 3000; i++) {
    const p = emptyPartials()
    p.events = 1 + (i % 7)
    p.revenue_cents = i
    p.response.set(i % 50, 1)
    rows.push({ window_start: (i % 300) * 60_000, event_type: `t${i % 3}`, region: `r${i % 4}`, partials: p })
  }
  const metrics = ['total_events', 'total_revenue', 'p95_response'] as const
  const straight = finaliseRollup(rollUp(new Map(), rows, 'hour', ['event_type']), metrics)
  const sliced = await runSliced(finaliseOverSteps(null, await runSliced(rollUpSteps(new Map(), rows, 'hour', ['event_type']), 0), metrics), 0)
  assert.equal(straight.length, 5 * 3)
  assert.deepEqual(sliced, straight)
})
