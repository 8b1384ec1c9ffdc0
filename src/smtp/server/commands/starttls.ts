import { formatReply, reply } from '../../proto/index.ts'
import type { CommandHandler } from '../command.ts'

/**
 * STARTTLS (RFC 3207). Anything the client pipelined after it is discarded by the upgrade
 * (§4.2, CVE-2011-0411), and the session starts over: the client must EHLO again.
 */
export const starttls: CommandHandler<'STARTTLS'> = async (session) => {
  if (session.isTls) {
    session.reply(503, '5.5.1', 'TLS is already active')
    return
  }
  if (session.transaction !== null) {
    session.reply(503, '5.5.1', 'STARTTLS is not allowed during a mail transaction')
    return
  }
  // Replies to commands before STARTTLS go out in the clear, before the "go ahead".
  await session.flush()
  try {
    await session.connection.startTls(
      session.deps.secureContext,
      formatReply(reply(220, '2.0.0', 'Ready to start TLS')),
    )
  } catch (error) {
    session.log.info({ err: (error as Error).message }, 'STARTTLS handshake failed')
    session.isClosing = true
    return
  }
  session.resetForTls()
  session.log.info({ tls: session.connection.tlsInfo }, 'STARTTLS done')
}
