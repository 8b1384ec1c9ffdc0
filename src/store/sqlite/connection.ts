import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'

export type Row = Record<string, SQLInputValue>

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
    this.#statements.clear()
    this.#arrayStatements.clear()
    this.db.close()
  }
}
