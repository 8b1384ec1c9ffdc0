/**
 * The base64 Content-Transfer-Encoding.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2045#section-6.8
 */

const EQUALS = 0x3d
const HYPHEN = 0x2d
const UNDERSCORE = 0x5f

// The RFC 2045 §6.8 Table 1 value of each octet, or -1 for octets outside the alphabet.
const ALPHABET_VALUES = new Int8Array(256).fill(-1)
for (const [index, char] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
].entries()) {
  ALPHABET_VALUES[char.charCodeAt(0)] = index
}

/**
 * Decodes a base64 body. Never throws; whatever is not base64 is skipped.
 *
 * RFC 2045 §6.8 gives an alphabet rather than ABNF: 4-character groups from
 * `A-Z a-z 0-9 + /`, each standing for 3 octets, with "=" padding the last group, and
 * "All line breaks or other characters not found in Table 1 must be ignored by decoding
 * software."
 *
 * Tolerated beyond that: missing padding, extra padding, and data after padding. RFC 2045
 * §6.8 allows taking "=" as the end of the data, but mailers that encode a body in pieces
 * leave padded groups in the middle, so decoding carries on after it: each padded run ends a
 * group, and the next one starts afresh. A group cut short (one character, 6 bits) gives no
 * octet.
 */
export function decodeBase64(input: Uint8Array): Buffer {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  // Node's own decoder skips whitespace and other octets outside the alphabet, but it also
  // reads "-" and "_" as base64url digits and stops at the first "=". Either case is rare,
  // so the native decoder runs unless the input has one of them.
  if (bytes.indexOf(HYPHEN) === -1 && bytes.indexOf(UNDERSCORE) === -1) {
    const firstEquals = bytes.indexOf(EQUALS)
    if (firstEquals === -1 || !hasAlphabetAfter(bytes, firstEquals)) {
      return Buffer.from(bytes.toString('latin1'), 'base64')
    }
  }
  return decodeSlowly(bytes)
}

function hasAlphabetAfter(bytes: Uint8Array, start: number): boolean {
  for (let i = start; i < bytes.length; i += 1) {
    if ((ALPHABET_VALUES[bytes[i] ?? 0] ?? -1) >= 0) return true
  }
  return false
}

function decodeSlowly(bytes: Uint8Array): Buffer {
  const output = Buffer.alloc(Math.ceil((bytes.length * 3) / 4))
  let length = 0
  let bits = 0
  let bitCount = 0
  for (let i = 0; i < bytes.length; i += 1) {
    const octet = bytes[i] ?? 0
    const value = ALPHABET_VALUES[octet] ?? -1
    if (value >= 0) {
      bits = ((bits << 6) | value) & 0xffffff
      bitCount += 6
      if (bitCount >= 8) {
        bitCount -= 8
        output[length] = (bits >> bitCount) & 0xff
        length += 1
      }
    } else if (octet === EQUALS) {
      // The padded group is complete: its leftover bits are the zero fill of RFC 2045 §6.8.
      bits = 0
      bitCount = 0
    }
  }
  return output.subarray(0, length)
}

/**
 * Encodes data as base64 in lines of `lineLength` characters (RFC 2045 §6.8: at most 76)
 * joined by CRLF, with no CRLF after the last line. A `lineLength` of Infinity gives one line.
 */
export function encodeBase64(data: Uint8Array, lineLength = 76): string {
  const encoded = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
  const width = Math.max(4, Math.floor(lineLength))
  if (!Number.isFinite(lineLength) || encoded.length <= width) return encoded
  const lines: string[] = []
  for (let start = 0; start < encoded.length; start += width) {
    lines.push(encoded.slice(start, start + width))
  }
  return lines.join('\r\n')
}
