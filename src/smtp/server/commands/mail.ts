import { parseMailParams } from '../../proto/index.ts'
import type { CommandHandler } from '../command.ts'

/**
 * MAIL FROM (RFC 5321 §4.1.1.2) with the parameters of the extensions EHLO offered. On
 * submission the client must have authenticated, and the sender must be one of its addresses.
 */
export const mail: CommandHandler<'MAIL'> = async (session, command) => {
  const { deps } = session
  if (session.helo === null) {
    session.reply(503, '5.5.1', 'Send EHLO or HELO first')
    return
  }
  if (session.transaction !== null) {
    session.reply(503, '5.5.1', 'A mail transaction is already open; send RSET first')
    return
  }
  if (deps.mode === 'submission' && session.login === null) {
    session.reply(
      530,
      '5.7.0',
      session.isTls ? 'Authentication required' : 'Must issue a STARTTLS command first',
    )
    return
  }
  // RFC 5321 §4.1.1.11: parameters belong to extensions, which only EHLO turns on.
  if (!session.isEsmtp && command.params.trim() !== '') {
    session.reply(555, '5.5.4', 'MAIL parameters need EHLO, not HELO')
    return
  }
  const params = parseMailParams(command.params)
  if ('code' in params) {
    session.send(params)
    return
  }
  // RFC 1870 §6.2: a declared size over the limit is refused before any data is sent.
  if (params.size !== null && params.size > deps.config.maxMessageSize) {
    session.reply(
      552,
      '5.3.4',
      `Message size exceeds the ${deps.config.maxMessageSize} octets this server accepts`,
    )
    return
  }
  const mailbox = command.path.mailbox
  // RFC 6531 §3.4: a UTF-8 address needs the SMTPUTF8 parameter.
  if (mailbox?.hasNonAscii && !params.smtputf8) {
    session.reply(553, '5.6.7', 'A non-ASCII sender address needs the SMTPUTF8 parameter')
    return
  }
  const sender = mailbox?.text ?? ''
  if (deps.mode === 'submission' && session.login !== null && sender !== '') {
    const isOwned = await deps.directory.ownsAddress(session.login, sender)
    if (!isOwned) {
      session.log.info(
        { login: session.login.address, sender },
        'submission refused: sender not owned by the user',
      )
      session.reply(
        550,
        '5.7.1',
        `Sender address <${sender}> is not owned by ${session.login.address}`,
      )
      return
    }
  }
  session.transaction = { sender, params, recipients: [], chunks: null }
  session.reply(250, '2.1.0', 'Ok')
}
