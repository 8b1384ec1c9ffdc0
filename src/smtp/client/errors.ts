import type { Reply } from '../proto/index.ts'

/**
 * What went wrong, coarsely enough for a queue to decide between "try another host", "try
 * later" and "bounce": the peer answered badly ('reply'), or the transport failed in some way.
 */
export type SmtpClientErrorKind = 'connect' | 'timeout' | 'closed' | 'protocol' | 'tls' | 'reply'

export class SmtpClientError extends Error {
  override name = 'SmtpClientError'
  readonly kind: SmtpClientErrorKind
  /** The peer's reply for kind 'reply' (and a 421 that ended a command); otherwise null. */
  readonly reply: Reply | null
  /** Where it happened: 'connect', 'greeting', 'EHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', … */
  readonly phase: string

  constructor(
    kind: SmtpClientErrorKind,
    phase: string,
    message: string,
    options: { reply?: Reply | null; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.kind = kind
    this.phase = phase
    this.reply = options.reply ?? null
  }

  /** The error for a reply the command did not expect. */
  static fromReply(phase: string, reply: Reply): SmtpClientError {
    return new SmtpClientError('reply', phase, `${phase} refused: ${describeReply(reply)}`, {
      reply,
    })
  }
}

/** "550 5.1.1 first line / second line", for messages and logs. */
export function describeReply(reply: Reply): string {
  const status = reply.status === null ? '' : `${reply.status} `
  return `${reply.code} ${status}${reply.lines.join(' / ')}`
}
