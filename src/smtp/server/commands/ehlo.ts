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
  const greeting = `${deps.hostname} Hello ${shownDomain(command.domain)} [${session.connection.remoteAddress}]`
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

/** A domain name has at most 255 octets (RFC 5321 §4.5.3.1.2). */
const MAX_SHOWN_DOMAIN_OCTETS = 255

/**
 * The EHLO argument as the greeting echoes it: a longer one is cut, so that the reply line stays
 * within the 512 octets of RFC 5321 §4.5.3.1.5 however long a line the client sent.
 */
function shownDomain(domain: string): string {
  if (Buffer.byteLength(domain) <= MAX_SHOWN_DOMAIN_OCTETS) return domain
  // 60 code points are at most 240 octets of UTF-8.
  return `${Array.from(domain).slice(0, 60).join('')}...`
}
