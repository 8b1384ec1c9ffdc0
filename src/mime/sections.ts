import { transferEncodingValue } from './header/fields.ts'
import type { MimePart, ParsedMessage } from './parse-message.ts'
import { decodeTransferEncoding, transferEncodingToken } from './transfer-encoding/index.ts'

/** The part of a section after its part number (RFC 9051 §6.4.5 section-text). */
export type SectionText =
  | { kind: 'all' }
  | { kind: 'header' }
  | { kind: 'text' }
  | { kind: 'mime' }
  | { kind: 'header-fields'; names: readonly string[]; isNot: boolean }

/**
 * The part an IMAP part number names (RFC 9051 §6.4.5). A message that is not multipart has one
 * part, 1, its body. The parts of a multipart are numbered from 1. A message/rfc822 part's
 * subparts are the parts of the message inside it: if that message is not multipart, its part
 * 1 is its body. [] names the message itself.
 */
export function findPart(message: ParsedMessage, path: readonly number[]): MimePart | null {
  let part: MimePart | null = message.root
  let isMessage = true
  for (const number of path) {
    if (part === null || number < 1) return null
    // The parts numbered under this one: a multipart's children; a message's parts (the top
    // level, or the message inside a message/rfc822 part), which are its children if it is a
    // multipart and else its body alone, as part 1.
    const container: MimePart | null = isMessage || isMultipart(part) ? part : part.message
    if (container === null) return null
    if (isMultipart(container)) {
      // A multipart without parts is described with one empty text part (see imap/proto), which
      // must then be fetchable: an empty part at the end of the multipart's body.
      part =
        container.children.length === 0 && number === 1
          ? emptyPartAt(container.bodyEnd)
          : (container.children[number - 1] ?? null)
    } else {
      part = number === 1 ? container : null
    }
    isMessage = false
  }
  return part
}

function emptyPartAt(offset: number): MimePart {
  return {
    headerStart: offset,
    bodyStart: offset,
    bodyEnd: offset,
    header: { fields: [], bodyStart: offset, isTruncated: false },
    contentType: {
      type: 'text',
      subtype: 'plain',
      params: new Map([['charset', 'us-ascii']]),
      rawParams: [],
    },
    hasContentType: false,
    children: [],
    message: null,
  }
}

function isMultipart(part: MimePart): boolean {
  return part.children.length > 0 || part.contentType.type === 'multipart'
}

/**
 * The octets of one BODY[...] section, sliced from the original message. Null when the section
 * does not exist (a part number past the end; HEADER or TEXT of a part that is not a message).
 */
export function sectionBytes(
  message: ParsedMessage,
  path: readonly number[],
  text: SectionText,
): Buffer | null {
  const { bytes } = message
  const part = findPart(message, path)
  if (part === null) return null
  if (text.kind === 'all') {
    return path.length === 0 ? bytes : bytes.subarray(part.bodyStart, part.bodyEnd)
  }
  if (text.kind === 'mime') {
    if (path.length === 0) return null // RFC 9051 §6.4.5: MIME needs a part number
    return bytes.subarray(part.headerStart, part.bodyStart)
  }
  // HEADER, HEADER.FIELDS and TEXT apply to a message: the top level, or a message/rfc822 part.
  const target = path.length === 0 ? part : part.message
  if (target === null) return null
  if (text.kind === 'text') return bytes.subarray(target.bodyStart, target.bodyEnd)
  if (text.kind === 'header') return bytes.subarray(target.headerStart, target.bodyStart)
  const wanted = new Set(text.names.map((name) => name.toLowerCase()))
  const chosen: Buffer[] = []
  for (const field of target.header.fields) {
    if (wanted.has(field.lowerName) !== text.isNot) {
      chosen.push(bytes.subarray(field.start, field.end))
      const last = bytes[field.end - 1]
      if (last !== 0x0a) chosen.push(CRLF)
    }
  }
  // The subset is followed by the blank line that ends a header (RFC 9051 §6.4.5).
  chosen.push(CRLF)
  return Buffer.concat(chosen)
}

const CRLF = Buffer.from('\r\n')

export type BinaryResult =
  | { ok: true; content: Buffer }
  | { ok: false; reason: 'no-such-part' | 'unknown-cte' }

/** Transfer encodings RFC 3516 asks a server to undo; others are reported as UNKNOWN-CTE. */
const KNOWN_ENCODINGS = new Set(['7bit', '8bit', 'binary', 'base64', 'quoted-printable'])

/**
 * BINARY[path]: the part's body with its Content-Transfer-Encoding undone (RFC 3516 §4.2). A
 * multipart (or message) part's encoding is 7bit, 8bit or binary (RFC 2045 §6.4), so its body
 * comes as it is, as Dovecot sends it.
 */
export function binarySection(message: ParsedMessage, path: readonly number[]): BinaryResult {
  const part = findPart(message, path)
  if (part === null) return { ok: false, reason: 'no-such-part' }
  // BINARY[] is the whole message: a message as such has no transfer encoding to undo.
  if (path.length === 0) return { ok: true, content: message.bytes }
  const { bytes } = message
  if (part.contentType.type === 'multipart') {
    return { ok: true, content: bytes.subarray(part.bodyStart, part.bodyEnd) }
  }
  const written = transferEncodingValue(bytes, part.header.fields)
  const encoding = transferEncodingToken(written).toLowerCase() || '7bit'
  if (!KNOWN_ENCODINGS.has(encoding)) return { ok: false, reason: 'unknown-cte' }
  const body = bytes.subarray(part.bodyStart, part.bodyEnd)
  return { ok: true, content: decodeTransferEncoding(body, encoding) }
}
