import { ok } from '../../proto/index.ts'
import { AUTHORIZATION, type Pop3CommandEntry } from '../command.ts'

/**
 * STLS (RFC 2595 §4). Octets the client pipelined after it are discarded by the upgrade (so a
 * man in the middle cannot inject commands that would run under TLS), and the client must
 * forget what it learned before, CAPA included.
 */
export const stls: Pop3CommandEntry = {
  states: AUTHORIZATION,
  async handle(session) {
    if (session.isTls) {
      await session.fail('TLS is already active')
      return
    }
    await session.flush()
    try {
      await session.connection.startTls(session.deps.secureContext, ok('Begin TLS negotiation'))
    } catch (error) {
      session.log.info({ err: (error as Error).message }, 'STLS handshake failed')
      session.isClosing = true
      return
    }
    session.resetForTls()
    session.log.info({ tls: session.connection.tlsInfo }, 'STLS done')
  },
}
