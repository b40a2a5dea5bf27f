// The bronze feed taking the speed path's validations, through a real Kafka broker: the app (`--source kafka`) reads a
// backlog and then live rounds of records with duplicates, late and invalid ones (some not UTF-8); bronze must then
// hold every valid record exactly once, with its event, and no invalid one, whether it took the speed path's
// validations (most of the live records) or parsed every record itself (HOURGLASS_BRONZE_SHARE_WAIT=0).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { listValue } from '@duckdb/node-api'
import { buildApp } from '../src/app/index.js'
import { listBronzeHours } from '../src/batch/bronze-layout.js'
import { Db, num } from '../src/batch/duckdb.js'
import { loadConfig } from '../src/config.js'
import { eventKey, type OutgoingRecord } from '../src/ingest/kafka/index.js'
import { M, makeLines, validRecords } from './helpers/events.js'
import { consumeAll } from './helpers/kafka.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const PARTITIONS = 2
const ROUNDS = 6
const services = servicesForFile({ partitions: PARTITIONS })

interface Run { shared: number, received: number, rows: Map<string, { event_id: string, ts: number }>, twice: number, want: Map<string, { event_id: string, ts: number }> }

async function run (name: string, shareWait: string): Promise<Run> {
  const topic = `bronze-share-${name}-${process.pid}`
  await services.writer.createTopic(topic, PARTITIONS)
  const dir = await mkdtemp(join(tmpdir(), 'hg-bronze-share-'))
  try {
    const dataDir = join(dir, 'data')
    const config = loadConfig({}, {
      dataDir, source: 'kafka', kafkaBrokers: services.kafka.brokers, kafkaTopics: topic, kafkaGroup: `${topic}-speed`,
      kafkaBronzeGroup: `${topic}-bronze`, dlqTopic: `${topic}.dlq`, logLevel: 'silent', seedDays: '0', bronzeShareWaitMs: shareWait
    })
    const app = await buildApp(config, { schedule: false })
    let sent = 0
    let shared = 0
    let received = 0
    try {
      const send = async (round: number): Promise<void> => {
        const now = Date.now()
        const records: OutgoingRecord[] = makeLines(now - 10 * M, now - M, 300, 40 + round, `${name}-${round}`)
          .map((value) => ({ key: eventKey(value), value }))
        // not UTF-8
        records.push({ key: `binary-${round}`, value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x80 + round, 0x22, 0x7d]) })
        await services.writer.send(topic, records)
        sent += records.length
      }
      await send(0) // a backlog before the consumers start
      await app.startSource()
      const bronze = app.bronze
      assert.ok(bronze !== null)
      for (let round = 1; round <= ROUNDS; round++) {
        await until(() => `both consumers to read ${sent} records: speed ${app.service.quality().received}, bronze ${bronze.received}`,
          () => app.service.quality().received === sent && bronze.received === sent, 120_000)
        if (round < ROUNDS) await send(round) // live: both consumers read these as they come
      }
      shared = bronze.shared
      received = bronze.received
    } finally {
      await app.close() // the leader's last flush
    }

    const records = await consumeAll(services.kafka.brokers, topic, sent, 60_000, 500)
    assert.equal(records.length, sent)
    const valid = validRecords(records.map((r) => r.value.toString('utf8')), Date.now())
    const want = new Map(valid.map(({ e, line }) => [`${records[line]?.partition}/${records[line]?.offset}`, { event_id: e.event_id, ts: e.ts }]))
    const db = await Db.open()
    try {
      const files = [...(await listBronzeHours(dataDir)).values()].flat()
      const conn = await db.connect()
      const got = await conn.rows(`SELECT src_partition, CAST(src_offset AS VARCHAR) AS src_offset, event_id, epoch_ms(event_time) AS ts
        FROM read_parquet($files::VARCHAR[])`, { files: listValue(files) })
      db.release(conn)
      const rows = new Map(got.map((r) => [`${num(r.src_partition)}/${String(r.src_offset)}`, { event_id: String(r.event_id), ts: num(r.ts) }]))
      return { shared, received, rows, twice: got.length - rows.size, want }
    } finally {
      await db.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function assertExactlyOnce (r: Run, label: string): void {
  assert.equal(r.twice, 0, `${label}: records in bronze more than once`)
  const missing = [...r.want.keys()].filter((k) => !r.rows.has(k))
  const extra = [...r.rows.keys()].filter((k) => !r.want.has(k))
  assert.deepEqual(missing, [], `${label}: valid records missing from bronze`)
  assert.deepEqual(extra, [], `${label}: records in bronze that are not valid (or not in the topic)`)
  for (const [k, e] of r.want) assert.deepEqual(r.rows.get(k), e, `${label}: the event of ${k}`)
  assert.ok(r.want.size < r.received, `${label}: the set has invalid records (${r.want.size} valid of ${r.received})`)
}

test('bronze holds every valid record once and no invalid one, taking the speed path\'s validations or parsing them itself', { timeout: 600_000 }, async (t) => {
  // a long wait: on a loaded machine the speed path's batch may take longer than the default second
  const sharing = await run('on', '10s')
  t.diagnostic(`bronze took ${sharing.shared} of ${sharing.received} validations from the speed path`)
  assertExactlyOnce(sharing, 'shared')
  // the live rounds at least: both consumers read them as they came
  assert.ok(sharing.shared >= sharing.received / 2, `bronze took ${sharing.shared} of ${sharing.received} validations from the speed path`)
  const parsing = await run('off', '0')
  assertExactlyOnce(parsing, 'parsed')
  assert.equal(parsing.shared, 0, 'HOURGLASS_BRONZE_SHARE_WAIT=0: bronze parses every record itself')
})
