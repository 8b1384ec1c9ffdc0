import { type DsnNotify, encodeXtext, type Reply } from '../proto/index.ts'
import type { SmtpCapabilities } from './capabilities.ts'

export interface SendRecipient {
  address: string
  /** RFC 3461 §4.1 NOTIFY: null (or absent) for none, [] for NEVER. */
  notify?: DsnNotify[] | null
  /** RFC 3461 §4.2 ORCPT as "addr-type;address", e.g. "rfc822;bob@example.com". */
  originalRecipient?: string | null
}

export interface SendEnvelope {
  /** The reverse-path mailbox, '' for the null path <>. */
  sender: string
  recipients: SendRecipient[]
  body?: '7bit' | '8bitmime' | 'binarymime'
  smtputf8?: boolean
  /** RFC 3461 §4.4 ENVID, not yet xtext-encoded. */
  envelopeId?: string | null
  /** RFC 3461 §4.3 RET. */
  ret?: 'full' | 'hdrs' | null
}

/** The message: CRLF line ends, not dot-stuffed, exactly `size` octets. */
export interface MessageSource {
  size: number
  chunks(): AsyncIterable<Buffer>
}

export interface SendResult {
  mail: Reply
  /** One per envelope recipient, in order; each is the MAIL reply when MAIL failed. */
  recipients: Reply[]
  /** The final reply for the message; null when MAIL failed or no recipient was accepted. */
  data: Reply | null
}

/**
 * MAIL FROM with the parameters of the extensions the peer announced, and only those: a
 * parameter the peer did not announce gets a 555 (RFC 5321 §4.1.1.11).
 */
export function mailCommand(
  envelope: SendEnvelope,
  size: number,
  capabilities: SmtpCapabilities,
): string {
  let line = `MAIL FROM:<${checkPath(envelope.sender)}>`
  if (capabilities.size !== null) line += ` SIZE=${size}` // RFC 1870 §6
  if (envelope.body === '8bitmime' && capabilities.eightBitMime) line += ' BODY=8BITMIME' // RFC 6152
  // RFC 3030 §3: BINARYMIME is sent with BDAT only, so it needs CHUNKING as well.
  if (envelope.body === 'binarymime' && capabilities.binaryMime && capabilities.chunking) {
    line += ' BODY=BINARYMIME'
  }
  if (envelope.smtputf8 === true && capabilities.smtputf8) line += ' SMTPUTF8' // RFC 6531 §3.4
  if (capabilities.dsn) {
    if (envelope.ret === 'full' || envelope.ret === 'hdrs') {
      line += ` RET=${envelope.ret.toUpperCase()}` // RFC 3461 §4.3
    }
    if (envelope.envelopeId != null) line += ` ENVID=${encodeXtext(envelope.envelopeId)}` // §4.4
  }
  return `${line}\r\n`
}

/** RCPT TO, with DSN's NOTIFY and ORCPT only when the peer announced DSN. */
export function rcptCommand(recipient: SendRecipient, capabilities: SmtpCapabilities): string {
  let line = `RCPT TO:<${checkPath(recipient.address)}>`
  if (capabilities.dsn) {
    const { notify, originalRecipient } = recipient
    if (notify != null) {
      // RFC 3461 §4.1: "NEVER", or a comma-separated list of SUCCESS, FAILURE, DELAY.
      const list = notify.length === 0 ? 'NEVER' : [...new Set(notify)].join(',').toUpperCase()
      line += ` NOTIFY=${list}`
    }
    if (originalRecipient != null) {
      // RFC 3461 §4.2: addr-type ";" xtext; the type is plain, the address xtext-encoded.
      const semicolon = originalRecipient.indexOf(';')
      const type = semicolon < 0 ? 'rfc822' : originalRecipient.slice(0, semicolon)
      const address = originalRecipient.slice(semicolon + 1)
      line += ` ORCPT=${encodeXtext(type)};${encodeXtext(address)}`
    }
  }
  return `${line}\r\n`
}

/**
 * A mailbox goes into the command line as given; one that could end the line or the path
 * early would let the caller's data write commands of its own.
 */
function checkPath(mailbox: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  if (/[\u0000-\u001f\u007f<>]/.test(mailbox)) {
    throw new TypeError(`Not a mailbox for an SMTP path: ${JSON.stringify(mailbox)}`)
  }
  return mailbox
}
