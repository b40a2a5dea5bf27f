// Reads of the Cosmos DB store: windows of a time range, dedup keys, the change token and coverage. A range names
// its UTC hours as partition keys: one single-partition query per hour (a cross-partition query past a day of them).
// Windows past the retention by the store clock are filtered out, whether or not the server has removed them. Readers
// never roll a pending batch forward: a batch is visible once its windows are written.
import { createHash } from 'node:crypto'
import { type Container, type SqlParameter } from '@azure/cosmos'
import { type Coverage, type Filters, MINUTE_MS, type PartialRow } from '../../../model/index.js'
import { dedupId, H, hourKey, maxOf, META, partialsOf, POS_PK, STAMP, type StoreTime, type WindowDoc, windowPk } from './documents.js'
import { type CosmosRequests } from './requests.js'

/** ids per dedup lookup query */
const SEEN_CHUNK = 100
/** more hour buckets than this in a query range: one cross-partition query instead */
const MAX_PK_FANOUT = 24

export class CosmosQueries {
  readonly #retentionMs: number
  readonly #dedupWindowMs: number
  readonly #now: () => number
  readonly #requests: CosmosRequests
  readonly #container: () => Promise<Container>

  constructor (settings: StoreTime, requests: CosmosRequests, container: () => Promise<Container>) {
    this.#retentionMs = settings.retentionMs
    this.#dedupWindowMs = settings.dedupWindowMs
    this.#now = settings.now
    this.#requests = requests
    this.#container = container
  }

  async query (from: number, to: number, filters: Filters): Promise<PartialRow[]> {
    const docs = await this.#windowsIn<WindowDoc>(from, to, filters,
      'c.window_start, c.event_type, c.region, c.events, c.latency_sum, c.latency_count, c.revenue_cents, c.bins, c.sentiment')
    return docs
      .map((d) => ({ window_start: d.window_start, event_type: d.event_type, region: d.region, partials: partialsOf(d) }))
      .sort((a, b) => a.window_start - b.window_start)
  }

  async seen (keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    const c = await this.#container()
    const now = this.#now()
    const ids = keys.map(dedupId)
    // dedup documents live under the hour of the apply that wrote them: the hours of the dedup window
    const pks: string[] = []
    for (let h = Math.floor((now - this.#dedupWindowMs) / H) * H; h <= now; h += H) pks.push('d:' + hourKey(h))
    const live = new Set<string>()
    const chunks: string[][] = []
    for (let i = 0; i < ids.length; i += SEEN_CHUNK) chunks.push(ids.slice(i, i + SEEN_CHUNK))
    await Promise.all(pks.flatMap((pk) => chunks.map(async (chunk) => {
      const names = chunk.map((_, i) => '@k' + i)
      const docs = await this.#requests.queryPartition<{ id: string, exp: number }>(c, pk,
        `SELECT c.id, c.exp FROM c WHERE c.pk = @pk AND c.kind = 'd' AND c.id IN (${names.join(', ')})`,
        chunk.map((id, i) => ({ name: names[i] as string, value: id })))
      for (const d of docs) if (d.exp > now) live.add(d.id)
    })))
    return ids.map((id) => live.has(id))
  }

  /**
   * The expired part of the range (it only grows with the clock) and the change counters of the
   * hours the rest of it spans. Every apply counts up the counter of each hour it wrote windows in,
   * after writing them; counters only grow, and a window leaves the range only when the expired
   * part moves over it, so the token never comes back. A few point reads, not a query over the rows.
   */
  async changeToken (from: number, to: number): Promise<string> {
    const c = await this.#container()
    const cut = this.#retainedFrom()
    const lower = Math.max(from, cut)
    const expiredUpTo = Math.min(to, lower)
    if (lower >= to) return `${expiredUpTo}:`
    const first = Math.floor(lower / H) * H
    const last = Math.floor((to - 1) / H) * H
    const stamps = new Map<string, number>()
    if ((last - first) / H + 1 <= MAX_PK_FANOUT) {
      // one point read (1 RU) per hour of the range
      const hours: number[] = []
      for (let h = first; h <= last; h += H) hours.push(h)
      await Promise.all(hours.map(async (h) => {
        const res = await this.#requests.request(() => c.item(STAMP, windowPk(h)).read<{ n: number }>())
        stamps.set(windowPk(h), res.resource?.n ?? 0)
      }))
    } else {
      const docs = await this.#requests.queryAll<{ pk: string, n: number }>(c,
        'SELECT c.pk, c.n FROM c WHERE c.kind = \'s\' AND c.id = @id', [{ name: '@id', value: STAMP }])
      for (const d of docs) if (d.pk >= windowPk(first) && d.pk <= windowPk(last)) stamps.set(d.pk, d.n)
    }
    const digest = createHash('sha256')
    for (const [pk, n] of [...stamps].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (n > 0) digest.update(pk + '=' + n + ';')
    return `${expiredUpTo}:${digest.digest('base64url').slice(0, 22)}`
  }

  async coverage (): Promise<Coverage> {
    const c = await this.#container()
    const cut = this.#retainedFrom()
    const range = [{ name: '@cut', value: cut }]
    const [oldest, newest, positions, meta] = await Promise.all([
      this.#requests.queryAll<number>(c, 'SELECT VALUE MIN(c.window_start) FROM c WHERE c.kind = \'w\' AND c.window_start >= @cut', range),
      this.#requests.queryAll<number>(c, 'SELECT VALUE MAX(c.window_start) FROM c WHERE c.kind = \'w\' AND c.window_start >= @cut', range),
      this.#requests.queryPartition<{ watermark: number | null, maxEventTime: number | null }>(c, POS_PK,
        'SELECT c.watermark, c.maxEventTime FROM c WHERE c.pk = @pk AND c.kind = \'p\'', []),
      this.#requests.request(() => c.item(META, META).read<{ coveredFrom: number | null }>())
    ])
    let watermark: number | null = null
    let maxEventTime: number | null = null
    for (const p of positions) {
      watermark = maxOf(watermark, p.watermark)
      maxEventTime = maxOf(maxEventTime, p.maxEventTime)
    }
    const coveredFrom = meta.resource?.coveredFrom ?? null
    return {
      oldest: typeof oldest[0] === 'number' ? oldest[0] : null,
      newest: typeof newest[0] === 'number' ? newest[0] : null,
      watermark,
      maxEventTime,
      coveredFrom: coveredFrom === null ? null : Math.max(coveredFrom, cut)
    }
  }

  /** window_start of the oldest window still retained: a window is kept while its end is after now − retention */
  #retainedFrom (): number {
    return Math.floor((this.#now() - this.#retentionMs) / MINUTE_MS) * MINUTE_MS
  }

  /** live windows with window_start in [from, to), filtered: one query per hour bucket of the range */
  async #windowsIn<T> (from: number, to: number, filters: Filters, fields: string): Promise<T[]> {
    const c = await this.#container()
    const lower = Math.max(from, this.#retainedFrom())
    if (lower >= to) return []
    const parameters: SqlParameter[] = [{ name: '@from', value: lower }, { name: '@to', value: to }]
    let where = 'c.kind = \'w\' AND c.window_start >= @from AND c.window_start < @to'
    const list = (field: string, values: string[] | undefined, prefix: string): void => {
      if (values === undefined || values.length === 0) return
      const names = values.map((v, i) => { parameters.push({ name: `@${prefix}${i}`, value: v }); return `@${prefix}${i}` })
      where += ` AND c.${field} IN (${names.join(', ')})`
    }
    list('event_type', filters.event_type, 't')
    list('region', filters.region, 'r')
    const first = Math.floor(lower / H) * H
    const last = Math.floor((to - 1) / H) * H
    if ((last - first) / H + 1 > MAX_PK_FANOUT || !Number.isFinite(last)) {
      return await this.#requests.queryAll<T>(c, `SELECT ${fields} FROM c WHERE ${where}`, parameters)
    }
    const parts: Promise<T[]>[] = []
    for (let h = first; h <= last; h += H) {
      parts.push(this.#requests.queryPartition<T>(c, windowPk(h), `SELECT ${fields} FROM c WHERE c.pk = @pk AND ${where}`, parameters))
    }
    return (await Promise.all(parts)).flat()
  }
}
