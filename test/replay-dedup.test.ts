// A duplicate that straddles a restart on the memory store: the event was replayed from bronze at
// start (a pipeline of its own), its duplicate arrives on the live source afterwards. The memory
// store keeps no dedup keys (keepsDedupKeys false), so the replay and the live pipeline share one
// deduplicator; without it the live speed layer would count the event twice.
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { App } from '../src/app/index.js'
import type { MetricsResult } from '../src/model/index.js'
import { runFile } from './helpers/file-app.js'

const M = 60_000
const T = Date.UTC(2026, 0, 5, 12, 30)
const line = (id: string, ts: number): string => JSON.stringify({ event_id: id, timestamp: new Date(ts).toISOString(), event_type: 'view', region: 'eu', response_time: 100 })

async function liveEvents (app: App): Promise<number> {
  const res = await app.server.inject({ method: 'GET', url: '/v1/metrics/live?last=60m' })
  assert.equal(res.statusCode, 200, res.body)
  return res.json<MetricsResult>().rows.reduce((n, r) => n + (r.total_events ?? 0), 0)
}

test('a duplicate of an event replayed from bronze at start, arriving live after the restart, is dropped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hg-replay-dedup-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')
  const file = join(dir, 'events.jsonl')
  const first = Array.from({ length: 50 }, (_, i) => line(`e${i}`, T - 10 * M + i * 1000))
  await writeFile(file, first.join('\n') + '\n')

  const app1 = await runFile(dataDir, file, T)
  try {
    assert.equal(await liveEvents(app1), 50)
  } finally {
    await app1.close() // bronze is flushed
  }

  // the file grows: a duplicate of e40 (same id, same timestamp) and one new event
  await appendFile(file, [line('e40', T - 10 * M + 40_000), line('new', T + 30_000)].join('\n') + '\n')
  const app2 = await runFile(dataDir, file, T + M)
  try {
    const q = app2.service.quality()
    assert.equal(q.received, 2, 'the live source read only the new lines')
    assert.equal(q.duplicates, 1, 'the duplicate of a replayed event is known to the live pipeline')
    assert.equal(await liveEvents(app2), 51, 'the 50 replayed events and the new one, e40 once')
  } finally {
    await app2.close() // before the folder is removed: close flushes bronze
  }
})
