import { formatDate } from '../../mime/index.ts'

export interface ReceivedInfo {
  /** The EHLO/HELO argument. */
  helo: string
  isEsmtp: boolean
  remoteAddress: string
  /** Our host name. */
  hostname: string
  tls: { protocol: string; cipher: string } | null
  isAuthenticated: boolean
  smtputf8: boolean
  /** The id the 250 reply names, so a log line and a header can be matched. */
  id: string
  /** The recipient, when there is exactly one (RFC 5321 §4.4 "for"; more would leak Bcc). */
  recipient: string | null
  date: Date
}

/**
 * The trace header RFC 5321 §4.4 has every SMTP server prepend:
 * Received: from helo ([ip]) by host with PROTOCOL id ID for <rcpt>; date
 * The "with" keyword is RFC 3848's (ESMTP, ESMTPS, ESMTPA, ESMTPSA) or RFC 6531 §3.7.3's
 * UTF8SMTP forms. Lines are folded so none passes 78 characters where it can be helped.
 */
export function receivedHeader(info: ReceivedInfo): string {
  const protocol = `${info.smtputf8 ? 'UTF8SMTP' : info.isEsmtp ? 'ESMTP' : 'SMTP'}${
    info.tls !== null ? 'S' : ''
  }${info.isAuthenticated ? 'A' : ''}`
  const protocolName =
    protocol === 'SMTPS' || protocol === 'SMTPA' || protocol === 'SMTPSA' ? 'SMTP' : protocol
  const lines = [
    `Received: from ${traceWord(info.helo)} (${addressLiteral(info.remoteAddress)})`,
    `\tby ${info.hostname} (Postern) with ${protocolName} id ${info.id}`,
  ]
  if (info.tls !== null) {
    lines.push(
      `\t(using ${traceWord(info.tls.protocol)} with cipher ${traceWord(info.tls.cipher)})`,
    )
  }
  const recipient = info.recipient === null ? '' : `for <${traceText(info.recipient)}>`
  lines.push(`\t${recipient}; ${formatDate(info.date)}`)
  return `${lines.join('\r\n')}\r\n`
}

/** TCP-info's address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3). */
function addressLiteral(address: string): string {
  return address.includes(':') ? `[IPv6:${address}]` : `[${address}]`
}

/** A peer-chosen word in the header: printable ASCII only, no parentheses or separators. */
function traceWord(text: string): string {
  const cleaned = text.replace(/[^\x21-\x7e]|[()<>;\\"]/g, '?').slice(0, 255)
  return cleaned === '' ? 'unknown' : cleaned
}

/** An address in the header; UTF-8 is allowed in headers of SMTPUTF8 mail (RFC 6532). */
function traceText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing controls is the point
  return text.replace(/[\u0000-\u001f\u007f<>]/g, '?')
}
