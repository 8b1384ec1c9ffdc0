import type { Config } from '../config/index.ts'
import type { Store } from '../store/index.ts'
import { openPostgresStore } from '../store/postgres/index.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
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
