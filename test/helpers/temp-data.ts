// A temporary folder and a DuckDB connection for the tests of one file (or one describe block):
// made by a `before` hook, closed and removed by an `after` hook. Read the fields inside tests.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before } from 'node:test'
import { Db } from '../../src/batch/index.js'

export interface TempData {
  dir: string
  db: Db
}

export function tempData (prefix: string): TempData {
  const t = {} as TempData
  before(async () => {
    t.dir = await mkdtemp(join(tmpdir(), prefix))
    t.db = await Db.open()
  })
  after(async () => {
    t.db?.close()
    if (t.dir !== undefined) await rm(t.dir, { recursive: true, force: true })
  })
  return t
}
