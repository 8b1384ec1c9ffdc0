/**
 * Delivery status notifications: bounces, delay notices and success notices as RFC 3464
 * multipart/report messages (RFC 6522), with RFC 6533's global forms for SMTPUTF8 mail.
 *
 * @see https://www.rfc-editor.org/rfc/rfc3464
 */
import { randomBytes } from 'node:crypto'
import {
  encodeQuotedPrintable,
  formatDate,
  generateMessageId,
  splitHeaderFields,
  toAsciiDomain,
} from '../mime/index.ts'

export interface DsnRecipient {
  /** The final recipient as relayed. */
  address: string
  /** RFC 3461 ORCPT as received, xtext decoded: "rfc822;user@example.org". */
  originalRecipient: string | null
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded'
  /** RFC 3463 enhanced status code: "5.1.1", "4.4.1"… */
  status: string
  /** The host that gave the diagnostic: "mx.example.org". */
  remoteMta: string | null
  /** The remote reply as text: "550 5.1.1 No such user", or our own words (see diagnosticType). */
  diagnostic: string | null
  /**
   * RFC 3464 §2.3.6 diagnostic-type: "smtp" for an SMTP reply (the default); "X-Postern" when
   * the text is Postern's own (a connection failure, a DNS answer, an expiry).
   */
  diagnosticType?: 'smtp' | 'X-Postern'
  lastAttemptAt: Date | null
  /** Written for delayed recipients only. */
  willRetryUntil: Date | null
}

export interface DsnInput {
  /** Our host name. */
  reportingMta: string
  kind: 'failure' | 'delay' | 'success'
  /** The envelope sender of the original, whom the notice goes to. */
  to: string
  /** RFC 3461 ENVID, xtext decoded. */
  envelopeId: string | null
  arrivalDate: Date
  recipients: DsnRecipient[]
  /** The original message, as queued. */
  original: Buffer
  /**
   * RFC 3461 §4.3 RET. 'full' returns the whole message, 'hdrs' its header. Without RET the
   * MTA may choose (RFC 3461 §4.3): a failure notice returns the whole message when it is at
   * most 100 KiB, its header otherwise; delay and success notices return the header.
   */
  ret: 'full' | 'hdrs' | null
  /** The original needed SMTPUTF8: the report uses RFC 6533's global media types. */
  smtputf8: boolean
  /** Default: now. */
  date?: Date
  /** A full "<id@domain>"; default: a new one in the reporting MTA's domain. */
  messageId?: string
}

/** Without RET, a failure notice returns a message up to this size whole. */
const FULL_RETURN_LIMIT = 100 * 1024

// RFC 5322 §2.1.1: lines of at most 998 octets, and should be at most 78.
const MAX_LINE_OCTETS = 998
const FOLD_WIDTH = 78
/** A word longer than this is cut, so that any line holding one stays within 998 octets. */
const MAX_WORD_OCTETS = 900

const SUBJECTS: Record<DsnInput['kind'], string> = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
}

const ACTIONS = new Set(['failed', 'delayed', 'delivered', 'relayed', 'expanded'])

/** One body part of the report: its header fields and its body, which is written as it is. */
interface Part {
  fields: string[]
  body: Buffer
  encoding: '7bit' | '8bit' | 'quoted-printable'
}

/**
 * The notice as a complete message, CRLF line ends: multipart/report; report-type=
 * delivery-status (RFC 6522 §3) with a text/plain explanation, the message/delivery-status
 * report (RFC 3464 §2) and the original or its header. Values from the remote reply, the
 * envelope and the original are stripped of line breaks and control characters and folded, so
 * none can add a field, end a part or exceed a line. The original is embedded byte for byte, and
 * the boundary is checked against every part.
 *
 * Throws TypeError for an input no notice can be written for: no recipients, an empty `to` (a
 * notice never goes to the null reverse-path, RFC 5321 §4.5.5), an unknown action, a malformed
 * messageId; RangeError for a reporting MTA that is no domain name or an invalid date.
 */
export function buildDsn(input: DsnInput): Buffer {
  const host = toAsciiDomain(input.reportingMta)
  if (host === null) {
    throw new RangeError(`Cannot report as "${input.reportingMta}", it is not a domain name`)
  }
  if (input.recipients.length === 0) throw new TypeError('A DSN reports on at least one recipient')
  for (const recipient of input.recipients) {
    if (!ACTIONS.has(recipient.action)) {
      throw new TypeError(`Cannot report the action "${recipient.action}"`)
    }
  }
  const { to } = input
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (to === '' || /[\u0000-\u001f\u007f]/.test(to)) {
    throw new TypeError('A DSN goes to a non-empty reverse-path without control characters')
  }
  const messageId = input.messageId ?? generateMessageId(host)
  if (!/^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>$/.test(messageId)) {
    throw new TypeError(`Cannot use "${messageId}" as a Message-ID`)
  }
  const returned = returnedPart(input)
  const parts = [humanPart(input, host, returned.isWhole), statusPart(input, host), returned.part]
  const boundary = chooseBoundary(parts)
  // RFC 6522 §3: report-type names the subtype of the second part.
  const reportType = input.smtputf8 ? 'global-delivery-status' : 'delivery-status'
  const header = [
    `From: Mail Delivery System <MAILER-DAEMON@${host}>`,
    `To: <${to}>`,
    `Subject: ${SUBJECTS[input.kind]}`,
    `Date: ${formatDate(input.date ?? new Date())}`,
    `Message-ID: ${messageId}`,
    // RFC 3834 §5: marks the notice as automatic, so no auto-responder answers it.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=${reportType};\r\n\tboundary="${boundary}"`,
  ]
  // RFC 2045 §6.4: a multipart is 7bit, 8bit or binary; 8bit tells a relay what is inside.
  if (parts.some((part) => part.encoding === '8bit')) header.push('Content-Transfer-Encoding: 8bit')
  const chunks: Buffer[] = [
    Buffer.from(`${header.join('\r\n')}\r\n\r\nThis is a MIME-encapsulated message.\r\n`),
  ]
  // RFC 2046 §5.1.1: the CRLF before each delimiter belongs to the delimiter, so each part's
  // body ends where the original's last octet does.
  for (const part of parts) {
    const fields = [...part.fields, `Content-Transfer-Encoding: ${part.encoding}`]
    chunks.push(Buffer.from(`\r\n--${boundary}\r\n${fields.join('\r\n')}\r\n\r\n`), part.body)
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`))
  return Buffer.concat(chunks)
}

/** A boundary that none of the parts contains (RFC 2046 §5.1.1), tried afresh until one fits. */
function chooseBoundary(parts: readonly Part[]): string {
  for (let attempt = 0; attempt < 16; attempt += 1) {
    // "=_" cannot occur in quoted-printable text, which makes a clash less likely still.
    const boundary = `=_dsn_${randomBytes(12).toString('hex')}`
    if (!parts.some((part) => part.body.includes(boundary, 0, 'latin1'))) return boundary
  }
  throw new Error('Cannot find a boundary that the parts of the DSN do not contain')
}

/** Part 1 (RFC 6522 §3): the explanation for a person, one paragraph per recipient. */
function humanPart(input: DsnInput, host: string, isWhole: boolean): Part {
  const lines: string[] = [`This is the mail system at host ${host}.`, '']
  const attached = isWhole ? 'The message is attached.' : 'Its header is attached.'
  const intro = {
    failure: `Your message could not be delivered to one or more recipients; the mail system has given up on them for the reasons below. ${attached}`,
    delay: `Your message could not be delivered yet to one or more recipients, for the reasons below. The mail system will keep trying; there is no need to send it again. ${attached}`,
    success: `Your message was delivered to the recipients below, as you asked to be told. ${attached}`,
  }[input.kind]
  lines.push(...fill('', intro, ''))
  for (const recipient of input.recipients) {
    const address = cleanText(recipient.address, input.smtputf8)
    const line = `<${address}>: ${describe(recipient, input.smtputf8)}`
    lines.push('', ...fill('', line, '    '))
  }
  const text = Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8')
  const ascii = isSevenBit(text)
  return {
    fields: [
      `Content-Type: text/plain; charset=${ascii ? 'us-ascii' : 'utf-8'}`,
      'Content-Description: Notification',
    ],
    body: ascii ? text : Buffer.from(encodeQuotedPrintable(text), 'latin1'),
    encoding: ascii ? '7bit' : 'quoted-printable',
  }
}

function describe(recipient: DsnRecipient, allowUtf8: boolean): string {
  const diagnostic = cleanText(recipient.diagnostic ?? '', allowUtf8)
  const remoteMta = cleanText(recipient.remoteMta ?? '', false)
  const status = statusOf(recipient)
  let text: string
  if (diagnostic !== '' && remoteMta !== '') text = `host ${remoteMta} said: ${diagnostic}`
  else if (diagnostic !== '') text = diagnostic
  else {
    text = {
      failed: `delivery failed (${status})`,
      delayed: `delivery delayed (${status})`,
      delivered: 'delivered',
      relayed: 'relayed to a system that sends no further notices',
      expanded: 'delivered, and passed on to further recipients',
    }[recipient.action]
  }
  if (recipient.action === 'delayed' && recipient.willRetryUntil) {
    text += ` (will be retried until ${formatDate(recipient.willRetryUntil)})`
  }
  return text
}

/** Part 2: the machine-readable report, RFC 3464 §2.2 and §2.3. */
function statusPart(input: DsnInput, host: string): Part {
  const global = input.smtputf8
  const perMessage: string[] = []
  // per-message-fields = [ original-envelope-id-field CRLF ] reporting-mta-field CRLF
  //   [ dsn-gateway-field CRLF ] [ received-from-mta-field CRLF ] [ arrival-date-field CRLF ]
  //   (RFC 3464 §2.2)
  const envelopeId = cleanText(input.envelopeId ?? '', global)
  if (envelopeId !== '') perMessage.push(field('Original-Envelope-Id', envelopeId))
  perMessage.push(`Reporting-MTA: dns; ${host}`)
  perMessage.push(`Arrival-Date: ${formatDate(input.arrivalDate)}`)
  const blocks = [perMessage.join('\r\n')]
  for (const recipient of input.recipients) {
    // per-recipient-fields = [ original-recipient-field CRLF ] final-recipient-field CRLF
    //   action-field CRLF status-field CRLF [ remote-mta-field CRLF ]
    //   [ diagnostic-code-field CRLF ] [ last-attempt-date-field CRLF ]
    //   [ final-log-id-field CRLF ] [ will-retry-until-field CRLF ]   (RFC 3464 §2.3)
    const lines: string[] = []
    if (recipient.originalRecipient !== null) {
      const semicolon = recipient.originalRecipient.indexOf(';')
      const type = semicolon < 0 ? 'rfc822' : recipient.originalRecipient.slice(0, semicolon)
      const address = recipient.originalRecipient.slice(semicolon + 1)
      // RFC 3464 §2.3.1: the ORCPT as the sender gave it, type and all.
      const value = typedAddress(type, address, global, '')
      if (value !== null) lines.push(field('Original-Recipient', value))
    }
    const finalRecipient = typedAddress('rfc822', recipient.address, global, ' ')
    lines.push(field('Final-Recipient', finalRecipient ?? 'rfc822; unknown'))
    lines.push(`Action: ${recipient.action}`, `Status: ${statusOf(recipient)}`)
    const remoteMta = cleanText(recipient.remoteMta ?? '', false)
    if (remoteMta !== '') lines.push(field('Remote-MTA', `dns; ${remoteMta}`))
    const diagnostic = cleanText(recipient.diagnostic ?? '', global)
    if (diagnostic !== '') {
      lines.push(field('Diagnostic-Code', `${recipient.diagnosticType ?? 'smtp'}; ${diagnostic}`))
    }
    if (recipient.lastAttemptAt) {
      lines.push(`Last-Attempt-Date: ${formatDate(recipient.lastAttemptAt)}`)
    }
    // RFC 3464 §2.3.9: only for a "delayed" recipient.
    if (recipient.action === 'delayed' && recipient.willRetryUntil) {
      lines.push(`Will-Retry-Until: ${formatDate(recipient.willRetryUntil)}`)
    }
    blocks.push(lines.join('\r\n'))
  }
  // RFC 3464 §2.1: the groups of fields are separated by blank lines.
  const body = Buffer.from(`${blocks.join('\r\n\r\n')}\r\n`, 'utf8')
  return {
    fields: [
      `Content-Type: ${global ? 'message/global-delivery-status' : 'message/delivery-status'}`,
      'Content-Description: Delivery report',
    ],
    body,
    encoding: isSevenBit(body) ? '7bit' : '8bit',
  }
}

/** RFC 3463 §2: class "." subject "." detail; a malformed one falls back to its class's default. */
function statusOf(recipient: DsnRecipient): string {
  if (/^[245]\.\d{1,3}\.\d{1,3}$/.test(recipient.status)) return recipient.status
  if (recipient.action === 'failed') return '5.0.0'
  return recipient.action === 'delayed' ? '4.0.0' : '2.0.0'
}

/**
 * "type; address" for Original-Recipient and Final-Recipient (RFC 3464 §2.3.1, §2.3.2), or null
 * when nothing of the address is left. A non-ASCII address has RFC 6533 §3's utf-8 type: as it
 * is in a global report, as utf-8-addr-xtext in an ASCII one.
 */
function typedAddress(
  type: string,
  address: string,
  global: boolean,
  separator: string,
): string | null {
  const clean = cleanText(address, true)
  if (clean === '') return null
  const cleanType = /^[A-Za-z0-9-]+$/.test(type.trim()) ? type.trim() : 'rfc822'
  const isUtf8Type = cleanType.toLowerCase() === 'utf-8'
  if (!isUtf8Type && /^[\x20-\x7e]*$/.test(clean)) return `${cleanType};${separator}${clean}`
  return `utf-8;${separator}${global ? clean : utf8AddrXtext(clean)}`
}

/**
 * RFC 6533 §3: utf-8-addr-xtext = 1*(QCHAR / EmbeddedUnicodeChar); QCHAR is printable ASCII
 * but "+", "=" and "\"; everything else is "\x{HEXPOINT}", upper-case, at least two digits.
 */
function utf8AddrXtext(address: string): string {
  let out = ''
  for (const char of address) {
    const codePoint = char.codePointAt(0) ?? 0
    const isQchar = codePoint >= 0x21 && codePoint <= 0x7e && !'+=\\'.includes(char)
    out += isQchar ? char : `\\x{${codePoint.toString(16).toUpperCase().padStart(2, '0')}}`
  }
  return out
}

/**
 * Part 3 (RFC 6522 §3): the original whole, as message/rfc822 (RFC 2046 §5.2.1: never encoded,
 * so embedded as it is), or its header as text/rfc822-headers; for SMTPUTF8 mail message/global
 * (RFC 6532 §3.7) and message/global-headers (RFC 6533 §6).
 */
function returnedPart(input: DsnInput): { part: Part; isWhole: boolean } {
  const { original, ret, kind, smtputf8 } = input
  // RFC 3461 §4.3: without RET the choice is the MTA's.
  const isWhole =
    ret === 'full' || (ret === null && kind === 'failure' && original.length <= FULL_RETURN_LIMIT)
  let type: string
  if (isWhole) type = smtputf8 ? 'message/global' : 'message/rfc822'
  else type = smtputf8 ? 'message/global-headers' : 'text/rfc822-headers'
  const body = isWhole ? original : headerOf(original)
  const description = isWhole ? 'Returned message' : 'Returned message header'
  return {
    part: {
      fields: [`Content-Type: ${type}`, `Content-Description: ${description}`],
      body,
      encoding: isSevenBit(body) ? '7bit' : '8bit',
    },
    isWhole,
  }
}

/** The header block of a message, without the blank line that ends it. */
function headerOf(message: Buffer): Buffer {
  // No fields are needed, only where the block ends; the limits of 0 keep the split cheap.
  let end = splitHeaderFields(message, 0, message.length, 0, 0).bodyStart
  if (end > 0 && message[end - 1] === 0x0a) {
    let blank = end - 1
    if (blank > 0 && message[blank - 1] === 0x0d) blank -= 1
    // The last line is empty only when a line end (or nothing) comes before it.
    if (blank === 0 || message[blank - 1] === 0x0a) end = blank
  }
  return message.subarray(0, end)
}

/**
 * One field, folded at spaces to 78 octets where the words allow (RFC 5322 §2.2.3): unfolding
 * gives back the value. A word too long for a line of 998 is cut, and gains a space there.
 */
function field(name: string, value: string): string {
  return fill(`${name}:`, value, ' ').join('\r\n')
}

/**
 * Lines of at most 78 octets, the first starting with `lead`, the others with `indent`; a word
 * that does not fit gets a line of its own, of at most 998 octets.
 */
function fill(lead: string, text: string, indent: string): string[] {
  const lines: string[] = []
  let line = lead
  let hasWord = false
  for (const word of words(text)) {
    const joined = line === '' ? word : `${line} ${word}`
    const octets = Buffer.byteLength(joined, 'utf8')
    if (octets <= FOLD_WIDTH || (!hasWord && octets <= MAX_LINE_OCTETS)) {
      line = joined
    } else {
      lines.push(line)
      line = `${indent}${word}`
    }
    hasWord = true
  }
  lines.push(line)
  return lines
}

function words(text: string): string[] {
  const out: string[] = []
  for (const word of text.split(' ')) {
    if (word === '') continue
    if (Buffer.byteLength(word, 'utf8') <= MAX_WORD_OCTETS) {
      out.push(word)
      continue
    }
    // Cut between characters, never inside one.
    let piece = ''
    for (const char of word) {
      if (Buffer.byteLength(piece + char, 'utf8') > MAX_WORD_OCTETS) {
        out.push(piece)
        piece = ''
      }
      piece += char
    }
    if (piece !== '') out.push(piece)
  }
  return out
}

/**
 * Text from outside (a remote reply, the envelope) made safe for one field or line: every run
 * of control characters, CR and LF among them, becomes one space, as do the Unicode line
 * separators; without UTF-8, anything outside printable ASCII becomes "?".
 */
function cleanText(text: string, allowUtf8: boolean): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  let clean = text.toWellFormed().replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
  if (!allowUtf8) clean = clean.replace(/[^\x20-\x7e]/gu, '?')
  return clean.replace(/ {2,}/g, ' ').trim()
}

function isSevenBit(bytes: Buffer): boolean {
  for (const octet of bytes) if (octet >= 0x80 || octet === 0) return false
  return true
}
