// The part of autocannon 8's programmatic API that bench/query.ts and bench/load.ts use (the package ships no types).
declare module 'autocannon' {
  interface Histogram { average: number, mean: number, stddev: number, min: number, max: number, p50: number, p90: number, p99: number, p999?: number }
  export interface Options {
    url: string
    /** default GET */
    method?: 'GET' | 'POST'
    headers?: Record<string, string>
    /** the request body, sent with every request */
    body?: string
    connections?: number
    duration?: number
    /** worker threads that fire the requests (0: on the calling thread) */
    workers?: number
    warmup?: { connections?: number, duration?: number }
    timeout?: number
    /** requests each connection sends in turn (instead of method/body/headers of the url) */
    requests?: Array<{ method?: 'GET' | 'POST', path?: string, headers?: Record<string, string>, body?: string }>
    /** requests per second over all connections */
    overallRate?: number
  }
  export interface Result {
    requests: Histogram & { total: number, sent: number }
    latency: Histogram
    throughput: Histogram
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
    warmup?: Result
  }
  /** a run in progress (the callback form): one event per response (its status and time in ms) or failed request */
  export interface Instance {
    on (event: 'response', fn: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): Instance
    on (event: 'reqError', fn: (err: Error) => void): Instance
  }
  export default function autocannon (opts: Options): Promise<Result>
  export default function autocannon (opts: Options, done: (err: Error | null, result: Result) => void): Instance
}
