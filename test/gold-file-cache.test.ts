// The decoded-gold-file cache: one read per file however many ask at once, a failed read not kept,
// and the least recently used files let go of when the bins held pass the bound.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type GoldFileData, GoldFileCache } from '../src/batch/gold-file-cache.js'

/** a file of `rows` rows and `bins` sketch bins (only the sizes matter here) */
function data (rows: number, bins: number): GoldFileData {
  const f = (n: number) => new Float64Array(n)
  return {
    rows, windowStart: f(rows), eventType: [], region: [], events: f(rows), latencySum: f(rows), latencyCount: f(rows), revenueCents: f(rows),
    sentimentSum: f(rows), sentimentCount: f(rows), sentimentPositive: f(rows), sentimentNeutral: f(rows), sentimentNegative: f(rows),
    binStart: new Uint32Array(rows + 1), bins: new Int32Array(bins), counts: f(bins)
  }
}

test('GoldFileCache: concurrent gets share one load; a hit does not load; a failed load is tried again', async () => {
  const cache = new GoldFileCache(1000)
  const loads: string[] = []
  const load = async (path: string) => { loads.push(path); await new Promise((resolve) => setImmediate(resolve)); return data(10, 90) }
  const [a, b] = await Promise.all([cache.get('a', load), cache.get('a', load)])
  assert.equal(a, b)
  assert.equal(await cache.get('a', load), a)
  assert.deepEqual(loads, ['a'])
  assert.equal(cache.heldBins, 100)

  let fail = true
  const flaky = async (path: string) => { loads.push(path); if (fail) throw new Error('read failed'); return data(1, 9) }
  await assert.rejects(cache.get('b', flaky), /read failed/)
  fail = false
  assert.equal((await cache.get('b', flaky)).rows, 1)
  assert.deepEqual(loads, ['a', 'b', 'b'])
  assert.equal(cache.size, 2)
})

test('GoldFileCache: past the bound in bins (plus rows), the least recently used files go', async () => {
  const cache = new GoldFileCache(300)
  let loads = 0
  const load = async () => { loads++; return data(10, 90) }
  await cache.get('a', load)
  await cache.get('b', load)
  await cache.get('c', load)
  await cache.get('a', load) // a is now the most recently used
  await cache.get('d', load) // 400 > 300: b goes
  assert.equal(cache.size, 3)
  assert.equal(cache.heldBins, 300)
  assert.equal(loads, 4)
  await cache.get('a', load)
  await cache.get('c', load)
  await cache.get('d', load)
  assert.equal(loads, 4, 'a, c and d were kept')
  await cache.get('b', load)
  assert.equal(loads, 5, 'b was let go of')
})
