// The part of autocannon 8's programmatic API that bench/query.ts uses (the package ships no types).
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
  export default function autocannon (opts: Options): Promise<Result>
}
