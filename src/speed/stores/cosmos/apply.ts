// The apply protocol. Cosmos DB has no transaction across partitions, so the position document of each
// (topic, partition) is a write-ahead log of one entry: claim (the position, written with IfMatch, carries the
// whole batch as `pending`) → windows (each read-modify-written with IfMatch, recording the batch's offset for its
// source, so a batch rolled forward twice counts once) → dedup documents → commit (pending = null). A batch left
// pending by a crash is rolled forward by the next apply or position() for its partition.
import { BulkOperationType, type Container, type OperationInput } from '@azure/cosmos'
import { type ApplyBatch, emptyPartials, mergePartials, MINUTE_MS, type PartialRow } from '../../../model/index.js'
import { parseOffset } from '../../offsets.js'
import {
  compact, type CompactDelta, dedupId, H, hourKey, maxOf, partialsOf, type Pending, sentimentOf, type PositionDoc, POS_PK, positionId,
  sourceKey, STAMP, type StoreTime, strip, toBins, TTL_SLACK_S, type Versioned, type WindowDoc, windowId, windowPk
} from './documents.js'
import { backoff, type CosmosRequests, eachLimit, sleep, statusOf } from './requests.js'

/** operations per bulk request (the service's limit per partition key range) */
const BULK_CHUNK = 100
/** a pending batch larger than this is refused (documents are at most 2 MB) */
const MAX_PENDING_BYTES = 1_900_000

export interface ApplySettings extends StoreTime {
  /** window writes in flight per apply */
  concurrency: number
  /** attempts of one write that meets 412 / 429 before apply gives up */
  maxAttempts: number
  /** tests only: throw after this step of an apply, as a crash there would */
  crashAfter: 'claim' | 'first-window' | undefined
}

/** Applies batches and reads positions of one store, keeping the versions (ETags) of what it wrote. */
export class CosmosApply {
  readonly #retentionMs: number
  readonly #dedupWindowMs: number
  readonly #now: () => number
  readonly #concurrency: number
  readonly #maxAttempts: number
  readonly #crashAfter: ApplySettings['crashAfter']
  readonly #requests: CosmosRequests
  readonly #container: () => Promise<Container>
  /** last known version of window documents this store wrote (IfMatch without a read first) */
  readonly #windows = new Map<string, Versioned<WindowDoc>>()
  /** last known version of position documents */
  readonly #positions = new Map<string, Versioned<PositionDoc>>()

  constructor (settings: ApplySettings, requests: CosmosRequests, container: () => Promise<Container>) {
    this.#retentionMs = settings.retentionMs
    this.#dedupWindowMs = settings.dedupWindowMs
    this.#now = settings.now
    this.#concurrency = settings.concurrency
    this.#maxAttempts = settings.maxAttempts
    this.#crashAfter = settings.crashAfter
    this.#requests = requests
    this.#container = container
  }

  async apply (batch: ApplyBatch): Promise<boolean> {
    const { topic, partition, offset } = batch.position
    const value = parseOffset(offset)
    const c = await this.#container()
    const posId = positionId(topic, partition)
    const deltas = this.#mergedDeltas(batch.deltas)
    const keys = batch.dedupKeys ?? []
    let fresh = false
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const pos = await this.#readPosition(c, posId, fresh)
      if (pos !== null && pos.doc.pending !== null) {
        // a batch claimed and not committed (its writer crashed, or is still at it): finish it first
        await this.#rollForward(c, pos)
        fresh = true
        continue
      }
      const stored = pos?.doc.offset ?? null
      if ((stored !== null && value <= parseOffset(stored)) || (batch.previous !== undefined && batch.previous !== stored)) {
        if (fresh || pos === null) return false
        fresh = true // the cached position may be behind: decide on the stored one
        continue
      }
      const pending: Pending = {
        offset,
        at: this.#now(),
        deltas,
        keys: keys.map(dedupId),
        watermark: batch.watermark ?? null,
        maxEventTime: batch.maxEventTime ?? null
      }
      const base: PositionDoc = pos?.doc ??
        { id: posId, pk: POS_PK, kind: 'p', topic, partition, offset: null, watermark: null, maxEventTime: null, pending: null, ttl: -1 }
      const nothingToWrite = deltas.length === 0 && keys.length === 0
      // a batch with no rows and no keys is only a position move: claim and commit in one write
      const next: PositionDoc = nothingToWrite
        ? { ...base, offset, watermark: maxOf(base.watermark, pending.watermark), maxEventTime: maxOf(base.maxEventTime, pending.maxEventTime), pending: null }
        : { ...base, pending }
      // Cosmos DB documents are at most 2 MB: a Kafka fetch of 1 MB per partition (kafkajs's default) fits
      if (!nothingToWrite && Buffer.byteLength(JSON.stringify(next)) > MAX_PENDING_BYTES) {
        throw new Error(`cosmos speed store: a batch of ${deltas.length} rows and ${keys.length} dedup keys is too large for one position document; ` +
          'consume smaller batches')
      }
      const claimed = await this.#writePosition(c, pos, next)
      if (claimed === null) {
        fresh = true
        await sleep(backoff(attempt))
        continue
      }
      if (this.#crashAfter === 'claim') throw new Error('simulated crash after the claim')
      if (!nothingToWrite) await this.#rollForward(c, claimed)
      return true
    }
    throw new Error(`cosmos speed store: the position of ${topic}[${partition}] stayed contended after ${this.#maxAttempts} attempts`)
  }

  /** The last committed offset; a batch claimed and not committed (a crash) is completed first. */
  async position (topic: string, partition: number): Promise<string | null> {
    const c = await this.#container()
    const id = positionId(topic, partition)
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const pos = await this.#readPosition(c, id, true)
      if (pos === null) return null
      if (pos.doc.pending === null) return pos.doc.offset
      await this.#rollForward(c, pos)
    }
    throw new Error(`cosmos speed store: the position of ${topic}[${partition}] stayed contended after ${this.#maxAttempts} attempts`)
  }

  /** the batch's deltas merged per row, copied (the caller's objects are neither kept nor changed) */
  #mergedDeltas (rows: readonly PartialRow[]): CompactDelta[] {
    const byRow = new Map<string, PartialRow>()
    for (const r of rows) {
      const k = windowId(r.window_start, r.event_type, r.region)
      const have = byRow.get(k)
      if (have === undefined) byRow.set(k, { ...r, partials: { ...emptyPartials(), response: new Map() } })
      mergePartials((byRow.get(k) as PartialRow).partials, r.partials)
    }
    return [...byRow.values()].map(compact)
  }

  async #readPosition (c: Container, id: string, fresh: boolean): Promise<Versioned<PositionDoc> | null> {
    if (!fresh) {
      const cached = this.#positions.get(id)
      if (cached !== undefined) return cached
    }
    const res = await this.#requests.request(() => c.item(id, POS_PK).read<PositionDoc>())
    if (res.resource === undefined || res.statusCode === 404) {
      this.#positions.delete(id)
      return null
    }
    const v = { doc: strip(res.resource), etag: res.etag }
    this.#positions.set(id, v)
    return v
  }

  /** write a position document with IfMatch on the version read (create when there was none); null: someone else wrote it first */
  async #writePosition (c: Container, prev: Versioned<PositionDoc> | null, doc: PositionDoc): Promise<Versioned<PositionDoc> | null> {
    try {
      const res = prev === null
        ? await this.#requests.request(() => c.items.create(doc))
        : await this.#requests.request(() => c.item(doc.id, POS_PK).replace(doc, { accessCondition: { type: 'IfMatch', condition: prev.etag } }))
      const v = { doc: strip(res.resource as PositionDoc), etag: res.etag }
      this.#positions.set(doc.id, v)
      return v
    } catch (err) {
      const status = statusOf(err)
      if (status !== 412 && status !== 409 && status !== 404) throw err
      this.#requests.stats.conflicts++
      this.#positions.delete(doc.id)
      return null
    }
  }

  /**
   * Apply a claimed batch (`pos.doc.pending`) to its windows and dedup keys, then commit the position. The claim is what
   * makes a replay safe: per-window offsets alone would not be, since a replayed batch rarely ends at the same offset
   * (a window that took 101–180 before a crash would take 171–180 again from a replayed 101–250).
   */
  async #rollForward (c: Container, pos: Versioned<PositionDoc>): Promise<void> {
    const pending = pos.doc.pending as Pending
    const src = sourceKey(pos.doc.topic, pos.doc.partition)
    const value = parseOffset(pending.offset)
    let written = 0
    await eachLimit(pending.deltas, this.#concurrency, async (d) => {
      await this.#applyWindow(c, d, src, pending.offset, value)
      if (this.#crashAfter === 'first-window' && ++written === 1) throw new Error('simulated crash after the first window')
    })
    await this.#writeDedupKeys(c, pending.keys, pending.at)
    await this.#stampHours(c, pending.deltas)
    const committed: PositionDoc = {
      ...pos.doc,
      offset: pending.offset,
      watermark: maxOf(pos.doc.watermark, pending.watermark),
      maxEventTime: maxOf(pos.doc.maxEventTime, pending.maxEventTime),
      pending: null
    }
    // 412: another process rolled the same batch forward and committed it; nothing else can
    // change a position document while it holds a pending batch
    await this.#writePosition(c, pos, committed)
  }

  /** Add one delta to its window, once: read-modify-write with IfMatch, fenced by the source's offset. */
  async #applyWindow (c: Container, d: CompactDelta, src: string, offset: string, value: bigint): Promise<void> {
    const [windowStart, eventType, region, events, latencySum, latencyCount, revenueCents, bins, sentiment] = d
    const expiresAt = windowStart + MINUTE_MS + this.#retentionMs
    const id = windowId(windowStart, eventType, region)
    const pk = windowPk(windowStart)
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const now = this.#now()
      if (expiresAt <= now) return // a window already past the retention is not brought back
      let cur: Versioned<WindowDoc> | null | undefined = this.#windows.get(id)
      if (cur === undefined) {
        const res = await this.#requests.request(() => c.item(id, pk).read<WindowDoc>())
        cur = res.resource === undefined || res.statusCode === 404 ? null : { doc: strip(res.resource), etag: res.etag }
      }
      const applied = cur?.doc.src[src]
      if (applied !== undefined && parseOffset(applied) >= value) return // this batch (or a later one) is in it already
      const ttl = Math.max(1, Math.ceil((expiresAt - now) / 1000) + TTL_SLACK_S)
      let next: WindowDoc
      if (cur === null) {
        next = {
          id, pk, kind: 'w', window_start: windowStart, event_type: eventType, region,
          events, latency_sum: latencySum, latency_count: latencyCount, revenue_cents: revenueCents, bins, src: { [src]: offset }, ttl,
          ...(sentiment === undefined ? {} : { sentiment })
        }
      } else {
        const p = partialsOf(cur.doc)
        mergePartials(p, partialsOf({ events, latency_sum: latencySum, latency_count: latencyCount, revenue_cents: revenueCents, bins, sentiment }))
        const merged = sentimentOf(p)
        next = {
          ...cur.doc, events: p.events, latency_sum: p.latency_sum, latency_count: p.latency_count, revenue_cents: p.revenue_cents,
          bins: toBins(p.response), src: { ...cur.doc.src, [src]: offset }, ttl, ...(merged === undefined ? {} : { sentiment: merged })
        }
      }
      try {
        const prev = cur
        const res = prev === null
          ? await this.#requests.request(() => c.items.create(next))
          : await this.#requests.request(() => c.item(id, pk).replace(next, { accessCondition: { type: 'IfMatch', condition: prev.etag } }))
        this.#remember(id, { doc: strip(res.resource as WindowDoc), etag: res.etag })
        return
      } catch (err) {
        const status = statusOf(err)
        // 412 stale ETag, 409 lost the create race, 404 removed meanwhile: read it again and retry
        if (status !== 412 && status !== 409 && status !== 404) throw err
        this.#requests.stats.conflicts++
        this.#windows.delete(id)
        await sleep(backoff(attempt))
      }
    }
    throw new Error(`cosmos speed store: window ${windowStart} ${eventType}/${region} stayed contended after ${this.#maxAttempts} attempts`)
  }

  /** count up the change counter of each hour the deltas fall in (patch incr: no ETag, no conflict) */
  async #stampHours (c: Container, deltas: readonly CompactDelta[]): Promise<void> {
    const now = this.#now()
    const hours = new Set<number>()
    for (const d of deltas) if (d[0] + MINUTE_MS + this.#retentionMs > now) hours.add(Math.floor(d[0] / H) * H)
    await Promise.all([...hours].map(async (h) => {
      const pk = windowPk(h)
      // kept until every window of the hour has expired, so a counter never starts again at 1
      const ttl = Math.max(1, Math.ceil((h + H + this.#retentionMs - now) / 1000) + TTL_SLACK_S)
      for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
        try {
          await this.#requests.request(() => c.item(STAMP, pk).patch([{ op: 'incr', path: '/n', value: 1 }, { op: 'set', path: '/ttl', value: ttl }]))
          return
        } catch (err) {
          if (statusOf(err) !== 404) throw err
        }
        try {
          await this.#requests.request(() => c.items.create({ id: STAMP, pk, kind: 's', n: 1, ttl }))
          return
        } catch (err) {
          if (statusOf(err) !== 409) throw err // created meanwhile: count up
        }
      }
    }))
  }

  /** keep the version just written; drop versions of windows past the retention */
  #remember (id: string, v: Versioned<WindowDoc>): void {
    this.#windows.set(id, v)
    if (this.#windows.size <= 4096) return
    const horizon = this.#now() - this.#retentionMs
    for (const [k, w] of this.#windows) if (w.doc.window_start + MINUTE_MS <= horizon) this.#windows.delete(k)
    // still large (many rows a minute): forget the older half, they are read again when needed
    if (this.#windows.size > 4096) for (const k of [...this.#windows.keys()].slice(0, this.#windows.size >> 1)) this.#windows.delete(k)
  }

  /**
   * Upsert one document per dedup key (idempotent, so a rolled-forward batch may write them again),
   * 100 to a bulk request (the most one request takes for one partition key), a few requests at
   * once. The older `items.bulk` and not `executeBulkOperations`: the latter holds a partial batch
   * back for a second to gather more, which would put a one-second floor under every apply.
   */
  async #writeDedupKeys (c: Container, ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return
    const exp = at + this.#dedupWindowMs
    const ttl = Math.ceil((exp - this.#now()) / 1000)
    if (ttl <= 0) return // already past the dedup window
    const pk = 'd:' + hourKey(at)
    const chunks: OperationInput[][] = []
    for (let i = 0; i < ids.length; i += BULK_CHUNK) {
      chunks.push(ids.slice(i, i + BULK_CHUNK).map((k) => ({
        operationType: BulkOperationType.Upsert,
        partitionKey: pk,
        resourceBody: { id: k, pk, kind: 'd', exp, ttl: ttl + TTL_SLACK_S }
      })))
    }
    await eachLimit(chunks, 4, async (chunk) => {
      let todo = chunk
      for (let attempt = 1; todo.length > 0; attempt++) {
        const ops = todo
        const results = await this.#requests.request(() => c.items.bulk(ops, { continueOnError: true })) // deprecated, see above
        const again: OperationInput[] = []
        let wait = 0
        results.forEach((r, i) => {
          this.#requests.stats.requestCharge += r.requestCharge ?? 0
          if (r.statusCode >= 200 && r.statusCode < 300) return
          if ((r.statusCode !== 429 && r.statusCode !== 449 && r.statusCode !== 408 && r.statusCode !== 503) || attempt >= this.#maxAttempts) {
            throw new Error(`cosmos speed store: writing dedup keys failed with status ${r.statusCode}`)
          }
          again.push(ops[i] as OperationInput)
          wait = Math.max(wait, backoff(attempt + 3)) // a bulk result carries no retry-after
        })
        if (again.length > 0) {
          this.#requests.stats.throttled++
          await sleep(wait)
        }
        todo = again
      }
    })
  }
}
