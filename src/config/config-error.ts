/**
 * A config that cannot be used. `key` is the dotted TOML key ("listen.smtp"), or "config" when
 * the file itself is at fault; the message is one line an operator can act on.
 */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly key: string
  readonly problem: string

  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`)
    this.key = key
    this.problem = problem
  }
}
