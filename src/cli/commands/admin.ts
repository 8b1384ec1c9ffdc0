import { type Config, ConfigError, loadConfig } from '../../config/index.ts'
import { AddressError, createDirectory, type Directory } from '../../directory/index.ts'
import { createLogger, openStore, StartupError } from '../../server/index.ts'
import { ConflictError, InvalidNameError, NotFoundError, type Store } from '../../store/index.ts'
import type { CliIo } from '../io.ts'

/** Raised by a command for bad input it found itself: exit 2 with the message. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/**
 * Runs an administration command against the configured store, whether the server runs or not
 * (SQLite lets both write; each command is its own short transaction). Exit codes follow
 * DESIGN.md: 2 for bad usage, a bad config or a malformed name or address; 1 when the data
 * says no (a duplicate, an unknown domain) or the store cannot be opened.
 */
export async function runAdminCommand(
  options: { config?: string },
  io: CliIo,
  work: (directory: Directory, store: Store, config: Config) => Promise<void>,
): Promise<number> {
  const configPath = options.config ?? (io.env.POSTERN_CONFIG || null)
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig({ path: configPath })
  } catch (error) {
    if (error instanceof ConfigError) {
      io.error(`postern: bad config: ${error.message}`)
      return 2
    }
    throw error
  }
  // Only problems are logged, to standard error, so that command output stays clean.
  const log = createLogger({ level: 'warn', format: 'json' }, { fd: 2, isTTY: false })
  let store: Awaited<ReturnType<typeof openStore>>
  try {
    store = await openStore(config, log, { isShortLived: true })
  } catch (error) {
    if (error instanceof StartupError) {
      io.error(`postern: ${error.message}`)
      return 1
    }
    throw error
  }
  try {
    await work(
      createDirectory(store, {
        subaddressSeparator: config.directory.subaddressSeparator,
        keepApopSecrets: config.pop3.apop,
      }),
      store,
      config,
    )
    return 0
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof AddressError ||
      error instanceof InvalidNameError
    ) {
      io.error(`postern: ${error.message}`)
      return 2
    }
    if (error instanceof NotFoundError || error instanceof ConflictError) {
      io.error(`postern: ${error.message}`)
      return 1
    }
    throw error
  } finally {
    await store.close()
  }
}

/**
 * The password from --password, or else the first line of standard input (so that it stays out
 * of the process list and shell history: `printf '%s\n' "$pw" | postern user add …`).
 */
export async function readPassword(given: string | undefined, io: CliIo): Promise<string> {
  const password = given ?? (await io.readStdin()).split(/\r?\n/)[0] ?? ''
  if (password === '') throw new UsageError('the password is empty (give --password or pipe it)')
  return password
}
