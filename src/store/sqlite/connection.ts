import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'

export type Row = Record<string, SQLInputValue>

/**
 * How long a batch of writes may wait for the others on their way before it commits. A few
 * milliseconds of latency buy one fsync for many deliveries; an idle server commits at once.
 */
const BATCH_HOLD_MS = 4

/**
 * One SQLite connection with a statement cache and synchronous transactions. A transaction's
 * function must not await: the connection is shared by every caller in the process, so any
 * await inside BEGIN…COMMIT would let another caller's statements run inside it.
 */
export class Connection {
  readonly db: DatabaseSync
  readonly #statements = new Map<string, StatementSync>()
  readonly #arrayStatements = new Map<string, StatementSync>()

  constructor(file: string) {
    this.db = new DatabaseSync(file, { timeout: 10_000 })
    // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL at every commit,
    // which is what makes an acknowledged delivery survive power loss (DESIGN.md invariant 1).
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA synchronous = FULL')
    this.db.exec('PRAGMA foreign_keys = ON')
    // 64 MiB of page cache (the default is 2 MiB): the rows of a 100,000-message mailbox stay
    // cached between one SELECT and the next.
    this.db.exec('PRAGMA cache_size = -65536')
  }

  statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  get<T = Row>(sql: string, ...params: SQLInputValue[]): T | undefined {
    return this.statement(sql).get(...params) as T | undefined
  }

  all<T = Row>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.statement(sql).all(...params) as T[]
  }

  /** Rows as arrays of column values, in the order of the SELECT: the fastest way to read many. */
  arrays(sql: string, ...params: SQLInputValue[]): SQLInputValue[][] {
    let statement = this.#arrayStatements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      statement.setReturnArrays(true)
      this.#arrayStatements.set(sql, statement)
    }
    return statement.all(...params) as unknown as SQLInputValue[][]
  }

  run(sql: string, ...params: SQLInputValue[]): { changes: number; lastId: number } {
    const result = this.statement(sql).run(...params)
    return { changes: Number(result.changes), lastId: Number(result.lastInsertRowid) }
  }

  /** Runs `work` in a write transaction (BEGIN IMMEDIATE: other writers wait for the lock). */
  write<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const result = work()
      this.db.exec('COMMIT')
      return result
    } catch (error) {
      this.db.exec('ROLLBACK')
      throw error
    }
  }

  /**
   * Runs `work` in a write transaction shared with the other batched writes of this turn of the
   * event loop: each in its own savepoint (a failing one is rolled back alone and rejects alone),
   * all made durable by one COMMIT. With synchronous=FULL a commit is an fsync that blocks the
   * process, so twenty sessions finishing DATA together pay for one instead of twenty. A write
   * resolves only after the COMMIT that holds it, so nothing is acknowledged before it is on disk.
   */
  writeBatched<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#batch.push({ work, resolve: resolve as (value: unknown) => void, reject })
      if (this.#batch.length === 1) {
        this.#batchStarted = performance.now()
        setImmediate(() => this.#commitWhenReady())
      }
    })
  }

  /**
   * Tells the batcher how many batched writes are on their way (their files still being
   * written). A batch waits for them, up to BATCH_HOLD_MS, so that concurrent deliveries share a
   * commit instead of each paying for its own.
   */
  expectBatchedWrite(delta: 1 | -1): void {
    this.#expectedWrites += delta
  }

  #expectedWrites = 0
  #batchStarted = 0

  readonly #tables = new Map<string, boolean>()

  /** Whether the schema has this table (asked once per connection; migrations only add). */
  hasTable(name: string): boolean {
    let found = this.#tables.get(name)
    if (found === undefined) {
      found =
        this.get("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", name) !==
        undefined
      // Only a present table is remembered: one missing now may come with a migration.
      if (found) this.#tables.set(name, true)
    }
    return found
  }

  readonly #columns = new Set<string>()

  /** Whether the table has this column (remembered once present, as hasTable). */
  hasColumn(table: string, column: string): boolean {
    const key = `${table}.${column}`
    if (this.#columns.has(key)) return true
    const found =
      this.get('SELECT 1 AS found FROM pragma_table_info(?) WHERE name = ?', table, column) !==
      undefined
    if (found) this.#columns.add(key)
    return found
  }

  /** Whether batched writes are waiting or on their way: background work should wait. */
  get hasBatchedWrites(): boolean {
    return this.#expectedWrites > 0 || this.#batch.length > 0
  }

  #commitWhenReady(): void {
    if (this.#batch.length === 0) return
    const waited = performance.now() - this.#batchStarted
    if (this.#expectedWrites > 0 && waited < BATCH_HOLD_MS) {
      setTimeout(() => this.#commitWhenReady(), 1)
      return
    }
    this.#commitBatch()
  }

  #batch: Array<{
    work: () => unknown
    resolve: (value: unknown) => void
    reject: (error: unknown) => void
  }> = []

  #commitBatch(): void {
    const batch = this.#batch
    this.#batch = []
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = []
    try {
      this.db.exec('BEGIN IMMEDIATE')
      for (const item of batch) {
        this.db.exec('SAVEPOINT batched')
        try {
          outcomes.push({ ok: true, value: item.work() })
          this.db.exec('RELEASE batched')
        } catch (error) {
          // A full disk or out-of-memory error makes SQLite roll back the whole transaction:
          // then everything done so far is gone too, and the whole batch fails below.
          if (!this.db.isTransaction) throw error
          this.db.exec('ROLLBACK TO batched')
          this.db.exec('RELEASE batched')
          outcomes.push({ ok: false, error })
        }
      }
      this.db.exec('COMMIT')
    } catch (error) {
      // A failed COMMIT may leave the transaction open (SQLITE_BUSY) or already rolled back.
      try {
        if (this.db.isTransaction) this.db.exec('ROLLBACK')
      } catch {
        // The connection is unusable; each caller still hears of the failure below.
      }
      for (const item of batch) item.reject(error)
      return
    }
    batch.forEach((item, index) => {
      const outcome = outcomes[index]
      if (outcome?.ok) item.resolve(outcome.value)
      else item.reject(outcome?.error)
    })
  }

  /** Runs `work` on one consistent snapshot. */
  read<T>(work: () => T): T {
    this.db.exec('BEGIN')
    try {
      return work()
    } finally {
      this.db.exec('COMMIT')
    }
  }

  /** Changes whenever another connection commits (PRAGMA data_version). */
  dataVersion(): number {
    return Number(this.get<{ data_version: number }>('PRAGMA data_version')?.data_version)
  }

  close(): void {
    // Writes already handed to a batch are committed, not dropped.
    if (this.#batch.length > 0) this.#commitBatch()
    this.#statements.clear()
    this.#arrayStatements.clear()
    this.db.close()
  }
}
