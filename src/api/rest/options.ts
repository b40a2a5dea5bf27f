import type { MetricsService } from '../../merger/types.js'

/** What every route plugin is given. */
export interface RouteOptions {
  service: MetricsService
  /** the clock (epoch ms); tests pass a fixed one */
  now: () => number
}
