/**
 * Content-Transfer-Encoding: the way back from a 7-bit-safe body to its octets.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2045#section-6
 */
import { decodeBase64 } from './base64.ts'
import { decodeQuotedPrintable } from './quoted-printable.ts'

export { decodeBase64, encodeBase64 } from './base64.ts'
export { decodeQuotedPrintable, encodeQuotedPrintable } from './quoted-printable.ts'

/**
 * The octets a body stands for under its Content-Transfer-Encoding. Never throws.
 *
 * encoding := "Content-Transfer-Encoding" ":" mechanism
 * mechanism := "7bit" / "8bit" / "binary" / "quoted-printable" / "base64" /
 *              ietf-token / x-token                                  (RFC 2045 §6.1)
 *
 * RFC 2045 §6.1: the value is case-insensitive. 7bit, 8bit and binary are identity
 * encodings. RFC 2045 §6.4 says an unknown encoding makes the body opaque, and opaque is
 * what it stays: it is returned as is (x-uuencode included), so nothing is lost. An identity
 * result is a view of `body`, not a copy.
 *
 * Quotes, a comment or a stray parameter after the mechanism (`"base64"`, `base64 (MIME)`,
 * `base64; x=y`) do not hide it: senders write all three.
 */
export function decodeTransferEncoding(
  body: Uint8Array,
  encoding: string | null | undefined,
): Buffer {
  switch (mechanismOf(encoding)) {
    case 'base64':
      return decodeBase64(body)
    case 'quoted-printable':
      return decodeQuotedPrintable(body)
    default:
      return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  }
}

function mechanismOf(encoding: string | null | undefined): string {
  return transferEncodingToken(encoding).toLowerCase()
}

/**
 * The mechanism of a Content-Transfer-Encoding value as written (RFC 2045 §6.1: a token, which
 * senders surround with comments, quotes and spaces), or "" when there is none. One reading for
 * decoding, BINARY and BODYSTRUCTURE alike. Linear: one pass, comments skipped with their nesting.
 */
export function transferEncodingToken(value: string | null | undefined): string {
  if (value === null || value === undefined) return ''
  let position = 0
  while (position < value.length) {
    const char = value[position]
    if (char === '(') {
      // Comments nest (RFC 5322 §3.2.2); a quoted-pair escapes one character.
      let depth = 0
      let end = position
      for (; end < value.length; end += 1) {
        const inner = value[end]
        if (inner === '\\') end += 1
        else if (inner === '(') depth += 1
        else if (inner === ')' && --depth === 0) break
      }
      if (end >= value.length) return ''
      position = end + 1
    } else if (
      char === ' ' ||
      char === '\t' ||
      char === '\r' ||
      char === '\n' ||
      char === '"' ||
      char === "'"
    ) {
      position += 1
    } else {
      break
    }
  }
  return /^[^\s"'();]*/.exec(value.slice(position))?.[0] ?? ''
}
