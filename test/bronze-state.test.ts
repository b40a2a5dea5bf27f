import assert from 'node:assert/strict'
import { test } from 'node:test'
import { advanceBronzeState, emptyBronzeState, watermarkOf } from '../src/batch/bronze-layout.js'

const t = (s: string): number => Date.parse(s)

test('the bronze watermark is the slowest partition still sending; a finished source stops holding it back', () => {
  let state = advanceBronzeState(emptyBronzeState(), [
    { topic: 'synthetic-history', partition: 0, maxEventTime: t('2026-01-01T10:00:00Z'), lastOffset: '99' },
    { topic: 'synthetic', partition: 0, maxEventTime: t('2026-01-01T12:00:00Z'), lastOffset: '5' }
  ])
  assert.equal(watermarkOf(state), t('2026-01-01T10:00:00Z'))
  const history = state.partitions.find((p) => p.topic === 'synthetic-history')
  assert.ok(history !== undefined)
  history.finished = true
  assert.equal(watermarkOf(state), t('2026-01-01T12:00:00Z'))
  // every source finished: everything they will ever send is in bronze
  for (const p of state.partitions) p.finished = true
  assert.equal(watermarkOf(state), t('2026-01-01T12:00:00Z'))
  // a finished source that sends again holds the watermark again
  state = advanceBronzeState(state, [{ topic: 'synthetic-history', partition: 0, maxEventTime: t('2026-01-01T11:00:00Z'), lastOffset: '120' }])
  assert.equal(watermarkOf(state), t('2026-01-01T11:00:00Z'))
  assert.equal(watermarkOf(emptyBronzeState()), null)
})
