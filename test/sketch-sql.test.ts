// The TypeScript sketch (model binOf) and the batch SQL (DuckDB) put the
// same values into the same bins. Values sitting exactly on a bin edge (x = γ^i) may land one bin
// apart because V8's Math.log and DuckDB's ln may differ in the last bit; none may be further off.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Db, type Conn } from '../src/batch/duckdb.js'
import { SQL_LN_GAMMA, sqlBinOf, sqlQuantileRank } from '../src/batch/sql.js'
import { binOf, GAMMA, LN_GAMMA, ZERO_BIN } from '../src/model/sketch.js'
import { prng } from '../src/ingest/synthetic.js'

interface Sample { x: number, edge: boolean }

function samples (): Sample[] {
  const rand = prng(20240501)
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  const out: Sample[] = []
  for (let k = 0; k < 45_000; k++) out.push({ x: Math.exp(4 + 1.2 * normal()), edge: false }) // response-time-like
  for (let k = 0; k < 12_000; k++) out.push({ x: Math.pow(10, -9 + 9 * rand()), edge: false }) // small
  for (let k = 0; k < 12_000; k++) out.push({ x: Math.pow(10, 3 + 12 * rand()), edge: false }) // large
  for (let k = 0; k < 5_000; k++) out.push({ x: 1 + Math.floor(rand() * 60_000), edge: false }) // integer ms
  for (let k = 0; k < 1_000; k++) out.push({ x: 0, edge: false })
  for (let k = 0; k < 30_000; k++) {
    // on an edge γ^i, computed two ways (they may differ in the last bit): both are "the edge"
    const i = Math.floor(rand() * 4001) - 2000
    out.push({ x: k % 2 === 0 ? Math.pow(GAMMA, i) : Math.exp(i * LN_GAMMA), edge: true })
  }
  return out
}

let db: Db
let conn: Conn

before(async () => {
  db = await Db.open()
  conn = await db.connect()
})
after(() => { db.close() })

test('the SQL divisor is exactly model LN_GAMMA', async () => {
  const [row] = await conn.rows(`SELECT ${SQL_LN_GAMMA} AS g, ${sqlBinOf('x')} AS zero_bin, ${sqlBinOf('y')} AS null_bin FROM (SELECT CAST(0 AS DOUBLE) AS x, CAST(NULL AS DOUBLE) AS y)`)
  assert.equal(row?.g, LN_GAMMA)
  assert.equal(row?.zero_bin, ZERO_BIN)
  assert.equal(row?.null_bin, null)
})

test('TS binOf and SQL bins agree on ≥ 100,000 values: none differ by more than one bin, random values exactly', async (t) => {
  const values = samples()
  assert.ok(values.length >= 100_000)
  await conn.exclusive(async (raw) => {
    await raw.run('CREATE OR REPLACE TEMP TABLE vals (i INTEGER, x DOUBLE)')
    const a = await raw.createAppender('vals')
    values.forEach((v, i) => { a.appendInteger(i); a.appendDouble(v.x); a.endRow() })
    a.closeSync()
  })
  const rows = await conn.exclusive(async (raw) => (await raw.runAndReadAll(`SELECT i, ${sqlBinOf('x')} AS bin FROM vals ORDER BY i`)).getRowsJS())
  assert.equal(rows.length, values.length)
  let sameEdge = 0; let offByOneEdge = 0; let offByOneRandom = 0; let worse = 0
  const examples: string[] = []
  for (const [i, sqlBin] of rows as Array<[number, number]>) {
    const v = values[i] as Sample
    const d = Math.abs(binOf(v.x) - sqlBin)
    if (d > 1) { worse++; if (examples.length < 5) examples.push(`x=${v.x} ts=${binOf(v.x)} sql=${sqlBin}`) }
    if (d === 1) { if (v.edge) offByOneEdge++; else { offByOneRandom++; if (examples.length < 5) examples.push(`x=${v.x} ts=${binOf(v.x)} sql=${sqlBin}`) } }
    if (d === 0 && v.edge) sameEdge++
  }
  const edges = values.filter((v) => v.edge).length
  const line = `sketch SQL vs TS: ${values.length} values; ${values.length - edges} random: ${offByOneRandom} one bin apart; ${edges} on bin edges γ^i: ${sameEdge} same bin, ${offByOneEdge} one bin apart (${(100 * offByOneEdge / edges).toFixed(2)}%); ${worse} further apart`
  t.diagnostic(line)
  console.log(line)
  assert.equal(worse, 0, examples.join('; '))
  assert.equal(offByOneRandom, 0, examples.join('; '))
})

test('the SQL quantile rank equals floor(0.95·(n−1)) in JS for n = 1..200,000', async () => {
  const rows = await conn.exclusive(async (raw) => (await raw.runAndReadAll(
    `SELECT CAST(total AS DOUBLE) AS n, CAST(${sqlQuantileRank(0.95, 'total')} AS DOUBLE) AS r FROM (SELECT range + 1 AS total FROM range(200000))`)).getRowsJS())
  let diff = 0
  for (const [n, r] of rows as Array<[number, number]>) if (Math.floor(0.95 * (n - 1)) !== r) diff++
  assert.equal(diff, 0)
})
