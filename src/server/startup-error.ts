/**
 * The server could not start for a reason of the machine rather than of the config file's
 * syntax: a port in use, a data dir that cannot be written, a broken certificate pair. `key`
 * names the config key involved so the one-line message points the operator at it.
 */
export class StartupError extends Error {
  override name = 'StartupError'
  readonly key: string

  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`)
    this.key = key
  }
}
