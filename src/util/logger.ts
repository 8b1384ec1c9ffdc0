/**
 * The logging surface the core folders depend on. It is the part of pino's interface Postern
 * uses, so a pino logger fits it and core code never imports pino itself.
 */
export interface Logger {
  trace(fields: object, message: string): void
  debug(fields: object, message: string): void
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
  fatal(fields: object, message: string): void
  child(bindings: Record<string, unknown>): Logger
}

function noop(): void {}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
}
