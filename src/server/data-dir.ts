import { accessSync, constants, mkdirSync } from 'node:fs'
import { StartupError } from './startup-error.ts'

/** Creates the data dir (private to the server's user) if needed and checks it can be written. */
export function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    accessSync(dataDir, constants.W_OK | constants.X_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new StartupError('data_dir', `cannot use "${dataDir}": ${code}`)
  }
}
