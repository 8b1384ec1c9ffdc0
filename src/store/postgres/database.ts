import { createHash } from 'node:crypto'
import pg from 'pg'

export type Client = pg.ClientBase
export type Row = Record<string, unknown>

/** PostgreSQL error codes after which the whole transaction is simply run again. */
const RETRYABLE = new Set(['40001', '40P01']) // serialization_failure, deadlock_detected
const ATTEMPTS = 5

/**
 * A pool whose bigint columns read as JavaScript numbers: every id, UID, MODSEQ and size stays
 * far below 2^53, and the Store interface speaks numbers.
 */
export function createPool(url: string, max = 10): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === pg.types.builtins.INT8
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  })
}

/** Statement texts given a name so far (text → name); see run(). */
const statementNames = new Map<string, string>()
/**
 * Texts named at most: the store's statements are a fixed set well below this; a text built
 * from input beyond it runs unnamed rather than growing every connection's cache.
 */
const MAX_NAMED_STATEMENTS = 500

/**
 * Runs one statement. One with parameters runs as a named prepared statement: each pooled
 * connection parses it once and PostgreSQL may keep its plan, instead of parsing and planning
 * the text on every call (which cost as much server CPU as running the store's small queries).
 * A statement whose best plan depends on its parameter values (a LIKE pattern) calls
 * client.query itself.
 */
export function run(client: Client | pg.Pool, sql: string, params: unknown[] = []) {
  if (params.length === 0) return client.query(sql)
  return client.query({ name: statementName(sql), text: sql, values: params })
}

function statementName(sql: string): string | undefined {
  const known = statementNames.get(sql)
  if (known !== undefined || statementNames.size >= MAX_NAMED_STATEMENTS) return known
  const name = `postern_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`
  statementNames.set(sql, name)
  return name
}

export async function one<T = Row>(client: Client | pg.Pool, sql: string, params: unknown[] = []) {
  return (await run(client, sql, params)).rows[0] as T | undefined
}

export async function all<T = Row>(client: Client | pg.Pool, sql: string, params: unknown[] = []) {
  return (await run(client, sql, params)).rows as T[]
}

/**
 * Runs `work` in one transaction (READ COMMITTED, with row locks taken where order matters) and
 * runs it again from the start after a deadlock or serialization failure, which concurrent
 * writers on several nodes can cause and which leave nothing behind.
 */
export async function transaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { isSnapshot?: boolean } = {},
): Promise<T> {
  // A snapshot: every read of `work` sees the database as of its first one, and it writes nothing.
  const begin = options.isSnapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN'
  for (let attempt = 1; ; attempt += 1) {
    const client = await pool.connect()
    let isBroken = false
    try {
      try {
        await client.query(begin)
      } catch (error) {
        // A pooled connection the server has cut (a restart, a failover) fails here, before
        // anything was sent: safe to run again on a fresh connection.
        isBroken = true
        if (attempt >= ATTEMPTS) throw error
        continue
      }
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        isBroken = true
      })
      const code = (error as { code?: string }).code
      if (code === undefined || !RETRYABLE.has(code) || attempt >= ATTEMPTS) throw error
    } finally {
      // A broken connection is closed rather than handed to the next caller.
      client.release(isBroken)
    }
  }
}

const presentColumns = new WeakMap<pg.Pool, Set<string>>()

/**
 * Whether the table has this column, for code that must also run on a database from before the
 * migration that added it (only the upgrade tests fill one). Remembered once present: migrations
 * only add.
 */
export async function hasColumn(pool: pg.Pool, table: string, column: string): Promise<boolean> {
  const key = `${table}.${column}`
  let present = presentColumns.get(pool)
  if (present?.has(key)) return true
  const row = await one(
    pool,
    `SELECT 1 AS found FROM pg_attribute
     WHERE attrelid = to_regclass($1::text) AND attname = $2 AND NOT attisdropped`,
    [table, column],
  )
  if (!row) return false
  if (!present) {
    present = new Set()
    presentColumns.set(pool, present)
  }
  present.add(key)
  return true
}

/** The constraint violation code for UNIQUE, to turn a race into ConflictError. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === '23505'
}
