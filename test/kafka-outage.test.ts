// A Kafka outage never stops `serve --source kafka`: with the only broker stopped, the consumers
// retry for as long as it takes, /readyz answers 503 naming Kafka and the consumer group, and
// /metrics shows hourglass_kafka_outage_seconds rising; once the broker is back they rejoin, /readyz
// is 200 again and the records produced afterwards are counted. A real broker (stopped and started
// again with its data) and `serve` as a child process; bounds are generous (a loaded machine).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { createTopicAndWait } from '../src/ingest/kafka/client.js'
import { kafkaServeEnv, ServeProcess } from './helpers/serve-process.js'
import { servicesForFile } from './helpers/services.js'
import { until } from './helpers/wait.js'

const services = servicesForFile({ partitions: 1 })

/** a valid event (the contract in docs/design.md), a minute ago */
function event (i: number): string {
  return JSON.stringify({
    event_id: `outage-${i}`, timestamp: new Date(Date.now() - 60_000).toISOString(), event_type: 'page_view', region: 'eu-west', processing_time: 12
  })
}

/** `serve --source kafka` on `topic` (groups named after it), on a fresh data folder, port 0. */
function spawnServe (t: TestContext, topic: string): ServeProcess {
  const dir = mkdtempSync(join(tmpdir(), 'hg-outage-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const env = kafkaServeEnv(services.kafka.brokers, topic, dir)
  const p = new ServeProcess('serve', ['serve', '--source', 'kafka', '--port', '0'], env)
  t.after(async () => { if (p.alive) await p.terminate(60_000) })
  return p
}

async function newTopic (name: string): Promise<void> {
  const admin = services.writer.kafka.admin()
  await admin.connect()
  try {
    await createTopicAndWait(admin, name, 1)
  } finally {
    await admin.disconnect()
  }
}

async function readyz (base: string): Promise<{ status: number, message: string }> {
  const r = await fetch(base + '/readyz')
  const body = await r.json() as { message?: string }
  return { status: r.status, message: body.message ?? '' }
}

async function outageSeconds (base: string, group: string): Promise<number | null> {
  const text = await (await fetch(base + '/metrics')).text()
  const m = new RegExp(`^hourglass_kafka_outage_seconds\\{group="${group}"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? null : Number(m[1])
}

async function received (base: string): Promise<number> {
  const r = await fetch(base + '/v1/quality')
  return r.status === 200 ? (await r.json() as { received: number }).received : -1
}

test('broker stopped under a running serve: it stays up, /readyz 503 names Kafka, the outage gauge rises; broker back: ready again, records counted', { timeout: 600_000 }, async (t) => {
  const { kafka, writer } = services
  const topic = `outage-${Date.now()}`
  const group = `${topic}-speed`
  await newTopic(topic)

  const p = spawnServe(t, topic)
  const show = (): string => `; output:\n${p.output}`
  await until(() => 'serve to be serving' + show(), () => p.output.includes('Hourglass is serving') || !p.alive, 180_000)
  const base = /Hourglass is serving on (http:\/\/\S+)/.exec(p.output)?.[1]
  assert.ok(base !== undefined, 'serve exited' + show())
  await until(() => '/readyz 200 before the outage' + show(), async () => (await readyz(base)).status === 200, 180_000)
  await writer.send(topic, [{ key: 'a', value: event(1) }])
  await until(() => 'the first record to be counted' + show(), async () => (await received(base)) >= 1, 120_000)
  assert.equal(await outageSeconds(base, group), null, 'no outage series before an outage')

  await kafka.stop()
  let down = { status: 0, message: '' }
  await until(() => `/readyz to report the outage (last: ${JSON.stringify(down)})` + show(), async () => {
    assert.ok(p.alive, 'serve stays up during the outage' + show())
    down = await readyz(base)
    return down.status === 503 && down.message.includes(`Kafka: consumer group ${group} reaches no broker since`)
  }, 300_000)
  const first = await outageSeconds(base, group)
  assert.ok(first !== null && first >= 0, `the outage gauge: ${first}`)
  await until('the outage gauge to rise', async () => ((await outageSeconds(base, group)) ?? 0) > (first as number), 60_000)
  assert.equal((await fetch(base + '/healthz')).status, 200, 'alive all along')

  await kafka.start()
  await until(() => `/readyz 200 after the broker came back (last: ${JSON.stringify(down)})` + show(), async () => {
    assert.ok(p.alive, 'serve stays up while the consumers rejoin' + show())
    down = await readyz(base)
    return down.status === 200
  }, 300_000)
  assert.equal(await outageSeconds(base, group), 0, 'the outage is over')
  await writer.send(topic, [{ key: 'b', value: event(2) }])
  await until(() => 'the record sent after the outage to be counted' + show(), async () => (await received(base)) >= 2, 180_000)
  assert.ok(p.alive, 'the same process, never restarted')
  assert.deepEqual(await p.terminate(60_000), { code: 0, signal: null }, 'it still stops cleanly' + show())
})

test('broker down when serve starts: it listens, /readyz 503 names Kafka until the broker starts, then it serves', { timeout: 600_000 }, async (t) => {
  const { kafka, writer } = services
  const topic = `late-${Date.now()}`
  const group = `${topic}-speed`
  await newTopic(topic)
  await kafka.stop()
  t.after(() => kafka.start()) // whatever happens, the broker is back for the file's other tests
  const p = spawnServe(t, topic)
  const show = (): string => `; output:\n${p.output}`
  await until(() => 'serve to listen' + show(), () => /listening on http/.test(p.output) || !p.alive, 120_000)
  const base = /listening on (http:\/\/[^\s;]+)/.exec(p.output)?.[1]
  assert.ok(base !== undefined, 'serve exited' + show())
  let last = { status: 0, message: '' }
  await until(() => `/readyz to name the outage (last: ${JSON.stringify(last)})` + show(), async () => {
    assert.ok(p.alive, 'serve waits for the broker' + show())
    last = await readyz(base)
    return last.status === 503 && last.message.includes(`Kafka: consumer group ${group} reaches no broker since`)
  }, 300_000)
  assert.ok(((await outageSeconds(base, group)) ?? -1) >= 0, 'the outage gauge')
  assert.ok(!p.output.includes('Hourglass is serving'), 'not serving without its source' + show())

  await kafka.start()
  await until(() => `serve to be serving once the broker is up (last: ${JSON.stringify(last)})` + show(), async () => {
    assert.ok(p.alive, 'serve stays up' + show())
    last = await readyz(base)
    return last.status === 200 && p.output.includes('Hourglass is serving')
  }, 300_000)
  await writer.send(topic, [{ key: 'c', value: event(3) }])
  await until(() => 'a record to be counted' + show(), async () => (await received(base)) >= 1, 180_000)
  assert.deepEqual(await p.terminate(60_000), { code: 0, signal: null }, 'it stops cleanly' + show())
})
