// src/imap/server: the IMAP server (RFC 9051 IMAP4rev2, with RFC 3501 IMAP4rev1 compatibility)
// for the imap (STARTTLS) and imaps (implicit TLS) listeners. Not registered yet: this slice
// covers the not-authenticated state and login.
import type { ProtocolHandler } from '../../net/index.ts'
import { type ImapServerDeps, ImapSession } from './session.ts'

export type { ImapServerDeps, ImapSessionConfig, ImapState } from './session.ts'

export function createImapServer(deps: ImapServerDeps): ProtocolHandler {
  return {
    async handleConnection(connection) {
      await new ImapSession(connection, deps).run()
    },
    // RFC 9051 §7.1.5: a BYE greeting refuses the connection.
    refusal: (reason) => `* BYE Too many connections (${reason}), try later\r\n`,
  }
}
