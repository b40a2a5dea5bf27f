// @ts-check
// k6 run load-tests/dashboard.js  (BASE_URL, API_KEY from the environment): dashboards refreshing: REST 24 h and 7 d, live 15 min (constant arrival rate)
import { SCENARIOS } from './scenarios.js'
import { optionsFor, rateIteration } from './k6-common.js'

const s = /** @type {import('./scenarios.js').RateScenario} */ (SCENARIOS.dashboard)
export const options = optionsFor('dashboard', s)

export default function () {
  rateIteration(s)
}
