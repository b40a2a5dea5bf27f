// @ts-check
// The traffic shapes of Hourglass's users, defined once: the k6 scripts beside this file import them (run them with
// k6 against a deployment) and `npm run load` (load-tests/run.ts, autocannon) runs the same definitions here. Plain
// JavaScript without imports, so that both k6 and Node load it as it is.

/**
 * @typedef {{ name: string, weight: number, method: 'GET' | 'POST', path: (now: number) => string, body?: (now: number) => string }} RequestDef
 * @typedef {{ duration: string, target: number }} Stage
 * @typedef {{
 *   description: string,
 *   kind: 'rate',
 *   requests: RequestDef[],
 *   stages: Stage[],
 *   vus: number,
 *   thresholds: Record<string, string[]>
 * }} RateScenario
 * @typedef {{
 *   description: string,
 *   kind: 'paging',
 *   first: (now: number) => string,
 *   vus: number,
 *   iterations: number,
 *   pageSize: number,
 *   thresholds: Record<string, string[]>
 * }} PagingScenario
 * @typedef {RateScenario | PagingScenario} Scenario
 */

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** @param {number} t */
function iso (t) {
  return new Date(t).toISOString()
}

/** an Edm.DateTimeOffset literal, whole seconds @param {number} t */
function odataInstant (t) {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** the start of the hour `hours` before now (a dashboard's range starts on a bucket) @param {number} now @param {number} hours */
function hoursAgo (now, hours) {
  return Math.floor((now - hours * HOUR) / HOUR) * HOUR
}

/** @type {RequestDef[]} */
const DASHBOARD_REQUESTS = [
  { name: 'rest 24h by event type', weight: 4, method: 'GET', path: (now) => `/v1/metrics?from=${iso(hoursAgo(now, 24))}&granularity=hour&group_by=event_type` },
  { name: 'rest 7d hourly', weight: 1, method: 'GET', path: (now) => `/v1/metrics?from=${iso(hoursAgo(now, 7 * 24))}&granularity=hour` },
  { name: 'rest 7d daily by region', weight: 1, method: 'GET', path: (now) => `/v1/metrics?from=${iso(Math.floor((now - 7 * DAY) / DAY) * DAY)}&granularity=day&group_by=region` },
  { name: 'live 15m by region', weight: 4, method: 'GET', path: () => '/v1/metrics/live?last=15m&group_by=region' }
]

/** @param {number} now */
function graphqlBody (now) {
  const query = `{ metrics(from: "${iso(hoursAgo(now, 24))}", granularity: hour, groupBy: [event_type]) { rows { window_start event_type total_events p95_response total_revenue } meta { complete boundary } }
  live(last: "15m") { rows { window_start total_events p95_response } } }`
  return JSON.stringify({ query })
}

/** @type {Record<string, Scenario>} */
export const SCENARIOS = {
  dashboard: {
    description: 'dashboards refreshing: REST 24 h and 7 d, live 15 min (constant arrival rate)',
    kind: 'rate',
    requests: DASHBOARD_REQUESTS,
    stages: [{ duration: '60s', target: 40 }],
    vus: 20,
    thresholds: {
      'http_req_duration{scenario:dashboard}': ['p(95)<100', 'p(99)<250'],
      'http_req_failed{scenario:dashboard}': ['rate<0.001']
    }
  },
  graphql: {
    description: 'GraphQL dashboards: one document with a 24 h merged query and the live 15 min',
    kind: 'rate',
    requests: [{ name: 'graphql 24h + live', weight: 1, method: 'POST', path: () => '/graphql', body: graphqlBody }],
    stages: [{ duration: '60s', target: 20 }],
    vus: 10,
    thresholds: {
      'http_req_duration{scenario:graphql}': ['p(95)<150', 'p(99)<300'],
      'http_req_failed{scenario:graphql}': ['rate<0.001']
    }
  },
  odata: {
    description: 'a Power BI refresh: HourlyMetrics of 7 days, page by page through @odata.nextLink',
    kind: 'paging',
    first: (now) => `/odata/HourlyMetrics?$filter=window_start ge ${odataInstant(hoursAgo(now, 7 * 24))}`,
    vus: 2,
    iterations: 3,
    pageSize: 1000,
    thresholds: {
      'http_req_duration{scenario:odata}': ['p(95)<500'],
      'http_req_failed{scenario:odata}': ['rate<0.001'],
      'iteration_duration{scenario:odata}': ['p(95)<10000']
    }
  },
  spike: {
    description: 'a spike: the dashboard mix from 10 to 200 requests/s and back (overload may answer 429/503, never hang)',
    kind: 'rate',
    requests: DASHBOARD_REQUESTS,
    stages: [{ duration: '20s', target: 10 }, { duration: '20s', target: 200 }, { duration: '20s', target: 10 }],
    vus: 100,
    thresholds: {
      'http_req_duration{scenario:spike}': ['p(99)<1000'],
      'http_req_failed{scenario:spike}': ['rate<0.01']
    }
  }
}

/**
 * The request of a weighted mix that `u` (uniform in [0, 1)) falls on.
 * @param {RequestDef[]} requests
 * @param {number} u
 * @returns {RequestDef}
 */
export function pick (requests, u) {
  const total = requests.reduce((n, r) => n + r.weight, 0)
  let x = u * total
  for (const r of requests) {
    x -= r.weight
    if (x < 0) return r
  }
  return /** @type {RequestDef} */ (requests[requests.length - 1])
}

/** seconds of a k6 duration such as "30s", "2m", "1m30s" @param {string} d */
export function durationSeconds (d) {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d)
  if (m === null || d === '') throw new Error(`not a duration: ${d}`)
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
}

/**
 * The headers of every request: the key (when given) as a Bearer token, JSON for POST bodies.
 * @param {string | undefined} apiKey
 * @param {'GET' | 'POST'} method
 * @returns {Record<string, string>}
 */
export function headersFor (apiKey, method) {
  /** @type {Record<string, string>} */
  const h = { accept: 'application/json' }
  if (apiKey !== undefined && apiKey !== '') h.authorization = `Bearer ${apiKey}`
  if (method === 'POST') h['content-type'] = 'application/json'
  return h
}
