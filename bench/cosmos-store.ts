// The Cosmos DB speed store against a Cosmos DB API server (@vercel/cosmosdb-server, started here
// as a child process on a loopback port, so that it has its own core): apply rate for realistic
// batches, alone and from several partitions at once, then query, coverage, changeToken and seen
// over a full hour of windows, with the requests and request units each takes. Prints JSON;
// asserts nothing.
//
//   node --import tsx bench/cosmos-store.ts [--batches 8] [--deltas 100] [--bins 30] [--partitions 4]
//
// A batch: `deltas` rows spread over 5 minute windows × (event_type, region) pairs, each with
// `bins` sketch bins, and as many dedup keys as events (10 per row), as in bench/redis-store.ts.
//
// Request units: the test server answers every request with `x-ms-request-charge: 1` (and charges
// 1 per operation of a bulk request), so the "request_units" below count those, not what Cosmos DB
// would charge. The estimate for the real service is in docs/design.md ("Cosmos DB store"). Likewise the server keeps no index (every
// query scans the container): its query times say nothing about Cosmos DB's.
import { spawn } from 'node:child_process'
import https from 'node:https'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { loadConfig } from '../src/config.js'
import { type ApplyBatch, MINUTE_MS } from '../src/model/index.js'
import { EVENTS_PER_ROW, pct, storeBench } from './store-batches.js'
import { CosmosSpeedStore, type CosmosSpeedStoreOptions } from '../src/speed/index.js'

const { shape, now, makeBatch } = storeBench({ batches: 8, deltas: 100, bins: 30, partitions: 4 })
const { batches, deltas: deltasPerBatch, bins: binsPerDelta, partitions } = shape

/** p50 / p99 of `n` runs, and the requests and request units one run takes */
async function timed (store: CosmosSpeedStore, n: number, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const ms: number[] = []
  const before = store.stats
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn()
    ms.push(performance.now() - t0)
  }
  const after = store.stats
  return {
    p50_ms: pct(ms, 0.5),
    p99_ms: pct(ms, 0.99),
    requests: Number(((after.requests - before.requests) / n).toFixed(1)),
    request_units: Number(((after.requestCharge - before.requestCharge) / n).toFixed(1))
  }
}

async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as { port: number }
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

const port = await freePort()
// the server module itself rather than its CLI, to turn keep-alive on: by default it closes the
// connection after every response, and a TLS handshake per request would dominate every figure
const main = createRequire(import.meta.url).resolve('@vercel/cosmosdb-server')
const serve = `require(${JSON.stringify(main)}).createHttpsServer({ keepAlive: true }).listen(${port}, '127.0.0.1', () => console.log('Ready'))`
const child = spawn(process.execPath, ['-e', serve], { stdio: ['ignore', 'pipe', 'inherit'] })
await new Promise<void>((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`cosmosdb-server exited with ${code}`)))
  child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('Ready')) resolve() })
})

const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true, maxSockets: 64 })
const settings = loadConfig({}) // the defaults
const options = (more: Partial<CosmosSpeedStoreOptions> = {}): CosmosSpeedStoreOptions => ({
  endpoint: `https://127.0.0.1:${port}`,
  key: 'bench-key',
  database: 'bench',
  container: 'speed',
  retentionMs: settings.retentionMs,
  dedupWindowMs: settings.dedupWindowMs,
  now: () => now,
  clientOptions: { agent, connectionPolicy: { enableEndpointDiscovery: false } },
  ...more
})

try {
  const store = await CosmosSpeedStore.open(options())
  // warm up (container, connections)
  await store.apply(makeBatch(0, 99, now - 10 * MINUTE_MS))

  // one partition, batches back to back, prepared beforehand
  const prepared = Array.from({ length: batches }, (_, i) => makeBatch(i + 1, 0, now - 60 * MINUTE_MS + (i % 12) * 5 * MINUTE_MS))
  const applyMs: number[] = []
  const before = store.stats
  let t0 = performance.now()
  for (const b of prepared) {
    const s = performance.now()
    await store.apply(b)
    applyMs.push(performance.now() - s)
  }
  const serialSeconds = (performance.now() - t0) / 1000
  const after = store.stats

  // several partitions at once, each with its own client (as several consumers would): they
  // write the same windows, so their ETag conflicts and retries are part of the figure
  const stores = await Promise.all(Array.from({ length: partitions }, async () => await CosmosSpeedStore.open(options())))
  const perPartition = Math.max(1, Math.floor(batches / partitions))
  const work = stores.map((_, p) => Array.from({ length: perPartition }, (_, i) => makeBatch(i + 1, p + 1, now - 60 * MINUTE_MS + (i % 12) * 5 * MINUTE_MS)))
  t0 = performance.now()
  await Promise.all(stores.map(async (s, p) => { for (const b of work[p] as ApplyBatch[]) await s.apply(b) }))
  const parallelSeconds = (performance.now() - t0) / 1000
  const parallelStats = stores.map((s) => s.stats)
  for (const s of stores) await s.close()
  const sum = (k: 'requests' | 'requestCharge' | 'conflicts') => parallelStats.reduce((n, s) => n + s[k], 0)

  const from = now - 60 * MINUTE_MS
  const to = now + MINUTE_MS
  const rows = (await store.query(from, to, {})).length
  const query = await timed(store, 5, () => store.query(from, to, {}))
  const queryFiltered = await timed(store, 5, () => store.query(from, to, { event_type: ['type_3'], region: ['region-1'] }))
  const query5m = await timed(store, 5, () => store.query(now - 5 * MINUTE_MS, to, {}))
  const token = await timed(store, 5, () => store.changeToken(from, to))
  const coverage = await timed(store, 5, () => store.coverage())
  // 500 keys (of a batch's 2,000): the test server answers every query by scanning the whole
  // container, dedup documents included, so a lookup of thousands of keys takes it minutes
  const keys = ((prepared[0] as ApplyBatch).dedupKeys as string[]).slice(0, 500)
  const seen = await timed(store, 3, () => store.seen(keys))
  await store.close()

  console.log(JSON.stringify({
    server: '@vercel/cosmosdb-server 1.0.1, child process, https on loopback, keep-alive',
    request_units_note: 'the test server charges 1 RU per request (and per operation of a bulk request) whatever it does: request_units here count those, not what Cosmos DB would charge',
    batch: { deltas: deltasPerBatch, bins_per_delta: binsPerDelta, dedup_keys: deltasPerBatch * EVENTS_PER_ROW, windows: 5 },
    apply_one_partition: {
      batches,
      applies_per_s: Number((batches / serialSeconds).toFixed(1)),
      deltas_per_s: Math.round((batches * deltasPerBatch) / serialSeconds),
      events_per_s: Math.round((batches * deltasPerBatch * EVENTS_PER_ROW) / serialSeconds),
      p50_ms: pct(applyMs, 0.5),
      p99_ms: pct(applyMs, 0.99),
      requests_per_batch: Number(((after.requests - before.requests) / batches).toFixed(1)),
      request_units_per_batch: Number(((after.requestCharge - before.requestCharge) / batches).toFixed(1)),
      etag_conflicts: after.conflicts - before.conflicts
    },
    apply_parallel: {
      partitions,
      batches: perPartition * partitions,
      applies_per_s: Number(((perPartition * partitions) / parallelSeconds).toFixed(1)),
      deltas_per_s: Math.round((perPartition * partitions * deltasPerBatch) / parallelSeconds),
      requests_per_batch: Number((sum('requests') / (perPartition * partitions)).toFixed(1)),
      etag_conflicts: sum('conflicts')
    },
    query_hour: { windows: 61, rows, ...query },
    query_hour_filtered: queryFiltered,
    query_last_5_min: query5m,
    change_token_hour: token,
    coverage,
    [`seen_${keys.length}_keys`]: seen
  }, null, 2))
} finally {
  agent.destroy()
  child.kill()
}
