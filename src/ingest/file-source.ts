// Replays a JSON Lines file as a record source (`--source file:PATH`): streamed line by line, in
// batches, topic `file:<absolute path>`, partition 0, offset = 0-based line number. Blank lines
// are skipped but still counted, so an offset always names the line it came from.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { BatchHandler, RawRecord, RecordSource } from './source.js'

export interface FileSourceOptions {
  /** lines per batch */
  batchSize?: number // one thousand
  /** the first line to emit (0-based): resume after what a store already holds */
  startOffset?: number // 0
}

export class FileSource implements RecordSource {
  readonly path: string
  readonly topic: string
  readonly done: Promise<void>
  readonly #batchSize: number
  readonly #startOffset: number
  #stopped = false
  #started = false
  #reading: Promise<void> | null = null
  #close: (() => void) | null = null
  #resolve!: () => void
  #reject!: (err: unknown) => void

  constructor (path: string, options: FileSourceOptions = {}) {
    this.path = resolve(path)
    this.topic = 'file:' + this.path
    this.#batchSize = options.batchSize ?? 1000
    this.#startOffset = options.startOffset ?? 0
    this.done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.done.catch(() => undefined) // a failure is reported to whoever awaits done, never as unhandled
  }

  async start (handler: BatchHandler): Promise<void> {
    if (this.#started) throw new Error(`file source ${this.path}: already started`)
    this.#started = true
    let info
    try {
      info = await stat(this.path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const message = code === 'ENOENT' ? `file source: ${this.path} does not exist` : `file source: cannot read ${this.path} (${code ?? String(err)})`
      throw new Error(message, { cause: err })
    }
    if (!info.isFile()) throw new Error(`file source: ${this.path} is not a file`)
    const stream = createReadStream(this.path, { encoding: 'utf8' })
    const lines = createInterface({ input: stream, crlfDelay: Infinity })
    this.#close = () => { lines.close(); stream.destroy() }
    this.#reading = this.#read(lines, handler).then(
      () => { this.#close?.(); this.#resolve() },
      (err: unknown) => { this.#close?.(); this.#reject(err) }
    )
  }

  async stop (): Promise<void> {
    this.#stopped = true
    this.#close?.()
    if (this.#reading !== null) await this.#reading
    this.#resolve()
  }

  async #read (lines: AsyncIterable<string>, handler: BatchHandler): Promise<void> {
    let offset = 0
    let records: RawRecord[] = []
    for await (const line of lines) {
      if (this.#stopped) return
      const at = offset++
      if (at < this.#startOffset || line.trim() === '') continue
      records.push({ value: line, offset: String(at) })
      if (records.length >= this.#batchSize) {
        await handler({ topic: this.topic, partition: 0, records })
        records = []
      }
    }
    if (records.length > 0 && !this.#stopped) await handler({ topic: this.topic, partition: 0, records })
  }
}
