import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { FileSource, type RawBatch } from '../src/ingest/index.js'

async function tempFile (t: { after: (fn: () => Promise<void>) => void }, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hourglass-file-source-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'events.jsonl')
  await writeFile(path, content)
  return path
}

async function readAll (source: FileSource): Promise<RawBatch[]> {
  const batches: RawBatch[] = []
  await source.start(async (b) => { batches.push(b) })
  await source.done
  return batches
}

test('file source: lines in batches, offset = 0-based line number, blank lines skipped but counted', async (t) => {
  const lines = ['{"a":1}', '', '{"a":2}', '   ', 'not json', '{"a":3}\r', '{"a":4}']
  const path = await tempFile(t, lines.join('\n') + '\n')
  const batches = await readAll(new FileSource(path, { batchSize: 2 }))
  assert.deepEqual(batches.map((b) => b.records.map((r) => r.offset)), [['0', '2'], ['4', '5'], ['6']])
  assert.deepEqual(batches.flatMap((b) => b.records.map((r) => r.value)), ['{"a":1}', '{"a":2}', 'not json', '{"a":3}', '{"a":4}'])
  for (const b of batches) {
    assert.equal(b.topic, 'file:' + path)
    assert.equal(b.partition, 0)
  }
})

test('file source: a relative path becomes absolute in the topic; a last line without newline is read', async (t) => {
  const path = await tempFile(t, '{"a":1}\n{"a":2}')
  const relative = join('.', (await import('node:path')).relative(process.cwd(), path))
  const source = new FileSource(relative)
  const batches = await readAll(source)
  assert.equal(source.topic, 'file:' + path)
  assert.deepEqual(batches.flatMap((b) => b.records.map((r) => r.value)), ['{"a":1}', '{"a":2}'])
})

test('file source: startOffset resumes from a line', async (t) => {
  const path = await tempFile(t, ['a', 'b', 'c', 'd'].join('\n'))
  const batches = await readAll(new FileSource(path, { startOffset: 2 }))
  assert.deepEqual(batches.flatMap((b) => b.records.map((r) => [r.offset, r.value])), [['2', 'c'], ['3', 'd']])
})

test('file source: an empty file ends at once without a batch', async (t) => {
  const path = await tempFile(t, '')
  assert.deepEqual(await readAll(new FileSource(path)), [])
})

test('file source: the handler is awaited before the next batch; a large file streams through', async (t) => {
  const n = 25_000
  const path = await tempFile(t, Array.from({ length: n }, (_, i) => `{"i":${i}}`).join('\n'))
  let busy = false
  let count = 0
  let last = -1
  const source = new FileSource(path, { batchSize: 1000 })
  await source.start(async (b) => {
    assert.equal(busy, false)
    busy = true
    for (const r of b.records) { assert.equal(Number(r.offset), last + 1); last++ }
    count += b.records.length
    await new Promise((resolve) => setImmediate(resolve))
    busy = false
  })
  await source.done
  assert.equal(count, n)
})

test('file source: a missing file rejects start() with a message naming the path', async () => {
  const path = join(tmpdir(), 'hourglass-no-such-file-' + process.pid + '.jsonl')
  await assert.rejects(new FileSource(path).start(async () => undefined), (err: Error) => {
    assert.match(err.message, /does not exist/)
    assert.ok(err.message.includes(path))
    return true
  })
})

test('file source: stop() ends the replay early and resolves done', async (t) => {
  const path = await tempFile(t, Array.from({ length: 10_000 }, (_, i) => `{"i":${i}}`).join('\n'))
  const source = new FileSource(path, { batchSize: 100 })
  let batches = 0
  await source.start(async () => {
    batches++
    if (batches === 3) void source.stop()
  })
  await source.done
  assert.ok(batches >= 3 && batches < 100, `${batches} batches`)
})

test('file source: a failing handler rejects done', async (t) => {
  const path = await tempFile(t, '{"a":1}\n')
  const source = new FileSource(path)
  await source.start(async () => { throw new Error('boom') })
  await assert.rejects(source.done, /boom/)
})
