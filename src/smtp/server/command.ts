import type { SmtpCommand, SmtpVerb } from '../proto/index.ts'
import type { SmtpSession } from './session.ts'

/** One verb's handler: it queues its replies on the session and may read more (DATA, AUTH). */
export type CommandHandler<V extends SmtpVerb> = (
  session: SmtpSession,
  command: Extract<SmtpCommand, { verb: V }>,
) => Promise<void>

export type CommandTable = {
  [V in SmtpVerb]: (
    session: SmtpSession,
    command: Extract<SmtpCommand, { verb: V }>,
  ) => Promise<void>
}
