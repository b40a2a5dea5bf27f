// The Kafka end-to-end scenario through a real Apache Kafka broker, on the memory store (the
// scenario and why its event set looks the way it does: test/helpers/kafka-e2e.ts).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { eventKey } from '../src/ingest/kafka/index.js'
import { MemorySpeedStore } from '../src/speed/index.js'
import { H, M } from './helpers/events.js'
import { consumeAll } from './helpers/kafka.js'
import { now, PARTITIONS, runScenario } from './helpers/kafka-e2e.js'
import { servicesForFile } from './helpers/services.js'

const services = servicesForFile({ partitions: PARTITIONS })

test('Kafka end to end (memory store): live and merged equal brute force, the DLQ holds exactly the invalid records, a restart rebuilds', { timeout: 330_000 }, async () => {
  await runScenario({ brokers: services.kafka.brokers, writer: services.writer }, 'memory', () => new MemorySpeedStore({ retentionMs: H, dedupWindowMs: 15 * M, now }))
})

/** `hourglass produce …` as a child process (the CLI from the sources). */
async function produceCli (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const entry = fileURLToPath(new URL('../scripts/hourglass-dev.ts', import.meta.url))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HOURGLASS_')))
  const child = spawn(process.execPath, ['--import', 'tsx', entry, 'produce', '--brokers', services.kafka.brokers, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (x: string) => { stdout += x })
  child.stderr.setEncoding('utf8').on('data', (x: string) => { stderr += x })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

test('hourglass produce: synthetic events at a rate, and a file, keyed by event_id', { timeout: 330_000 }, async (t) => {
  const topic = `produce-${process.pid}`
  const r = await produceCli(['--topic', topic, '--rate', '2000', '--count', '3000'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^produce: synthetic events → /m)
  assert.match(r.stdout, /^produce: [\d,]+ sent, [\d,]+\/s$/m, 'a progress line each second')
  assert.match(r.stdout, /^produce: done, 3,000 records .* to produce-\d+ in /m)
  const got = await consumeAll(services.kafka.brokers, topic, 3000, 120_000, 500)
  assert.equal(got.length, 3000)
  for (const m of got) assert.equal(m.key?.toString('utf8') ?? null, eventKey(m.value.toString('utf8')), 'keyed by event_id (null when unreadable)')
  assert.ok(got.some((m) => m.key === null), 'the invalid records without an event_id have no key')

  const dir = await mkdtemp(join(tmpdir(), 'hg-produce-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'events.jsonl')
  const lines = ['{"event_id":"a","timestamp":1,"event_type":"x","region":"y"}', '', 'not json', '{"region":"r","event_id":"b\\"q"}']
  await writeFile(file, lines.join('\n') + '\n')
  const f = await produceCli(['--topic', topic + '-file', '--file', file])
  assert.equal(f.code, 0, f.stderr)
  const fromFile = await consumeAll(services.kafka.brokers, topic + '-file', 3, 120_000, 500)
  assert.deepEqual(fromFile.map((m) => [m.key?.toString('utf8') ?? null, m.value.toString('utf8')]).sort(), [['a', lines[0]], ['b"q', lines[3]], [null, 'not json']].sort())
})
