/**
 * IMAP strings on the wire (RFC 9051 §4.3). Values are binary strings (one char per octet), so
 * the result is one too and Buffer.from(result, 'latin1') gives the exact octets to send.
 */

/** nstring: NIL for null, else a string. */
export function formatNString(value: string | null): string {
  return value === null ? 'NIL' : formatString(value)
}

/**
 * A quoted string when the value fits one (no CR, LF, NUL or 8-bit octets: RFC 9051 §4.3
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE), otherwise a synchronizing literal, which carries any
 * octets.
 */
export function formatString(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the octets a quoted string cannot carry
  if (/[\x00\r\n\x80-\xff]/.test(value)) {
    // Not even a literal may carry NUL (RFC 9051 §9: CHAR8 = %x01-ff); it goes as 0x80, as
    // Dovecot sends it. Only stored header bytes can hold one.
    const octets = value.replaceAll('\u0000', '\u0080')
    return `{${octets.length}}\r\n${octets}`
  }
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** A parenthesized list of strings, or NIL when there is nothing to list. */
export function formatStringList(values: readonly string[] | null): string {
  if (values === null || values.length === 0) return 'NIL'
  return `(${values.map(formatString).join(' ')})`
}

/**
 * A string meant to be read by people (ENVELOPE subject and display names): runs of whitespace,
 * line ends included, become one space and the ends are trimmed, so a folded header reads as one
 * line. A value that needs none of that and has no quote, backslash, NUL or 8-bit octet goes as
 * a plain quoted string; any other as a literal of the cleaned text. NUL, which no IMAP string
 * may carry, becomes 0x80. This is what Dovecot sends, so clients see the same from either server.
 */
export function formatHumanString(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL and line ends are what this finds
  const needsCleaning = /^[ \t\r\n]|[\t\r\n\x00"\\\x80-\xff]|[ \t\r\n]{2}/.test(value)
  if (!needsCleaning) return `"${value}"`
  const cleaned = value
    .replace(/[ \t\r\n]+/g, ' ')
    .trim()
    .replaceAll('\u0000', '\u0080')
  return cleaned === '' ? '""' : `{${cleaned.length}}\r\n${cleaned}`
}
