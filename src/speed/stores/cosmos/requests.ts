// Requests to Cosmos DB: each one counted with its request charge, retried while throttled (429/449, after retry-after).
import { type Container, type SqlParameter } from '@azure/cosmos'

export interface CosmosStoreStats {
  requests: number
  /** sum of x-ms-request-charge (the test server reports 1 per request) */
  requestCharge: number
  /** writes refused for a stale ETag (412) or a lost create race (409), then retried */
  conflicts: number
  /** requests throttled (429) past the SDK's own retries, then retried after retry-after */
  throttled: number
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** jittered exponential backoff for contended writes: 1–2 ms, doubling, at most ~100 ms */
export const backoff = (attempt: number): number => Math.min(100, 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2)

export function statusOf (err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

/** how long a throttled request asks to wait: the error's retryAfterInMs, or its x-ms-retry-after-ms header */
function retryAfterOf (err: unknown): number | undefined {
  const e = err as { retryAfterInMs?: unknown, headers?: Record<string, unknown> } | null
  if (typeof e?.retryAfterInMs === 'number') return e.retryAfterInMs
  const header = Number(e?.headers?.['x-ms-retry-after-ms'])
  return Number.isFinite(header) && header >= 0 ? header : undefined
}

/**
 * Run a request, retrying it while the service throttles it (429, or 449 "retry with"), waiting
 * what retry-after says (else a backoff). The SDK already retries 429 a few times; this covers what
 * escapes it. Other errors pass through.
 */
export async function retryThrottled<T> (fn: () => Promise<T>, maxAttempts: number, onThrottled?: (waitMs: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const status = statusOf(err)
      if ((status !== 429 && status !== 449) || attempt >= maxAttempts) throw err
      const wait = retryAfterOf(err) ?? backoff(attempt)
      onThrottled?.(wait)
      await sleep(wait)
    }
  }
}

/** run `fn` over `items` with at most `limit` in flight; the first failure rejects (after the rest settle) */
export async function eachLimit<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | null = null
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === null) {
      const item = items[next++] as T
      try { await fn(item) } catch (err) { failure ??= { err } }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== null) throw (failure as { err: unknown }).err
}

/** The requests of one store, and their counts (`stats`, updated in place). */
export class CosmosRequests {
  readonly stats: CosmosStoreStats = { requests: 0, requestCharge: 0, conflicts: 0, throttled: 0 }
  readonly #maxAttempts: number

  constructor (maxAttempts: number) {
    this.#maxAttempts = maxAttempts
  }

  /** One request, counted, its charge added, retried while throttled. */
  async request<T> (fn: () => Promise<T>): Promise<T> {
    return await retryThrottled(async () => {
      this.stats.requests++
      const res = await fn()
      const charge = (res as { requestCharge?: unknown }).requestCharge
      if (typeof charge === 'number') this.stats.requestCharge += charge
      return res
    }, this.#maxAttempts, () => { this.stats.throttled++ })
  }

  async queryPartition<T> (c: Container, pk: string, query: string, parameters: SqlParameter[]): Promise<T[]> {
    // the condition on c.pk too: the test server ignores the partition key of a query
    const res = await this.request(() => c.items.query<T>({ query, parameters: [{ name: '@pk', value: pk }, ...parameters] }, { partitionKey: pk }).fetchAll())
    return res.resources
  }

  async queryAll<T> (c: Container, query: string, parameters: SqlParameter[]): Promise<T[]> {
    const res = await this.request(() => c.items.query<T>({ query, parameters }).fetchAll())
    return res.resources
  }
}
