// Waiting in tests: a plain pause, and polling until a condition holds.
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => delay(ms)

/**
 * Poll `check` every 50 ms until it holds; fail after `ms` naming `what` (a function is asked only
 * then, for a message that shows the state at the time). A `check` that throws fails at once.
 */
export async function until (what: string | (() => string), check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)
    await sleep(50)
  }
}
