import { SASL_MECHANISMS } from '../../../auth/index.ts'
import type { CommandHandler } from '../command.ts'

/**
 * EHLO and HELO (RFC 5321 §4.1.1.1). Either one resets the transaction. EHLO lists the
 * extensions this session may use now: STARTTLS until TLS is on, AUTH on submission only once
 * TLS is on (RFC 8314 §4.1 / RFC 4954 §4: no passwords in the clear) and not again after it.
 */
export const ehlo: CommandHandler<'EHLO' | 'HELO'> = async (session, command) => {
  const { deps } = session
  session.helo = command.domain
  session.isEsmtp = command.verb === 'EHLO'
  session.transaction = null
  const greeting = `${deps.hostname} Hello ${command.domain} [${session.connection.remoteAddress}]`
  if (command.verb === 'HELO') {
    session.reply(250, null, greeting)
    return
  }
  const lines = [
    greeting,
    'PIPELINING', // RFC 2920
    `SIZE ${deps.config.maxMessageSize}`, // RFC 1870
    '8BITMIME', // RFC 6152
    'SMTPUTF8', // RFC 6531
    'ENHANCEDSTATUSCODES', // RFC 2034
    'CHUNKING', // RFC 3030
    'DSN', // RFC 3461
  ]
  if (!session.isTls) lines.push('STARTTLS') // RFC 3207
  if (deps.mode === 'submission' && session.isTls && session.login === null) {
    lines.push(`AUTH ${SASL_MECHANISMS.join(' ')}`) // RFC 4954
  }
  lines.push('HELP')
  session.reply(250, null, lines)
}
