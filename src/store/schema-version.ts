/** One step of a backend's schema history. Versions count up from 1 without gaps. */
export interface Migration {
  version: number
  description: string
  /** The statements that take the schema from version - 1 to this version. */
  sql: string
}

export interface SchemaStatus {
  /** 0 for an empty database. */
  current: number
  /** The newest version this Postern knows. */
  latest: number
  /** What `postern migrate up` would apply, in order. */
  pending: Array<Pick<Migration, 'version' | 'description'>>
}

/**
 * The database's schema is not the one this Postern was built for. Behind: an operator runs
 * `postern migrate up` (after a backup). Ahead: a newer Postern wrote it, and this one would
 * read it wrongly, so it refuses.
 */
export class SchemaVersionError extends Error {
  override name = 'SchemaVersionError'
  readonly current: number
  readonly latest: number

  constructor(current: number, latest: number) {
    super(
      current < latest
        ? `The database schema is version ${current} and this Postern needs version ${latest}: run "postern migrate up" (see "postern migrate status")`
        : `The database schema is version ${current}, newer than this Postern knows (${latest}): run the Postern that wrote it, or a newer one`,
    )
    this.current = current
    this.latest = latest
  }
}

/** The migrations after `current`, checking that the history has no gaps. */
export function pendingMigrations(migrations: readonly Migration[], current: number): Migration[] {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`Migration ${index + 1} is numbered ${migration.version}`)
    }
  })
  return migrations.filter((migration) => migration.version > current)
}
