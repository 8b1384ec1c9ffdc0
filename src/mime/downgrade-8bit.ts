/**
 * 8-bit to 7-bit conversion for a next hop without 8BITMIME.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6152#section-3
 */
import { type HeaderField, transferEncodingValue } from './header/fields.ts'
import { type MimePart, parseMessage } from './parse-message.ts'
import { encodeQuotedPrintable, transferEncodingToken } from './transfer-encoding/index.ts'

const LF = 0x0a
const CR = 0x0d

/** Replace bytes[start, end) with `bytes`; an insertion has start === end. */
interface Edit {
  start: number
  end: number
  bytes: Buffer
}

interface DowngradeState {
  bytes: Buffer
  edits: Edit[]
  /** "--boundary" of every multipart around the current part, as the parser matches them. */
  boundaries: Buffer[]
}

/** QP line lengths tried in turn when a soft line break would start a delimiter line. */
const WIDEST_LINE = 76
const NARROWEST_LINE = 60

/**
 * The message made 7-bit, or null when that cannot be done without changing its meaning.
 *
 * RFC 6152 §3: a message with 8-bit content must not go to a server that lacks 8BITMIME; the
 * relay either converts it or bounces it. Converting means, as Postfix does: every leaf part
 * whose body holds 8-bit octets (or NUL, which 7bit data excludes too, RFC 2045 §2.7) is
 * re-encoded as quoted-printable and relabelled; everything else keeps its bytes, multipart
 * delimiters and 7-bit parts included. A message that is already 7-bit comes back as the same
 * Buffer.
 *
 * null when a header block has 8-bit octets (that needs SMTPUTF8, not a transfer encoding), when
 * a multipart's preamble, epilogue or delimiter lines have them (they belong to no part that
 * could be relabelled), when a message/global or other message/* part has them, when a part
 * declared base64, quoted-printable or an unknown encoding has raw 8-bit octets (malformed: no
 * reading of it is safe to re-encode), or when the parser stopped at one of its limits.
 *
 * A root header without MIME-Version gets "MIME-Version: 1.0", or readers would not decode the
 * new Content-Transfer-Encoding (RFC 2045 §4).
 */
export function downgrade8bit(message: Buffer): Buffer | null {
  if (!hasUnsafeOctet(message, 0, message.length)) return message
  const parsed = parseMessage(message)
  // Whatever the parser did not descend into could hide 8-bit octets in a header or a preamble.
  if (parsed.isTruncated) return null
  const state: DowngradeState = { bytes: message, edits: [], boundaries: [] }
  const { root } = parsed
  if (!root.header.fields.some((field) => field.lowerName === 'mime-version')) {
    insertField(state, root, 'MIME-Version: 1.0')
  }
  if (!downgradePart(state, root)) return null
  const result = applyEdits(message, state.edits)
  // A last guard: the result goes to a 7-bit peer, so nothing 8-bit may slip through.
  return hasUnsafeOctet(result, 0, result.length) ? null : result
}

/** Octets 7bit data may not hold: 8-bit ones and NUL (RFC 2045 §2.7). */
function hasUnsafeOctet(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i += 1) {
    const octet = bytes[i] ?? 0
    if (octet >= 0x80 || octet === 0) return true
  }
  return false
}

/** Records the edits that make one part 7-bit; false when it cannot be done. */
function downgradePart(state: DowngradeState, part: MimePart): boolean {
  const { bytes } = state
  // RFC 6532 §3.2: 8-bit header text is UTF-8 header text, which only SMTPUTF8 can carry.
  if (hasUnsafeOctet(bytes, part.headerStart, part.bodyStart)) return false
  if (!hasUnsafeOctet(bytes, part.bodyStart, part.bodyEnd)) return true
  const encoding = transferEncodingToken(transferEncodingValue(bytes, part.header.fields))
  const mechanism = encoding.toLowerCase()
  // RFC 2045 §6.2: only the identity encodings may carry raw 8-bit octets.
  if (mechanism !== '' && mechanism !== '7bit' && mechanism !== '8bit' && mechanism !== 'binary') {
    return false
  }
  const { type, subtype } = part.contentType
  if (type === 'multipart') return downgradeMultipart(state, part, mechanism)
  if (type === 'message') {
    // RFC 2046 §5.2.1: message/rfc822 itself may only be 7bit, 8bit or binary, so its inner
    // parts are converted instead. message/global (RFC 6532 §3.7) carries UTF-8 header fields,
    // and the other message/* types may not be encoded at all (RFC 2045 §6.4).
    if (subtype !== 'rfc822' || part.message === null) return false
    if (!downgradePart(state, part.message)) return false
    relabelComposite(state, part, mechanism)
    return true
  }
  return reencodeLeaf(state, part)
}

function downgradeMultipart(state: DowngradeState, part: MimePart, mechanism: string): boolean {
  const { bytes } = state
  const boundary = part.contentType.params.get('boundary')
  if (boundary === undefined || part.children.length === 0) return false
  // The same octets the parser compares lines with.
  state.boundaries.push(Buffer.from(`--${boundary}`, 'latin1'))
  let position = part.bodyStart
  for (const child of part.children) {
    // RFC 2046 §5.1.1: the preamble and the delimiter lines belong to no part, so no
    // Content-Transfer-Encoding could describe an encoding of them.
    if (hasUnsafeOctet(bytes, position, child.headerStart)) return false
    if (!downgradePart(state, child)) return false
    position = child.bodyEnd
  }
  // The close delimiter and the epilogue.
  if (hasUnsafeOctet(bytes, position, part.bodyEnd)) return false
  state.boundaries.pop()
  relabelComposite(state, part, mechanism)
  return true
}

/** A composite that said 8bit or binary now holds 7-bit data only, and says so. */
function relabelComposite(state: DowngradeState, part: MimePart, mechanism: string): void {
  if (mechanism === '8bit' || mechanism === 'binary') setTransferEncoding(state, part, '7bit')
}

function reencodeLeaf(state: DowngradeState, part: MimePart): boolean {
  const raw = state.bytes.subarray(part.bodyStart, part.bodyEnd)
  const encoded = encodeAvoidingDelimiters(raw, state.boundaries)
  if (encoded === null) return false
  setTransferEncoding(state, part, 'quoted-printable')
  state.edits.push({ start: part.bodyStart, end: part.bodyEnd, bytes: encoded })
  return true
}

/**
 * The body as quoted-printable. CRLF stays a hard line break (RFC 2045 §6.7 rule 4), so no line
 * of the raw body moves to a line start; but a soft line break can put the middle of a long
 * line there, and a line that starts with "--boundary" of an enclosing multipart would end
 * the part early (RFC 2046 §5.1.1). Then a narrower line length moves the break.
 */
function encodeAvoidingDelimiters(raw: Buffer, boundaries: readonly Buffer[]): Buffer | null {
  for (let width = WIDEST_LINE; width >= NARROWEST_LINE; width -= 1) {
    const encoded = Buffer.from(encodeQuotedPrintable(raw, width), 'latin1')
    if (!boundaries.some((boundary) => startsALine(encoded, boundary))) return encoded
  }
  return null
}

function startsALine(bytes: Buffer, prefix: Buffer): boolean {
  let at = bytes.indexOf(prefix)
  while (at >= 0) {
    if (at === 0 || bytes[at - 1] === LF) return true
    at = bytes.indexOf(prefix, at + 1)
  }
  return false
}

/**
 * Replaces every Content-Transfer-Encoding field of the part with one that names `mechanism`
 * (the first keeps its place; a duplicate would leave readers to guess), or adds one.
 */
function setTransferEncoding(state: DowngradeState, part: MimePart, mechanism: string): void {
  const fields = part.header.fields.filter(
    (field) => field.lowerName === 'content-transfer-encoding',
  )
  if (fields.length === 0) {
    insertField(state, part, `Content-Transfer-Encoding: ${mechanism}`)
    return
  }
  fields.forEach((field, index) => {
    const replacement =
      index === 0
        ? Buffer.from(`Content-Transfer-Encoding: ${mechanism}${lineEndOf(state.bytes, field)}`)
        : Buffer.alloc(0)
    state.edits.push({ start: field.start, end: field.end, bytes: replacement })
  })
}

/** The line end a field was written with, so the header keeps one style. */
function lineEndOf(bytes: Buffer, field: HeaderField): string {
  if (bytes[field.end - 1] !== LF) return '\r\n'
  return field.end - 2 >= field.start && bytes[field.end - 2] === CR ? '\r\n' : '\n'
}

/**
 * Adds a field at the end of the part's header, before its blank line. Only called for a part
 * with a body, so the header has that blank line (without one, the header runs to the end).
 */
function insertField(state: DowngradeState, part: MimePart, field: string): void {
  const { bytes } = state
  const end = part.bodyStart
  const isCrlf = end - 2 >= part.headerStart && bytes[end - 2] === CR && bytes[end - 1] === LF
  const lineEnd = isCrlf ? '\r\n' : '\n'
  const at = Math.max(part.headerStart, end - lineEnd.length)
  state.edits.push({ start: at, end: at, bytes: Buffer.from(`${field}${lineEnd}`) })
}

function applyEdits(bytes: Buffer, edits: Edit[]): Buffer {
  // A stable sort keeps insertions at one offset in the order they were made.
  const sorted = [...edits].sort((a, b) => a.start - b.start)
  const chunks: Buffer[] = []
  let position = 0
  for (const edit of sorted) {
    chunks.push(bytes.subarray(position, edit.start), edit.bytes)
    position = edit.end
  }
  chunks.push(bytes.subarray(position))
  return Buffer.concat(chunks)
}
