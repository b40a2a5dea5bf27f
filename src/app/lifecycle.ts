// The app's parts, closed in reverse order of opening: a part is closed before what it uses. Each
// close may take closeTimeoutMs; one that fails or overruns is logged and the next part closes
// all the same. A close slower than a tenth of that is logged too, so a slow shutdown names its part.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'

export interface Part {
  readonly name: string
  close (): Promise<void> | void
}

/**
 * Parts that use nothing of one another, closed side by side as one part (e.g. two Kafka consumers, each leaving its
 * group: on a loaded broker each can take seconds).
 */
export function closedTogether (parts: readonly Part[]): Part {
  if (parts.length === 1) return parts[0] as Part
  return {
    name: parts.map((p) => p.name).join(' and '),
    close: async () => {
      const failed = (await Promise.allSettled(parts.map(async (p) => await p.close()))).find((r) => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    }
  }
}

export class Lifecycle {
  readonly #parts: Part[] = []
  readonly #log: Logger
  readonly #closeTimeoutMs: number
  #closing: Promise<void> | null = null

  constructor (options: { log: Logger, closeTimeoutMs: number }) {
    this.#log = options.log
    this.#closeTimeoutMs = options.closeTimeoutMs
  }

  /** Register a part that is open; returns it. */
  add<P extends Part> (part: P): P {
    this.#parts.push(part)
    return part
  }

  /** Close every part, the last opened first; a second call waits for the first. */
  close (): Promise<void> {
    this.#closing ??= this.#closeAll()
    return this.#closing
  }

  async #closeAll (): Promise<void> {
    for (const part of [...this.#parts].reverse()) await this.#closeOne(part)
  }

  async #closeOne (part: Part): Promise<void> {
    const overrun = new AbortController()
    const started = Date.now()
    try {
      const closed = Promise.resolve().then(() => part.close()).then(() => true)
      const timedOut = sleep(this.#closeTimeoutMs, false, { signal: overrun.signal })
      if (!await Promise.race([closed, timedOut])) {
        this.#log.error({ part: part.name, timeoutMs: this.#closeTimeoutMs }, `${part.name} did not close in time; closing the next part`)
        closed.catch((err: unknown) => this.#log.error({ err, part: part.name }, `${part.name} failed to close`))
        return
      }
      const ms = Date.now() - started
      if (ms > this.#closeTimeoutMs / 10) this.#log.warn({ part: part.name, ms }, `${part.name} took ${ms} ms to close`)
      else this.#log.debug({ part: part.name, ms }, `${part.name} closed`)
    } catch (err) {
      this.#log.error({ err, part: part.name }, `${part.name} failed to close`)
    } finally {
      overrun.abort()
    }
  }
}
