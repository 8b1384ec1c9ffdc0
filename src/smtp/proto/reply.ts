// SMTP replies: a three-digit code (RFC 5321 §4.2) and, on every reply except the greeting and
// the answer to EHLO/HELO, an enhanced status code (RFC 2034 §3, RFC 3463).

export interface Reply {
  code: number
  /** "2.1.0" and the like; null for the greeting and the EHLO/HELO answer (RFC 2034 §3). */
  status: string | null
  /** One entry per line; never empty. */
  lines: readonly string[]
}

export function reply(
  code: number,
  status: string | null,
  text: string | readonly string[],
): Reply {
  const lines = typeof text === 'string' ? [text] : text
  return { code, status, lines: lines.length === 0 ? [''] : lines }
}

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, its code and CRLF included. */
export const MAX_REPLY_LINE_OCTETS = 512

/**
 * The wire form: "250-first\r\n250 last\r\n", the enhanced code repeated on each line (RFC 2034
 * §3 puts it on every line of a multi-line reply). Text that came from the peer may be echoed
 * back, so anything that could end a line early or confuse a terminal is replaced, and a line
 * that would pass 512 octets (a 2,000-octet parameter echoed, say) is cut.
 */
export function formatReply(value: Reply): string {
  const { code, status, lines } = value
  let out = ''
  for (let i = 0; i < lines.length; i += 1) {
    const separator = i === lines.length - 1 ? ' ' : '-'
    const prefix = `${code}${separator}${status === null ? '' : `${status} `}`
    const room = MAX_REPLY_LINE_OCTETS - 2 - Buffer.byteLength(prefix)
    out += `${prefix}${fitText(sanitizeReplyText(lines[i] as string), room)}\r\n`
  }
  return out
}

/** The text, or as many of its first characters as fit in `octets` of UTF-8 with "...". */
function fitText(text: string, octets: number): string {
  if (Buffer.byteLength(text) <= octets) return text
  let kept = ''
  let used = 3
  for (const char of text) {
    used += Buffer.byteLength(char)
    if (used > octets) break
    kept += char
  }
  return `${kept}...`
}

/** Control characters (CR and LF above all) become "?": a reply line is exactly one line. */
export function sanitizeReplyText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, '?')
}

/** Whether a code is a positive completion (2xx) or intermediate (3xx) reply. */
export function isPositive(code: number): boolean {
  return code >= 200 && code < 400
}
