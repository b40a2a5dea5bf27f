import assert from 'node:assert/strict'
import { test } from 'node:test'
import { binOf, binValue, GAMMA, RELATIVE_ACCURACY, type Sketch, sketchAdd, sketchFromBins, sketchMerge, sketchQuantile, sketchToBins, ZERO_BIN } from '../src/model/sketch.js'

test('a value lies within its bin: γ^(i−1) < x ≤ γ^i, and the bin value is within α of it', () => {
  for (const x of [0.001, 0.5, 1, 1.5, 7, 100, 1234.5678, 1e6, 3e9]) {
    const i = binOf(x)
    assert.ok(Math.pow(GAMMA, i - 1) < x * (1 + 1e-12) && x <= Math.pow(GAMMA, i) * (1 + 1e-12), `x=${x} bin=${i}`)
    assert.ok(Math.abs(binValue(i) - x) / x <= RELATIVE_ACCURACY + 1e-12, `x=${x}`)
  }
  assert.equal(binOf(0), ZERO_BIN)
  assert.equal(binValue(ZERO_BIN), 0)
})

test('quantile is within 1% of the exact element of rank floor(q·(n−1))', () => {
  let seed = 42
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const values: number[] = []
  const s: Sketch = new Map()
  for (let k = 0; k < 20_000; k++) {
    const v = Math.exp(4 + 1.2 * (rand() + rand() + rand() - 1.5))
    values.push(v)
    sketchAdd(s, v)
  }
  values.sort((a, b) => a - b)
  for (const q of [0, 0.5, 0.9, 0.95, 0.99, 1]) {
    const exact = values[Math.floor(q * (values.length - 1))] as number
    const got = sketchQuantile(s, q) as number
    assert.ok(Math.abs(got - exact) / exact <= RELATIVE_ACCURACY, `q=${q} exact=${exact} got=${got}`)
  }
})

test('merging sketches equals sketching the union', () => {
  const a: Sketch = new Map(); const b: Sketch = new Map(); const all: Sketch = new Map()
  for (let k = 1; k < 500; k++) {
    const v = k * 3.7
    sketchAdd(k % 2 === 0 ? a : b, v)
    sketchAdd(all, v)
  }
  sketchAdd(a, 0); sketchAdd(all, 0)
  sketchMerge(a, b)
  assert.deepEqual(sketchToBins(a), sketchToBins(all))
  assert.deepEqual(sketchToBins(sketchFromBins(sketchToBins(all))), sketchToBins(all))
  assert.equal(sketchQuantile(new Map(), 0.95), null)
})
