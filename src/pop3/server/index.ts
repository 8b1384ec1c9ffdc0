// src/pop3/server: the POP3 server (RFC 1939, RFC 2449, RFC 2595, RFC 5034) for the pop3 (STLS)
// and pop3s (implicit TLS) listeners. The maildrop is the account's INBOX.
import type { ProtocolHandler } from '../../net/index.ts'
import { err } from '../proto/index.ts'
import { type Pop3ServerDeps, Pop3Session } from './session.ts'

export type { Pop3ServerDeps } from './session.ts'

export function createPop3Server(deps: Pop3ServerDeps): ProtocolHandler {
  return {
    async handleConnection(connection) {
      await new Pop3Session(connection, deps).run()
    },
    refusal: (reason) => err(`Too many connections (${reason}), try later`, 'SYS/TEMP'),
  }
}
