import { randomBytes } from 'node:crypto'
import { type AddressInput, formatAddressList } from './address.ts'
import { formatDate } from './date.ts'
import { encodeHeaderText, encodePhrase, formatParameterizedValue } from './header/index.ts'
import { generateMessageId } from './message-id.ts'
import { encodeBase64, encodeQuotedPrintable } from './transfer-encoding/index.ts'

/** A single part: text (a string, sent as UTF-8) or bytes. */
export interface LeafPartInput {
  /** "text/plain", "image/png", "message/delivery-status"… */
  contentType: string
  content: string | Uint8Array
  /** Extra Content-Type parameters (charset is set for strings). */
  params?: Record<string, string>
  disposition?: 'inline' | 'attachment'
  filename?: string
  contentId?: string
  description?: string
  /** Default "auto": the lightest encoding that keeps the part 7-bit-safe with lines ≤ 998. */
  encoding?: 'auto' | '7bit' | '8bit' | 'base64' | 'quoted-printable'
}

export interface MultipartInput {
  /** "mixed", "alternative", "related", "report"… */
  multipart: string
  params?: Record<string, string>
  parts: Array<LeafPartInput | MultipartInput>
}

export interface MessageInput {
  from: AddressInput
  to?: AddressInput[]
  cc?: AddressInput[]
  bcc?: AddressInput[]
  replyTo?: AddressInput[]
  sender?: AddressInput
  subject?: string
  /** Default: now. */
  date?: Date
  /** A full "<id@domain>"; default: a random one in the From domain. */
  messageId?: string
  inReplyTo?: string
  references?: string[]
  /** More fields, name and unencoded value, added after the standard ones. */
  headers?: Array<[string, string]>
  body: LeafPartInput | MultipartInput
}

/**
 * Composes an RFC 5322 message with MIME (RFC 2045 §4 MIME-Version, RFC 2046 multiparts):
 * header values are encoded (RFC 2047) and folded to 78 columns, parameters RFC 2231-encoded
 * where needed, bodies given the lightest safe transfer encoding, CRLF line ends throughout.
 * Used for bounces, the sending client and tests.
 */
export function buildMessage(input: MessageInput): Buffer {
  const lines: string[] = []
  const add = (name: string, value: string) => {
    // Values that come from received mail (a bounce copies ids) must not smuggle in fields.
    if (!FIELD_NAME.test(name)) throw new TypeError(`Cannot build a field named "${name}"`)
    if (/[\r\n]/.test(value.replace(/\r\n[ \t]/g, ''))) {
      throw new TypeError(`Cannot build the ${name} field, its value has a line break`)
    }
    lines.push(`${name}: ${value}`)
  }
  const addresses = (list: AddressInput[]) => foldAddresses(list)
  add('Date', formatDate(input.date ?? new Date()))
  add('From', addresses([input.from]))
  if (input.sender) add('Sender', addresses([input.sender]))
  if (input.replyTo?.length) add('Reply-To', addresses(input.replyTo))
  if (input.to?.length) add('To', addresses(input.to))
  if (input.cc?.length) add('Cc', addresses(input.cc))
  if (input.bcc?.length) add('Bcc', addresses(input.bcc))
  add('Message-ID', input.messageId ?? messageIdFor(input.from.address))
  if (input.inReplyTo) add('In-Reply-To', input.inReplyTo)
  if (input.references?.length) add('References', input.references.join('\r\n '))
  if (input.subject !== undefined)
    add('Subject', encodeHeaderText(input.subject, 'Subject: '.length))
  for (const [name, value] of input.headers ?? [])
    add(name, encodeHeaderText(value, name.length + 2))
  add('MIME-Version', '1.0')
  const body = buildEntity(input.body)
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8'), body])
}

/** A new Message-ID in the sender's domain, or in "localhost" when that domain is unusable. */
function messageIdFor(address: string): string {
  const at = address.lastIndexOf('@')
  if (at < 0) return generateMessageId('localhost')
  try {
    return generateMessageId(address.slice(at + 1))
  } catch {
    return generateMessageId('localhost')
  }
}

function foldAddresses(list: AddressInput[]): string {
  return formatAddressList(list, encodePhrase)
}

/** One MIME entity: its MIME header fields, the blank line, and its body. */
function buildEntity(entity: LeafPartInput | MultipartInput): Buffer {
  if ('multipart' in entity) {
    const boundary = `=_postern_${randomBytes(12).toString('base64url')}`
    const header = `Content-Type: ${formatParameterizedValue(`multipart/${entity.multipart}`, { ...entity.params, boundary }, CONTENT_TYPE_USED)}\r\n\r\n`
    const chunks: Buffer[] = [Buffer.from(header)]
    for (const part of entity.parts) {
      chunks.push(Buffer.from(`--${boundary}\r\n`), buildEntity(part), Buffer.from('\r\n'))
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`))
    return Buffer.concat(chunks)
  }
  const isText = typeof entity.content === 'string'
  // Text travels with CRLF line ends (RFC 5322 §2.3, RFC 2046 §4.1.1), whatever the caller wrote.
  const content = isText
    ? Buffer.from((entity.content as string).replace(/\r?\n|\r/g, '\r\n'), 'utf8')
    : Buffer.from(entity.content as Uint8Array)
  const params: Record<string, string> = { ...entity.params }
  if (isText && entity.contentType.startsWith('text/') && params.charset === undefined) {
    params.charset = isAscii(content) ? 'us-ascii' : 'utf-8'
  }
  const encoding = chooseEncoding(entity, content)
  if (/[\r\n]/.test(`${entity.contentType}${entity.contentId ?? ''}`)) {
    throw new TypeError('Cannot build a part whose Content-Type or Content-ID has a line break')
  }
  const fields = [
    `Content-Type: ${formatParameterizedValue(entity.contentType, params, CONTENT_TYPE_USED)}`,
  ]
  fields.push(`Content-Transfer-Encoding: ${encoding}`)
  if (entity.contentId) fields.push(`Content-ID: <${entity.contentId.replace(/^<|>$/g, '')}>`)
  if (entity.description)
    fields.push(`Content-Description: ${encodeHeaderText(entity.description, 21)}`)
  if (entity.disposition || entity.filename) {
    const dispositionParams: Record<string, string> = entity.filename
      ? { filename: entity.filename }
      : {}
    fields.push(
      `Content-Disposition: ${formatParameterizedValue(entity.disposition ?? 'attachment', dispositionParams, 'Content-Disposition: '.length)}`,
    )
  }
  let body: string
  if (encoding === 'base64') body = encodeBase64(content)
  else if (encoding === 'quoted-printable') body = encodeQuotedPrintable(content)
  else body = content.toString('latin1').replace(/\r?\n/g, '\r\n')
  if (!body.endsWith('\r\n')) body += '\r\n'
  return Buffer.concat([Buffer.from(`${fields.join('\r\n')}\r\n\r\n`), Buffer.from(body, 'latin1')])
}

const CONTENT_TYPE_USED = 'Content-Type: '.length

// field-name = 1*ftext; ftext = %d33-57 / %d59-126   (RFC 5322 §3.6.8)
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/

function chooseEncoding(entity: LeafPartInput, content: Buffer): string {
  if (entity.encoding && entity.encoding !== 'auto') return entity.encoding
  // message/* parts may not be encoded (RFC 2046 §5.2.1); they are sent as they are.
  if (entity.contentType.startsWith('message/')) return isAscii(content) ? '7bit' : '8bit'
  const isTextual = typeof entity.content === 'string'
  if (!isTextual) return 'base64'
  if (isAscii(content) && !hasLongLine(content)) return '7bit'
  // Mostly-ASCII text reads better as quoted-printable; other scripts are smaller in base64.
  let eightBit = 0
  for (const byte of content) if (byte >= 0x80) eightBit += 1
  return eightBit * 3 < content.length ? 'quoted-printable' : 'base64'
}

function isAscii(content: Uint8Array): boolean {
  for (const byte of content) if (byte >= 0x80 || byte === 0) return false
  return true
}

// RFC 5322 §2.1.1: a line is at most 998 octets before its CRLF.
function hasLongLine(content: Buffer): boolean {
  let lineStart = 0
  for (;;) {
    const lf = content.indexOf(0x0a, lineStart)
    const lineEnd = lf < 0 ? content.length : lf
    if (lineEnd - lineStart > 998) return true
    if (lf < 0) return false
    lineStart = lf + 1
  }
}
