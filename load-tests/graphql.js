// @ts-check
// k6 run load-tests/graphql.js  (BASE_URL, API_KEY from the environment): GraphQL dashboards: one document with a 24 h merged query and the live 15 min
import { SCENARIOS } from './scenarios.js'
import { optionsFor, rateIteration } from './k6-common.js'

const s = /** @type {import('./scenarios.js').RateScenario} */ (SCENARIOS.graphql)
export const options = optionsFor('graphql', s)

export default function () {
  rateIteration(s)
}
