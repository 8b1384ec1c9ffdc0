import type { Config } from '../config/index.ts'
import type { SchemaStatus, Store } from '../store/index.ts'
import {
  migratePostgresStore,
  openPostgresStore,
  postgresSchemaStatus,
} from '../store/postgres/index.ts'
import { migrateSqliteStore, openSqliteStore, sqliteSchemaStatus } from '../store/sqlite/index.ts'
import type { Logger } from '../util/index.ts'
import { StartupError } from './startup-error.ts'

/**
 * The one place that picks a store backend (DESIGN.md: protocols see only the Store interface).
 * Used by the server and by the administration commands, which work on the same data whether
 * the server runs or not.
 */
export async function openStore(
  config: Config,
  log: Logger,
  options: { isShortLived?: boolean } = {},
): Promise<Store> {
  const onError = (error: unknown) => log.error({ err: error }, 'store background work failed')
  if (config.store.backend === 'postgres') {
    try {
      return await openPostgresStore({ url: config.store.url, onError })
    } catch (error) {
      throw new StartupError(
        'store.url',
        `cannot open the PostgreSQL store at ${redactUrl(config.store.url)}: ${(error as Error).message}`,
      )
    }
  }
  try {
    return await openSqliteStore({
      dataDir: config.dataDir,
      onError,
      onOrphanRemoved: (blobId) =>
        log.warn({ blobId }, 'removed a message file no mailbox refers to (left by a crash)'),
      // The server sweeps orphaned files; a command that runs for a moment leaves that to it.
      ...(options.isShortLived ? { orphanAgeMs: null } : {}),
    })
  } catch (error) {
    throw new StartupError(
      'store',
      `cannot open the store in "${config.dataDir}": ${(error as Error).message}`,
    )
  }
}

/** The URL without its password, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'the configured url'
  }
}

/** Where the configured store is, for messages: the data dir, or the URL without password. */
export function describeStore(config: Config): string {
  return config.store.backend === 'postgres'
    ? `postgres at ${redactUrl(config.store.url)}`
    : `sqlite in ${config.dataDir}`
}

/** The configured store's schema version and pending migrations (`postern migrate status`). */
export async function storeSchemaStatus(config: Config): Promise<SchemaStatus> {
  return config.store.backend === 'postgres'
    ? postgresSchemaStatus(config.store.url)
    : sqliteSchemaStatus(config.dataDir)
}

/** Applies pending migrations to the configured store, or with dryRun only lists them. */
export async function migrateStore(
  config: Config,
  options: { dryRun: boolean },
): Promise<SchemaStatus> {
  return config.store.backend === 'postgres'
    ? migratePostgresStore(config.store.url, options)
    : migrateSqliteStore(config.dataDir, options)
}
