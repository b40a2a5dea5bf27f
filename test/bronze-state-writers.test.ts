// bronze/_state.json has several writers in one process: each bronze sink's flushes (the app's, a
// Kafka-fed bronze consumer's) and the finished mark of a source that ended (a file read to its
// end, seeded history). Each is a read-modify-write; interleaved, the later write puts back a state
// read before the earlier one: the finished mark lost, or a flush's offsets and watermark moved
// back. The tests stop a flush between its read and its write of the state (the sink's
// beforeStateWrite seam) and run the other writers in that gap.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type BronzeState, bronzeStatePath, markPartitionFinished, type PartitionState, readBronzeState, watermarkOf } from '../src/batch/bronze-layout.js'
import { BronzeSink } from '../src/batch/bronze-sink.js'
import type { HourglassEvent } from '../src/model/event.js'
import { tempData } from './helpers/temp-data.js'
import { sleep } from './helpers/wait.js'
import { SINK_DEFAULTS } from './helpers/settings.js'
interface Gate { armed: boolean, reached: Promise<void>, release: () => void, seam: () => Promise<void> }
function gate (): Gate {
  let reached!: () => void
  let release!: () => void
  const g: Gate = {
    armed: false,
    reached: new Promise<void>((resolve) => { reached = resolve }),
    release: () => release(),
    seam: async () => {
      if (!g.armed) return
      g.armed = false
      reached()
      await new Promise<void>((resolve) => { release = resolve })
    }
  }
  return g
}

const ev = (id: string, ts: number): HourglassEvent => ({ event_id: id, ts, event_type: 'view', region: 'eu-west' })
const T = Date.UTC(2026, 0, 1, 10)
const find = (s: BronzeState, topic: string, partition: number): PartitionState | undefined => s.partitions.find((p) => p.topic === topic && p.partition === partition)

describe('bronze state writers interleaved', () => {
  const tmp = tempData('hourglass-bronze-state-')

  test('a finished mark and another sink\'s flush in the gap of a flush\'s state write: none is lost, nothing moves back', async () => {
    const dataDir = join(tmp.dir, 'gap')
    const g = gate()
    const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db, beforeStateWrite: g.seam })
    const other = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db }) // e.g. the Kafka-fed bronze consumer's sink
    try {
      sink.add(ev('f0', T), { topic: 'file:/x.jsonl', partition: 0, offset: '0' })
      sink.add(ev('e0', T), { topic: 'events', partition: 0, offset: '0' })
      await sink.flush()
      const before = await readFile(bronzeStatePath(dataDir), 'utf8')

      g.armed = true
      sink.add(ev('e1', T + 60_000), { topic: 'events', partition: 0, offset: '1' })
      const flushing = sink.flush()
      await g.reached // the flush has read the state and not yet written it
      const marking = markPartitionFinished(dataDir, 'file:/x.jsonl', 0) // how the app marked a file source's end
      other.add(ev('o0', T + 120_000), { topic: 'events', partition: 1, offset: '7' })
      const otherFlush = other.flush()
      await sleep(100)
      assert.equal(await readFile(bronzeStatePath(dataDir), 'utf8'), before, 'the other writers wait for the flush in progress')
      g.release()
      await Promise.all([flushing, marking, otherFlush])

      const state = await readBronzeState(dataDir)
      assert.equal(find(state, 'file:/x.jsonl', 0)?.finished, true, 'the finished mark is kept')
      assert.equal(find(state, 'events', 0)?.last_offset, '1', 'the paused flush is recorded')
      assert.equal(find(state, 'events', 1)?.last_offset, '7', 'the other sink\'s flush is recorded')
      assert.equal(watermarkOf(state), T + 60_000)
    } finally {
      await Promise.all([sink.close(), other.close()])
    }
  })

  test('sink.markFinished flushes what it holds and marks in the same write; in turn with the flushes; a later flush clears it', async () => {
    const dataDir = join(tmp.dir, 'mark')
    const g = gate()
    const sink = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })
    const other = new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db, beforeStateWrite: g.seam })
    try {
      await sink.markFinished('nothing-yet', 0)
      assert.deepEqual((await readBronzeState(dataDir)).partitions, [], 'a partition bronze holds nothing of is not marked')

      other.add(ev('k0', T + 300_000), { topic: 'events', partition: 0, offset: '0' })
      await other.flush()
      g.armed = true
      other.add(ev('k1', T + 360_000), { topic: 'events', partition: 0, offset: '1' })
      const flushing = other.flush()
      await g.reached
      sink.add(ev('h0', T), { topic: 'synthetic-history', partition: 0, offset: '41' })
      const marking = sink.markFinished('synthetic-history', 0) // buffered: flushed, then marked
      await sleep(50)
      g.release()
      const summary = await marking
      await flushing
      assert.equal(summary.events, 1)
      let state = await readBronzeState(dataDir)
      assert.deepEqual(find(state, 'synthetic-history', 0), { topic: 'synthetic-history', partition: 0, max_event_time: new Date(T).toISOString(), last_offset: '41', finished: true })
      assert.equal(find(state, 'events', 0)?.last_offset, '1')
      assert.equal(watermarkOf(state), T + 360_000, 'the finished history no longer holds the watermark back')

      // marked again: nothing to write; events from it later: it holds the watermark again
      await sink.markFinished('synthetic-history', 0)
      sink.add(ev('h1', T + 1000), { topic: 'synthetic-history', partition: 0, offset: '42' })
      await sink.flush()
      state = await readBronzeState(dataDir)
      assert.equal(find(state, 'synthetic-history', 0)?.finished, undefined)
      assert.equal(watermarkOf(state), T + 1000)
    } finally {
      await Promise.all([sink.close(), other.close()])
    }
  })

  test('many writers at random moments: the state ends with every partition\'s highest offset and every mark made after its last flush', async () => {
    const dataDir = join(tmp.dir, 'random')
    const sinks = [new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db }), new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db }), new BronzeSink({ ...SINK_DEFAULTS, dataDir, db: tmp.db })]
    try {
      let seed = 7
      const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
      const next = [0, 0, 0]
      const jobs: Promise<unknown>[] = []
      for (let round = 0; round < 40; round++) {
        const k = Math.floor(rand() * 3)
        const s = sinks[k]!
        s.add(ev(`r${round}`, T + round * 1000), { topic: `t${k}`, partition: 0, offset: String(next[k]!++) })
        jobs.push(sleep(Math.floor(rand() * 5)).then(() => s.flush()))
        if (rand() < 0.3) jobs.push(markPartitionFinished(dataDir, `t${Math.floor(rand() * 3)}`, 0))
      }
      await Promise.all(jobs)
      for (const [k, s] of sinks.entries()) await s.markFinished(`t${k}`, 0)
      const state = await readBronzeState(dataDir)
      for (let k = 0; k < 3; k++) {
        if (next[k] === 0) continue
        assert.equal(find(state, `t${k}`, 0)?.last_offset, String(next[k]! - 1))
        assert.equal(find(state, `t${k}`, 0)?.finished, true)
      }
    } finally {
      await Promise.all(sinks.map((s) => s.close()))
    }
  })
})
