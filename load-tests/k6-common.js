// @ts-check
// What every k6 script here shares: the target and key from the environment (BASE_URL, API_KEY), the k6 scenario
// made from a definition of scenarios.js, and one iteration of a rate scenario or of a paging one.
import http from 'k6/http'
import { check } from 'k6'
import { durationSeconds, headersFor, pick } from './scenarios.js'

export const BASE_URL = (__ENV.BASE_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '')
export const API_KEY = __ENV.API_KEY

/**
 * k6 options for one scenario of scenarios.js: a constant arrival rate for one stage, a ramping one for several;
 * a paging scenario runs its iterations on its VUs.
 * @param {string} name
 * @param {import('./scenarios.js').Scenario} s
 * @returns {import('k6/options').Options}
 */
export function optionsFor (name, s) {
  if (s.kind === 'paging') {
    return {
      scenarios: { [name]: { executor: 'shared-iterations', vus: s.vus, iterations: s.iterations, maxDuration: '10m' } },
      thresholds: s.thresholds
    }
  }
  const first = /** @type {import('./scenarios.js').Stage} */ (s.stages[0])
  /** @type {import('k6/options').Scenario} */
  const scenario = s.stages.length === 1
    ? { executor: 'constant-arrival-rate', rate: first.target, timeUnit: '1s', duration: first.duration, preAllocatedVUs: s.vus }
    : { executor: 'ramping-arrival-rate', startRate: first.target, timeUnit: '1s', preAllocatedVUs: s.vus, stages: s.stages }
  const seconds = s.stages.reduce((n, st) => n + durationSeconds(st.duration), 0)
  if (seconds <= 0) throw new Error(`${name}: no duration`)
  return { scenarios: { [name]: scenario }, thresholds: s.thresholds }
}

/** One request of a rate scenario's weighted mix. @param {import('./scenarios.js').RateScenario} s */
export function rateIteration (s) {
  const now = Date.now()
  const r = pick(s.requests, Math.random())
  const res = http.request(r.method, BASE_URL + r.path(now), r.body === undefined ? null : r.body(now), {
    headers: headersFor(API_KEY, r.method),
    tags: { name: r.name }
  })
  check(res, { 'status 200': (x) => x.status === 200 })
}

/** One refresh of a paging scenario: the first page, then every @odata.nextLink. @param {import('./scenarios.js').PagingScenario} s */
export function pagingIteration (s) {
  const headers = { ...headersFor(API_KEY, 'GET'), prefer: `odata.maxpagesize=${s.pageSize}` }
  /** @type {string | undefined} */
  let url = BASE_URL + s.first(Date.now())
  let pages = 0
  while (url !== undefined && pages < 1000) {
    /** @type {import('k6/http').RefinedResponse<'text'>} */
    const res = http.get(url, { headers, tags: { name: 'odata page' } })
    pages++
    if (!check(res, { 'status 200': (x) => x.status === 200 })) return
    const body = /** @type {Record<string, unknown> | null} */ (res.json())
    const next = body?.['@odata.nextLink']
    url = typeof next === 'string' ? next : undefined
  }
}
