// src/smtp/server: the SMTP server for the MX listener (mail for local domains from anyone) and
// the submission listeners (authenticated users, mail to anywhere).
import type { ProtocolHandler } from '../../net/index.ts'
import { formatReply, reply } from '../proto/index.ts'
import { type SmtpServerDeps, SmtpSession } from './session.ts'

export type { SmtpMode, SmtpServerDeps } from './session.ts'

/** The ProtocolHandler the listeners run for one mode. */
export function createSmtpServer(deps: SmtpServerDeps): ProtocolHandler {
  return {
    async handleConnection(connection) {
      await new SmtpSession(connection, deps).run()
    },
    // RFC 5321 §3.1: a server that cannot serve now greets with 421 and closes.
    refusal: (reason) =>
      formatReply(
        reply(421, '4.7.0', `${deps.hostname} Too many connections (${reason}), try later`),
      ),
  }
}
