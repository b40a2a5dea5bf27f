// @ts-check
// k6 run load-tests/spike.js  (BASE_URL, API_KEY from the environment): a spike: the dashboard mix from 10 to 200 requests/s and back (overload may answer 429/503, never hang)
import { SCENARIOS } from './scenarios.js'
import { optionsFor, rateIteration } from './k6-common.js'

const s = /** @type {import('./scenarios.js').RateScenario} */ (SCENARIOS.spike)
export const options = optionsFor('spike', s)

export default function () {
  rateIteration(s)
}
