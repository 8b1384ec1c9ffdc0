// The message `postern sendmail` reads on standard input, made ready for submission: line ends
// made CRLF (RFC 5321 §2.3.8), the end-of-input dot honoured unless -i, recipients read from the
// header with -t (Bcc removed), and Date, Message-ID and From added when missing (RFC 5322
// §3.6: Date and From are required; RFC 6409 §8 lets a submission agent add them). Nothing
// after the header is changed but its line ends.
import {
  addressOf,
  encodePhrase,
  formatAddress,
  formatDate,
  generateMessageId,
  type HeaderField,
  parseAddressList,
  splitHeaderFields,
  toAsciiDomain,
  unfoldedFieldValue,
} from '../../mime/index.ts'

/** Header fields read at most (the submission server enforces its own bound after us). */
const MAX_HEADER_FIELDS = 10_000
const MAX_HEADER_OCTETS = 4 * 1024 * 1024

export class MessageInputError extends Error {}

export interface PrepareOptions {
  /** The envelope sender ('' for <>); also the From added to a message without one. */
  sender: string
  fullName: string | null
  /** -t: take the recipients from the header. */
  isFromHeaders: boolean
  /** The domain for addresses without one (sendmail qualifies "root" the same way). */
  qualifyDomain: string
  /** The domain in a Message-ID added here. */
  messageIdDomain: string
  now?: Date
}

export interface PreparedMessage {
  /** CRLF line ends throughout. */
  message: Buffer
  /** From the header with -t, qualified and without duplicates. */
  headerRecipients: string[]
  /** Field names added, for -v. */
  added: string[]
}

/**
 * The message as read: up to a line holding a single "." unless `isDotText` (sendmail's -i),
 * which is how sendmail has always read its input.
 */
export function cutAtDotLine(input: Buffer, isDotText: boolean): Buffer {
  if (isDotText) return input
  let lineStart = 0
  while (lineStart < input.length) {
    const lf = input.indexOf(0x0a, lineStart)
    const lineEnd = lf < 0 ? input.length : lf
    const contentEnd = lineEnd > lineStart && input[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd
    if (contentEnd - lineStart === 1 && input[lineStart] === 0x2e) {
      return input.subarray(0, lineStart)
    }
    if (lf < 0) break
    lineStart = lf + 1
  }
  return input
}

/** Every bare LF becomes CRLF; CRLF stays; the last line gets a line end if it had none. */
export function toCrlf(input: Buffer): Buffer {
  const parts: Buffer[] = []
  let from = 0
  for (let lf = input.indexOf(0x0a); lf >= 0; lf = input.indexOf(0x0a, lf + 1)) {
    if (lf > 0 && input[lf - 1] === 0x0d) continue
    parts.push(input.subarray(from, lf), CRLF)
    from = lf + 1
  }
  parts.push(input.subarray(from))
  const joined = Buffer.concat(parts)
  if (joined.length > 0 && joined[joined.length - 1] !== 0x0a) {
    return Buffer.concat([joined, CRLF])
  }
  return joined
}

const CRLF = Buffer.from('\r\n')

/** Makes the message ready for submission (see the file comment). */
export function prepareMessage(input: Buffer, options: PrepareOptions): PreparedMessage {
  const bytes = toCrlf(input)
  const hasHeader = startsWithField(bytes)
  const block = hasHeader
    ? splitHeaderFields(bytes, 0, bytes.length, MAX_HEADER_FIELDS, MAX_HEADER_OCTETS)
    : { fields: [] as HeaderField[], bodyStart: 0, isTruncated: false }
  if (block.isTruncated) {
    throw new MessageInputError(
      `the message header has more than ${MAX_HEADER_FIELDS} fields or ${MAX_HEADER_OCTETS} octets`,
    )
  }
  const { fields } = block
  const has = (name: string) => fields.some((field) => field.lowerName === name)
  const headerRecipients = options.isFromHeaders
    ? recipientsOf(bytes, fields, options.qualifyDomain)
    : []

  // RFC 5322 §3.6.3: Bcc is for the envelope only. With -t it is read above and removed; without
  // -t sendmail leaves the header alone, and so do we (the caller chose the envelope).
  const removed = options.isFromHeaders
    ? fields.filter((field) => field.lowerName === 'bcc' || field.lowerName === 'resent-bcc')
    : []
  const added: string[] = []
  const newFields: string[] = []
  if (!has('from')) {
    const address = options.sender === '' ? 'MAILER-DAEMON' : options.sender
    const from = formatAddress({ name: options.fullName ?? undefined, address }, encodePhrase)
    newFields.push(`From: ${from}`)
    added.push('From')
  }
  if (!has('date')) {
    const now = options.now ?? new Date()
    newFields.push(`Date: ${formatDate(now, -now.getTimezoneOffset())}`)
    added.push('Date')
  }
  if (!has('message-id')) {
    newFields.push(`Message-ID: ${generateMessageId(options.messageIdDomain)}`)
    added.push('Message-ID')
  }

  // The header as it was, without the removed fields, then the new ones, then the body.
  const headerEnd = hasHeader ? headerContentEnd(bytes, block.bodyStart) : 0
  const parts: Buffer[] = []
  let from = 0
  for (const field of removed) {
    parts.push(bytes.subarray(from, field.start))
    from = field.end
  }
  parts.push(bytes.subarray(from, headerEnd))
  for (const line of newFields) parts.push(Buffer.from(`${line}\r\n`, 'utf8'))
  if (hasHeader && block.bodyStart > headerEnd) {
    parts.push(bytes.subarray(headerEnd)) // the blank line and the body
  } else {
    // No blank line in the input (no header, or a header alone): one separates the header.
    parts.push(CRLF, bytes.subarray(headerEnd))
  }
  return { message: Buffer.concat(parts), headerRecipients, added }
}

/** Whether the first line is a header field ("name:" with a printable name, RFC 5322 §2.2). */
function startsWithField(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i += 1) {
    const octet = bytes[i] ?? 0
    if (octet === 0x3a) return i > 0
    // ftext is %d33-57 / %d59-126; obsolete syntax allows WSP before the colon.
    if (octet < 33 || octet > 126) {
      return i > 0 && (octet === 0x20 || octet === 0x09) && /^[ \t]*:/.test(text(bytes, i))
    }
  }
  return false
}

function text(bytes: Buffer, from: number): string {
  return bytes.subarray(from, Math.min(bytes.length, from + 64)).toString('latin1')
}

/** Where the header's fields end: before the blank line, or the end of the bytes. */
function headerContentEnd(bytes: Buffer, bodyStart: number): number {
  if (bodyStart >= 2 && bytes[bodyStart - 1] === 0x0a && bytes[bodyStart - 2] === 0x0d) {
    // bodyStart is after the blank line's CRLF when there is one; check that it was blank.
    const blankStart = bodyStart - 2
    if (blankStart === 0 || bytes[blankStart - 1] === 0x0a) return blankStart
  }
  return bodyStart
}

/**
 * To, Cc and Bcc, or only the Resent- ones when the message has any (a message re-sent with
 * -t goes to its Resent- recipients, RFC 5322 §3.6.6).
 */
function recipientsOf(bytes: Buffer, fields: HeaderField[], qualifyDomain: string): string[] {
  const resent = ['resent-to', 'resent-cc', 'resent-bcc']
  const names = fields.some((field) => resent.includes(field.lowerName))
    ? resent
    : ['to', 'cc', 'bcc']
  const recipients: string[] = []
  for (const field of fields) {
    if (!names.includes(field.lowerName)) continue
    const value = Buffer.from(unfoldedFieldValue(bytes, field), 'latin1').toString('utf8')
    for (const entry of parseAddressList(value)) {
      const mailboxes = entry.kind === 'group' ? entry.members : [entry]
      for (const mailbox of mailboxes) {
        const address = qualify(addressOf(mailbox), qualifyDomain)
        if (address !== '' && !recipients.includes(address)) recipients.push(address)
      }
    }
  }
  return recipients
}

/**
 * Recipients named on the command line, each of which may be a comma-separated list, as
 * sendmail takes them; an address without a domain gets `qualifyDomain`.
 */
export function parseRecipientArgs(args: readonly string[], qualifyDomain: string): string[] {
  const recipients: string[] = []
  for (const arg of args) {
    for (const entry of parseAddressList(arg)) {
      const mailboxes = entry.kind === 'group' ? entry.members : [entry]
      for (const mailbox of mailboxes) {
        // The address parser is lenient ("a@" reads as a local part): refuse what it guessed.
        const isGuess = mailbox.mailbox === '' || (mailbox.host === null && arg.includes('@'))
        const address = qualify(addressOf(mailbox), qualifyDomain)
        if (isGuess || !isMailbox(address)) {
          throw new MessageInputError(`"${arg}" is not an address: ${address}`)
        }
        if (!recipients.includes(address)) recipients.push(address)
      }
    }
  }
  return recipients
}

function qualify(address: string, domain: string): string {
  if (address === '' || address.includes('@')) return address
  return `${address}@${domain}`
}

/** local@domain with a usable domain and nothing that could break an SMTP path. */
export function isMailbox(address: string): boolean {
  const at = address.lastIndexOf('@')
  if (at <= 0 || at === address.length - 1) return false
  if (address.indexOf('@') !== at) return false
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
  if (/[\u0000-\u0020\u007f<>]/.test(address)) return false
  return toAsciiDomain(address.slice(at + 1)) !== null
}
