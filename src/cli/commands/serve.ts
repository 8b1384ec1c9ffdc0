import { ConfigError, loadConfig } from '../../config/index.ts'
import { createLogger, StartupError, startServer, watchSignals } from '../../server/index.ts'
import type { CliIo } from '../io.ts'

export interface ServeOptions {
  config?: string
}

/**
 * `postern serve`: loads the config (exit 2 naming the key when it is bad), starts the server
 * (exit 1 naming the key when the machine refuses: a port in use, an unwritable data dir), and
 * runs until SIGTERM/SIGINT, which stop it gracefully with exit 0.
 */
export async function serve(options: ServeOptions, io: CliIo): Promise<number> {
  // An empty POSTERN_CONFIG counts as unset, as shells make it easy to export one by accident.
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
  const log = createLogger(config.log)
  const signals = watchSignals(log)
  let server: Awaited<ReturnType<typeof startServer>>
  try {
    server = await startServer(config, { log })
  } catch (error) {
    signals.cancel()
    if (error instanceof StartupError) {
      log.fatal({ key: error.key }, `cannot start: ${error.message}`)
      io.error(`postern: cannot start: ${error.message}`)
      return 1
    }
    throw error
  }
  return signals.runUntilSignalled(server)
}
