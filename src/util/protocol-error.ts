/**
 * An expected failure that a protocol answers and then carries on from. Each protocol maps it to
 * its own wire reply (an SMTP code, an IMAP NO/BAD, a POP3 -ERR); a session never dies of one.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/**
 * A bound of DESIGN.md's invariant 2 was passed. `limit` names the constant in a `limits.ts`, so
 * a log line or a test can say exactly which bound it was.
 */
export class LimitError extends ProtocolError {
  override name = 'LimitError'
  readonly limit: string
  readonly max: number
  readonly actual: number

  constructor(message: string, limit: string, max: number, actual: number) {
    super(message)
    this.limit = limit
    this.max = max
    this.actual = actual
  }
}
