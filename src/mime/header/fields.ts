const LF = 0x0a
const CR = 0x0d
const SP = 0x20
const HTAB = 0x09
const COLON = 0x3a
const HYPHEN = 0x2d

/** One header field, located in the message's bytes. Values are read from the bytes on demand. */
export interface HeaderField {
  /** The field name as written, without trailing whitespace before the colon. */
  name: string
  lowerName: string
  /** Offset of the field's first octet. */
  start: number
  /** Offset after the colon: the value runs from here to `end`, line ends included. */
  valueStart: number
  /** Offset after the field's last line end (its final CRLF or LF belongs to it). */
  end: number
}

export interface HeaderBlock {
  fields: HeaderField[]
  /** Offset after the blank line that ends the block, which is where the body starts. */
  bodyStart: number
  /** True when a bound stopped the split before the end of the block. */
  isTruncated: boolean
}

/**
 * Splits the header block that starts at `start` into fields, and finds where the body starts.
 *
 * field = field-name ":" unstructured CRLF; a line that starts with WSP continues the field above
 * (RFC 5322 §2.2, §2.2.3). The block ends at the first empty line, which belongs to the header
 * (IMAP's BODY[HEADER] includes it, RFC 9051 §6.4.5); without one the block runs to `end`.
 * A line without a colon is not a field (RFC 5322 §3.6.8 obs-optional allows WSP before the
 * colon, kept, but not a missing colon): it stays in the block's bytes and is skipped.
 * Bare LF line ends are accepted throughout. `isStopLine` is asked about each line that starts
 * with "-"; a yes ends the block before that line (a multipart delimiter ends a part's header).
 */
export function splitHeaderFields(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxFields: number,
  maxOctets: number,
  isStopLine?: (lineStart: number) => boolean,
): HeaderBlock {
  const fields: HeaderField[] = []
  let isTruncated = false
  let position = start
  let current: HeaderField | null = null
  const splitLimit = Math.min(end, start + maxOctets)

  while (position < end) {
    let lineEnd = indexOfLf(bytes, position, end)
    const next = lineEnd < 0 ? end : lineEnd + 1
    if (lineEnd < 0) lineEnd = end
    const contentEnd = lineEnd > position && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd
    if (contentEnd === position) {
      // The empty line: the header ends here and the body starts after it.
      if (current) current.end = position
      return { fields, bodyStart: next, isTruncated }
    }
    const first = bytes[position]
    // A line the caller recognises (a multipart delimiter) ends the block where it starts.
    if (first === HYPHEN && isStopLine?.(position))
      return { fields, bodyStart: position, isTruncated }
    if (first === SP || first === HTAB) {
      if (current) current.end = next
    } else if (fields.length >= maxFields || position >= splitLimit) {
      isTruncated = true
      current = null
    } else {
      current = null
      const colon = indexOfByte(bytes, COLON, position, contentEnd)
      if (colon > position) {
        let nameEnd = colon
        while (nameEnd > position && (bytes[nameEnd - 1] === SP || bytes[nameEnd - 1] === HTAB)) {
          nameEnd -= 1
        }
        if (nameEnd > position) {
          const name = latin1(bytes, position, nameEnd)
          current = {
            name,
            lowerName: name.toLowerCase(),
            start: position,
            valueStart: colon + 1,
            end: next,
          }
          fields.push(current)
        }
      }
    }
    position = next
  }
  return { fields, bodyStart: end, isTruncated }
}

/** The field's value octets, from after the colon to before its final line end. */
export function fieldValueBytes(bytes: Uint8Array, field: HeaderField): Uint8Array {
  let valueEnd = field.end
  if (valueEnd > field.valueStart && bytes[valueEnd - 1] === LF) valueEnd -= 1
  if (valueEnd > field.valueStart && bytes[valueEnd - 1] === CR) valueEnd -= 1
  return bytes.subarray(field.valueStart, valueEnd)
}

/**
 * The value unfolded (RFC 5322 §2.2.3: each CRLF before WSP removed, the WSP kept) and trimmed,
 * as a binary string: one char per octet, so 8-bit octets survive and can be turned back into
 * the exact bytes with Buffer.from(value, 'latin1').
 */
export function unfoldedFieldValue(bytes: Uint8Array, field: HeaderField): string {
  const value = fieldValueBytes(bytes, field)
  let text = latin1(value, 0, value.length)
  if (text.includes('\n')) text = text.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, '')
  return text.trim()
}

function indexOfLf(bytes: Uint8Array, from: number, to: number): number {
  const at = bytes.indexOf(LF, from)
  return at < 0 || at >= to ? -1 : at
}

function indexOfByte(bytes: Uint8Array, byte: number, from: number, to: number): number {
  const at = bytes.indexOf(byte, from)
  return at < 0 || at >= to ? -1 : at
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1')
}

/** The first field of a name (lower-cased), for fields that must occur at most once. */
export function firstField(
  fields: readonly HeaderField[],
  lowerName: string,
): HeaderField | undefined {
  return fields.find((field) => field.lowerName === lowerName)
}

/**
 * The raw Content-Transfer-Encoding value of a part's header (binary string), or null; callers
 * read the mechanism from it with transferEncodingToken.
 */
export function transferEncodingValue(
  bytes: Uint8Array,
  fields: readonly HeaderField[],
): string | null {
  const field = firstField(fields, 'content-transfer-encoding')
  return field ? Buffer.from(fieldValueBytes(bytes, field)).toString('latin1') : null
}
