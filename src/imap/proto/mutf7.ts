/**
 * Modified UTF-7 mailbox names (RFC 3501 §5.1.3). IMAP4rev2 names are UTF-8, but RFC 9051
 * Appendix A keeps this form for IMAP4rev1 clients: one that has enabled neither IMAP4rev2 nor
 * UTF8=ACCEPT sends its names in modified UTF-7 and must be sent them that way.
 *
 * There is exactly one valid encoding of each name (the RFC forbids every alternative form), so
 * the decoder refuses anything that is not that encoding. A lenient decoder would let two
 * different wire names reach the same mailbox, and one name could then slip past a check made
 * on the other.
 * @see https://www.rfc-editor.org/rfc/rfc3501#section-5.1.3
 */

// RFC 3501 §5.1.3: the printable US-ASCII characters 0x20-0x7e represent themselves, except "&".
const isPrintable = (code: number) => code >= 0x20 && code <= 0x7e

// RFC 3501 §5.1.3: modified BASE64 uses "," where base64 has "/", and never pads with "=".
const MODIFIED_BASE64 = /^[A-Za-z0-9+,]+$/

/**
 * A mailbox name (Unicode) → modified UTF-7. A lone surrogate, which no stored name can hold
 * (names are UTF-8), is sent as U+FFFD, so the output always decodes.
 * @see https://www.rfc-editor.org/rfc/rfc3501#section-5.1.3
 */
export function encodeMailboxName(name: string): string {
  const text = name.toWellFormed()
  let encoded = ''
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (isPrintable(code)) {
      // RFC 3501 §5.1.3: "&" (0x26) is represented by the two-octet sequence "&-".
      encoded += code === 0x26 ? '&-' : text.charAt(i)
      i += 1
      continue
    }
    // RFC 3501 §5.1.3: null shifts are not permitted, so every run of characters that cannot
    // represent themselves goes in one base64 section, closed by "-" even at the end of the name.
    let end = i + 1
    while (end < text.length && !isPrintable(text.charCodeAt(end))) end += 1
    encoded += `&${toModifiedBase64(text.slice(i, end))}-`
    i = end
  }
  return encoded
}

/** UTF-16 code units, big-endian as UTF-7 has them, in modified BASE64. */
function toModifiedBase64(run: string): string {
  return Buffer.from(run, 'utf16le')
    .swap16()
    .toString('base64')
    .replace(/=+$/, '')
    .replaceAll('/', ',')
}

/**
 * Modified UTF-7 → the mailbox name, or null when the text is not the one valid encoding of any
 * name: a character outside 0x20-0x7e, a base64 section not closed by "-", "/" or padding in
 * base64, non-zero bits after the last code unit, an odd number of octets, an unpaired
 * surrogate, an encoded character that should have been written as itself, or two base64
 * sections back to back ("-&", a null shift).
 * @see https://www.rfc-editor.org/rfc/rfc3501#section-5.1.3
 */
export function decodeMailboxName(encoded: string): string | null {
  let name = ''
  let i = 0
  // Where the last base64 section ended, to find a null shift ("&...-&...-").
  let afterSection = -1
  while (i < encoded.length) {
    const code = encoded.charCodeAt(i)
    // RFC 3501 §5.1.3: only printable US-ASCII goes on the wire; the rest is in base64. This
    // also refuses 8-bit octets, which a client that has not enabled UTF8=ACCEPT cannot send.
    if (!isPrintable(code)) return null
    if (code !== 0x26) {
      name += encoded.charAt(i)
      i += 1
      continue
    }
    const close = encoded.indexOf('-', i + 1)
    // RFC 3501 §5.1.3: all names must end in US-ASCII; there is no implicit shift back.
    if (close < 0) return null
    if (close === i + 1) {
      name += '&'
      i = close + 1
      continue
    }
    // RFC 3501 §5.1.3: null shifts ("-&" while in BASE64) are not permitted. "&-" right after a
    // section is fine: that is an "&", not a second section.
    if (i === afterSection) return null
    const run = decodeModifiedBase64(encoded.slice(i + 1, close))
    if (run === null) return null
    name += run
    i = close + 1
    afterSection = i
  }
  return name
}

/** One base64 section's content → its characters, or null unless it is canonical. */
function decodeModifiedBase64(base64: string): string | null {
  if (!MODIFIED_BASE64.test(base64)) return null
  const octets = Buffer.from(base64.replaceAll(',', '/'), 'base64')
  // UTF-16 comes in pairs of octets; an odd count means a code unit was cut short.
  if (octets.length % 2 !== 0) return null
  const run = octets.swap16().toString('utf16le')
  // Encoding the result again gives back the input only when the section had the fewest base64
  // characters for its octets and zero bits after the last one: the one form the RFC allows.
  if (toModifiedBase64(run) !== base64) return null
  if (!run.isWellFormed()) return null
  for (let i = 0; i < run.length; i += 1) {
    // RFC 3501 §5.1.3: modified BASE64 MUST NOT represent a printing US-ASCII character which
    // can represent itself ("&" included: it has "&-").
    if (isPrintable(run.charCodeAt(i))) return null
  }
  return run
}
