// One in-memory DuckDB instance per process, and connections that run SQL with bound parameters.
//
// Values never get pasted into SQL text. That includes file paths: `COPY … TO $path` and
// `read_parquet($files::VARCHAR[])` accept bound parameters in @duckdb/node-api 1.5 (checked),
// so even our own data-dir paths are bound, and no quoting helper exists to misuse.
// The only text we build into SQL are identifiers and numeric constants from our own code
// (see sql.ts).
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api'

export type SqlParams = DuckDBValue[] | Record<string, DuckDBValue>
export type Row = Record<string, unknown>

export interface DbOptions {
  /** worker threads for DuckDB (default: DuckDB's own choice, one per core) */
  threads?: number
  /** e.g. '2GB' (default: DuckDB's own, 80% of RAM) */
  memoryLimit?: string
}

/**
 * A connection whose statements run one at a time (a promise chain), so an appender and the
 * COPY that follows it, or a temp table and the query reading it, never interleave with another
 * caller's statements on the same connection.
 */
export class Conn {
  readonly raw: DuckDBConnection
  #tail: Promise<unknown> = Promise.resolve()

  constructor (raw: DuckDBConnection) {
    this.raw = raw
  }

  /** Run `fn` with the connection to itself; later calls wait until it settles. */
  exclusive<T> (fn: (raw: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.#tail.then(() => fn(this.raw))
    this.#tail = next.catch(() => undefined)
    return next
  }

  /** Resolves when every statement queued so far has settled. */
  idle (): Promise<void> {
    return this.#tail.then(() => undefined)
  }

  run (sql: string, params?: SqlParams): Promise<void> {
    return this.exclusive(async (raw) => { await raw.run(sql, params) })
  }

  /** Rows as plain objects (column name → JS value: BIGINT as bigint, TIMESTAMPTZ as Date, lists as arrays). */
  rows (sql: string, params?: SqlParams): Promise<Row[]> {
    return this.exclusive(async (raw) => (await raw.runAndReadAll(sql, params)).getRowObjectsJS() as Row[])
  }

  close (): void {
    this.raw.closeSync()
  }
}

/** The process's DuckDB: in memory, every connection in UTC. */
export class Db {
  readonly instance: DuckDBInstance
  readonly #conns = new Set<Conn>()
  #closed = false

  private constructor (instance: DuckDBInstance) {
    this.instance = instance
  }

  static async open (options: DbOptions = {}): Promise<Db> {
    const settings: Record<string, string> = {}
    if (options.threads !== undefined) settings.threads = String(options.threads)
    if (options.memoryLimit !== undefined) settings.memory_limit = options.memoryLimit
    return new Db(await DuckDBInstance.create(':memory:', settings))
  }

  /**
   * A new connection with TimeZone UTC (date_trunc on TIMESTAMPTZ follows the session zone, so
   * hours and dates are UTC whatever the machine's zone is).
   */
  async connect (): Promise<Conn> {
    if (this.#closed) throw new Error('DuckDB is closed')
    const conn = new Conn(await this.instance.connect())
    await conn.run("SET TimeZone = 'UTC'")
    this.#conns.add(conn)
    return conn
  }

  /** Forget a connection and close it. */
  release (conn: Conn): void {
    if (this.#conns.delete(conn)) conn.close()
  }

  get closed (): boolean {
    return this.#closed
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const c of this.#conns) c.close()
    this.#conns.clear()
    this.instance.closeSync()
  }
}

let shared: Promise<Db> | undefined

/** The one DuckDB instance of this process (opened on first use). */
export function sharedDb (options: DbOptions = {}): Promise<Db> {
  shared ??= Db.open(options)
  return shared
}

/** Number from a DuckDB JS value (BIGINT arrives as bigint, DOUBLE as number, NULL as null). */
export function num (v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (v === null || v === undefined) return 0
  throw new TypeError(`expected a number from DuckDB, got ${typeof v}`)
}
