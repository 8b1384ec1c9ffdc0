import { type ImapCommandEntry, NOT_AUTHENTICATED } from '../command.ts'

/**
 * STARTTLS (RFC 9051 §6.2.1). Octets the client pipelined after it are discarded by the upgrade
 * (so a man in the middle cannot inject commands that would run under TLS), and the capabilities
 * change, so the OK carries no CAPABILITY code: the client must ask again.
 */
export const starttls: ImapCommandEntry = {
  states: NOT_AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.end()
    if (session.isTls) {
      await session.tagged(tag, 'BAD', 'TLS is already active')
      return
    }
    await session.flush()
    try {
      await session.connection.startTls(
        session.deps.secureContext,
        `${tag} OK Begin TLS negotiation now\r\n`,
      )
    } catch (error) {
      session.log.info({ err: (error as Error).message }, 'STARTTLS handshake failed')
      session.isClosing = true
      return
    }
    session.log.info({ tls: session.connection.tlsInfo }, 'STARTTLS done')
  },
}
