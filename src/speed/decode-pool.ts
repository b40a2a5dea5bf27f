// The decode step of the speed pipeline: a record over the size limit is not parsed (`too_large`); the
// others are parsed and validated in this thread (InThreadDecoder) or in a pool of worker threads
// (DecodePool, piscina). A thread that dies while decoding (out of its heap limit, or killed) is replaced by
// the pool; its task is tried once more, then split in halves down to the record that kills a thread alone,
// which is invalid (`decode_failed`). Every record gets exactly one validation, in order.
import { Piscina } from 'piscina'
import type { Worker } from 'node:worker_threads'
import type { Validation } from '../model/index.js'
import {
  byteLength, type DecodedColumns, decodeFailed, decodeRecord, packRecords, type RawValue, tooLarge, unpackColumns
} from './decode-columns.js'
import { decodingFor, type ValueDecoding, type ValueFormats } from './decode-avro.js'
import type { DecodeTask } from './decode-worker.js'

export interface Decoder {
  /** one validation per value of a batch of `topic` (its value format: ValueFormats), in order */
  decode (values: readonly RawValue[], now: number, topic?: string): Promise<Validation[]>
  close (): Promise<void>
}

export class InThreadDecoder implements Decoder {
  readonly #maxBytes: number
  readonly #formats: ValueFormats

  constructor (maxRecordBytes: number, formats: ValueFormats = {}) {
    this.#maxBytes = maxRecordBytes
    this.#formats = formats
  }

  async decode (values: readonly RawValue[], now: number, topic?: string): Promise<Validation[]> {
    const decoding = await decodingFor(values, topic, this.#formats)
    return values.map((v) => decodeRecord(v, now, this.#maxBytes, decoding))
  }

  close (): Promise<void> {
    return Promise.resolve()
  }
}

export interface DecodePoolOptions extends ValueFormats {
  threads: number
  maxRecordBytes: number
  /** each thread's heap limit (MB): a record whose decoding needs more kills that thread only */
  heapMb?: number
  /** the worker module (a test may substitute its own) */
  filename?: string | URL
  log?: { warn: (obj: object, msg: string) => void }
}

/** A batch is split among the threads in chunks of at least this many records. */
const MIN_CHUNK = 500

// this module's own extension: .ts when run from source (tsx), .js once built
const WORKER = new URL(`./decode-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

export class DecodePool implements Decoder {
  #pool: Piscina<DecodeTask, DecodedColumns>
  readonly #options: DecodePoolOptions
  readonly #maxBytes: number
  readonly #threads: number
  readonly #log: DecodePoolOptions['log']
  /** tasks a dying thread took with it */
  #failedTasks = 0
  #closed = false

  constructor (options: DecodePoolOptions) {
    this.#maxBytes = options.maxRecordBytes
    this.#threads = options.threads
    this.#log = options.log
    this.#options = options
    this.#pool = this.#newPool()
  }

  #newPool (): Piscina<DecodeTask, DecodedColumns> {
    const o = this.#options
    const filename = o.filename ?? WORKER
    const pool = new Piscina<DecodeTask, DecodedColumns>({
      filename: filename instanceof URL ? filename.href : filename,
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: Infinity,
      recordTiming: false,
      ...(o.heapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: o.heapMb } })
    })
    // an uncaught error in an idle thread: the pool replaces it
    pool.on('error', (err: unknown) => this.#log?.warn({ err }, 'decode pool: a thread failed while idle'))
    // piscina replaces a thread that dies at once, except one that dies while starting: then it stops replacing
    // threads, and tasks queued would wait for ever
    pool.on('workerDestroy', () => setImmediate(() => { if (pool === this.#pool) this.#live() }))
    return pool
  }

  /** The pool, a new one when threads are missing. */
  #live (): Piscina<DecodeTask, DecodedColumns> {
    if (!this.#closed && this.#pool.threads.length < this.#threads) {
      this.#log?.warn({ threads: this.#pool.threads.length }, 'decode pool: threads missing; starting a new pool')
      // its queued tasks fail, and are tried again on the new one
      this.#pool.destroy().catch(() => undefined)
      this.#pool = this.#newPool()
    }
    return this.#pool
  }

  /** the pool's threads (a test kills one through this) */
  get threads (): readonly Worker[] {
    return this.#pool.threads
  }

  /** how many decode tasks failed (their thread died or threw); each was tried again */
  get failedTasks (): number {
    return this.#failedTasks
  }

  async decode (values: readonly RawValue[], now: number, topic?: string): Promise<Validation[]> {
    const decoding = await decodingFor(values, topic, this.#options)
    const out = new Array<Validation>(values.length)
    const todo: number[] = []
    values.forEach((v, i) => {
      const n = byteLength(v)
      if (n > this.#maxBytes) out[i] = tooLarge(n, this.#maxBytes)
      else todo.push(i)
    })
    const chunks = Math.max(1, Math.min(this.#threads, Math.floor(todo.length / MIN_CHUNK)))
    const size = Math.ceil(todo.length / chunks)
    const runs: Promise<void>[] = []
    for (let at = 0; at < todo.length; at += size) runs.push(this.#decodeSome(values, todo.slice(at, at + size), now, decoding, out, 1))
    await Promise.all(runs)
    return out
  }

  close (): Promise<void> {
    this.#closed = true
    return this.#pool.destroy()
  }

  /** Decode values[i] for each i of `which` into out[i]; a failed task is tried `tries` times more, then split. */
  async #decodeSome (values: readonly RawValue[], which: number[], now: number, d: ValueDecoding, out: Validation[], tries: number): Promise<void> {
    if (which.length === 0) return
    let got: Validation[]
    try {
      got = await this.#run(which.map((i) => values[i] as RawValue), now, d)
    } catch (err) {
      this.#failedTasks++
      this.#log?.warn({ err, records: which.length }, 'decode pool: a task failed (its thread is replaced); trying again')
      if (tries > 0) return await this.#decodeSome(values, which, now, d, out, tries - 1)
      // a pool that cannot decode even nothing is broken: the batch fails rather than its records
      await this.#run([], now, d).catch((broken: unknown) => { throw new Error('decode pool: the threads do not work', { cause: broken }) })
      if (which.length === 1) {
        out[which[0] as number] = decodeFailed(err instanceof Error ? err.message : String(err))
        return
      }
      const half = which.length >> 1
      // a lone record is tried once more before it is declared failed: the thread may have died for another reason
      await this.#decodeSome(values, which.slice(0, half), now, d, out, half === 1 ? 1 : 0)
      await this.#decodeSome(values, which.slice(half), now, d, out, which.length - half === 1 ? 1 : 0)
      return
    }
    which.forEach((i, k) => { out[i] = got[k] as Validation })
  }

  async #run (values: readonly RawValue[], now: number, decoding: ValueDecoding): Promise<Validation[]> {
    const packed = packRecords(values)
    const task: DecodeTask = { ...packed, now, ...(decoding.format === 'json' ? {} : { decoding }) }
    const columns = await this.#live().run(task, { transferList: [packed.bytes.buffer as ArrayBuffer, packed.ends.buffer as ArrayBuffer] })
    return unpackColumns(columns)
  }
}
