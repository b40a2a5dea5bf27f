// @ts-check
// k6 run load-tests/odata-refresh.js  (BASE_URL, API_KEY from the environment): a Power BI refresh: HourlyMetrics of 7 days, page by page through @odata.nextLink
import { SCENARIOS } from './scenarios.js'
import { optionsFor, pagingIteration } from './k6-common.js'

const s = /** @type {import('./scenarios.js').PagingScenario} */ (SCENARIOS.odata)
export const options = optionsFor('odata', s)

export default function () {
  pagingIteration(s)
}
