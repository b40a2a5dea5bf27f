// Long pure computations written as generators that yield every few hundred units of work: an async
// caller runs them in slices and gives the event loop a turn between slices (a request answering
// megabytes must not hold every other request up), a sync caller runs them straight through. The
// generators stay pure; only runSliced schedules.

/** a computation that yields between units of work and returns T */
export type Steps<T> = Generator<void, T, void>

/** units of work (rows, groups) between two yields */
export const STEP = 256

/** how long a slice may hold the event loop before runSliced gives it a turn (ms) */
export const SLICE_MS = 10

/** Run steps to the end without pausing. */
export function runSteps<T> (steps: Steps<T>): T {
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
  }
}

/** Run steps, giving the event loop a turn (setImmediate) each time `sliceMs` of work has passed since the last. */
export async function runSliced<T> (steps: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  let since = performance.now()
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
    if (performance.now() - since >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      since = performance.now()
    }
  }
}
