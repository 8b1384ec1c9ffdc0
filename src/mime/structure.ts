import { type Envelope, readEnvelope } from './envelope.ts'
import { firstField, unfoldedFieldValue } from './header/fields.ts'
import { parseContentTypeValue, parseParameterizedValue } from './header/params.ts'
import type { MimePart, ParsedMessage } from './parse-message.ts'
import { transferEncodingToken } from './transfer-encoding/index.ts'

/**
 * What IMAP's BODYSTRUCTURE says about one part (RFC 9051 §7.5.2, RFC 3501 §7.4.2), as neutral
 * data: src/imap/proto turns it into the wire form. Strings that come from header values are
 * binary strings of the raw octets, as in Envelope.
 */
export interface PartStructure {
  /** As written in the Content-Type field (case kept); "multipart" parts are recognised in any case. */
  type: string
  subtype: string
  /** body-fld-param, in the order written. */
  params: Array<[string, string]>
  /** Content-ID, Content-Description, Content-Transfer-Encoding (default "7bit"). */
  id: string | null
  description: string | null
  encoding: string
  /** body-fld-octets: the size of the body in octets, as stored (not decoded). */
  size: number
  /** body-fld-lines, for text/* and message/rfc822 parts; null for the others. */
  lines: number | null
  /** Extension data (BODYSTRUCTURE, not BODY). */
  md5: string | null
  disposition: { type: string; params: Array<[string, string]> } | null
  language: string[] | null
  location: string | null
  /** The parts of a multipart, in order. */
  parts: PartStructure[]
  /** The encapsulated message of a message/rfc822 part. */
  message: { envelope: Envelope; body: PartStructure } | null
}

/** The BODYSTRUCTURE data of a whole message. */
export function bodyStructure(message: ParsedMessage): PartStructure {
  return partStructure(message.bytes, message.root)
}

export function partStructure(bytes: Buffer, part: MimePart): PartStructure {
  const fields = part.header.fields
  const value = (name: string): string | null => {
    const field = firstField(fields, name)
    return field ? unfoldedFieldValue(bytes, field) : null
  }
  let { type, subtype } = part.contentType
  if (part.hasContentType) {
    // BODYSTRUCTURE shows the media type with the case it was written in, as Dovecot does.
    const field = firstField(fields, 'content-type')
    const written = field ? parseContentTypeValue(unfoldedFieldValue(bytes, field)) : null
    if (written && written.type !== '' && written.subtype !== '') ({ type, subtype } = written)
  }
  const params = [...part.contentType.rawParams]
  // A text part without a charset is us-ascii (RFC 2045 §5.2); IMAP servers say so explicitly.
  const isText = part.contentType.type === 'text'
  if (isText && !params.some(([name]) => name.toLowerCase() === 'charset')) {
    params.push(['charset', 'us-ascii'])
  }
  const dispositionValue = value('content-disposition')
  let disposition: PartStructure['disposition'] = null
  if (dispositionValue !== null) {
    const parsed = parseParameterizedValue(dispositionValue, 'content-disposition')
    // The type keeps the case it was written in, as the media type does.
    const written = /^[^\s;(]*/.exec(dispositionValue.trimStart())?.[0] ?? ''
    const dispositionType = written.toLowerCase() === parsed.value ? written : parsed.value
    if (parsed.value !== '') disposition = { type: dispositionType, params: parsed.rawParams }
  }
  const languageValue = value('content-language')
  const language =
    languageValue === null
      ? null
      : languageValue
          .replace(/\([^()]*\)/g, '')
          .split(/[\s,]+/)
          .filter((tag) => tag !== '')
  const isMessage = part.contentType.type === 'message' && part.contentType.subtype === 'rfc822'
  // body-type-msg names its type in lower case whatever the header said, as Dovecot writes it.
  if (isMessage) {
    type = 'message'
    subtype = 'rfc822'
  }
  const encapsulated = part.message
  let message: PartStructure['message'] = null
  if (encapsulated !== null) {
    message = {
      envelope: readEnvelope(bytes, encapsulated),
      body: partStructure(bytes, encapsulated),
    }
  } else if (isMessage) {
    // An encoded or too deeply nested message/rfc822 is opaque: IMAP still needs the envelope and
    // body of body-type-msg, so they are empty (RFC 9051 §7.5.2).
    message = { envelope: EMPTY_ENVELOPE, body: EMPTY_TEXT_PART }
  }
  return {
    type,
    subtype,
    params,
    id: value('content-id'),
    description: value('content-description'),
    encoding: transferEncoding(value('content-transfer-encoding')),
    size: part.bodyEnd - part.bodyStart,
    lines: isText || message !== null ? countLines(bytes, part.bodyStart, part.bodyEnd) : null,
    md5: value('content-md5'),
    disposition,
    language: language && language.length > 0 ? language : null,
    location: value('content-location'),
    parts: part.children.map((child) => partStructure(bytes, child)),
    message,
  }
}

/**
 * body-fld-enc: the mechanism token as written (RFC 2045 §6.1), comments and anything after the
 * token dropped; "7bit" when there is none.
 */
function transferEncoding(value: string | null): string {
  return transferEncodingToken(value) || '7bit'
}

const EMPTY_ENVELOPE: Envelope = {
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
}

/** What an empty body is: text/plain in us-ascii, no octets (RFC 2045 §5.2). */
export const EMPTY_TEXT_PART: PartStructure = {
  type: 'text',
  subtype: 'plain',
  params: [['charset', 'us-ascii']],
  id: null,
  description: null,
  encoding: '7bit',
  size: 0,
  lines: 0,
  md5: null,
  disposition: null,
  language: null,
  location: null,
  parts: [],
  message: null,
}

/**
 * body-fld-lines: the line ends in the body. A last line without a line end is not counted, as
 * Dovecot counts, so clients see the same number from either server.
 */
export function countLines(bytes: Uint8Array, start: number, end: number): number {
  let lines = 0
  let position = bytes.indexOf(0x0a, start)
  while (position >= 0 && position < end) {
    lines += 1
    position = bytes.indexOf(0x0a, position + 1)
  }
  return lines
}
