import { MAX_RESPONSE_LINE_OCTETS } from './limits.ts'

/**
 * RFC 2449 §8 / RFC 3206 response codes, sent in brackets after "-ERR" so a client can tell a
 * locked maildrop from a wrong password without reading the text.
 */
export type Pop3ResponseCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH'

/** "+OK text" with its CRLF. */
export function ok(text: string): string {
  return line(text === '' ? '+OK' : `+OK ${text}`)
}

/** "-ERR [CODE] text" with its CRLF. */
export function err(text: string, code: Pop3ResponseCode | null = null): string {
  return line(code === null ? `-ERR ${text}` : `-ERR [${code}] ${text}`)
}

/**
 * A multi-line response (RFC 1939 §3): the status line, each line dot-stuffed, then ".". For
 * short listings (CAPA, LIST, UIDL); message bodies go through MessageEncoder.
 */
export function multiline(status: string, lines: readonly string[]): string {
  let out = ok(status)
  for (const text of lines) out += text.startsWith('.') ? `.${text}\r\n` : `${text}\r\n`
  return `${out}.\r\n`
}

/**
 * One response line: control characters become "?" so text that came from elsewhere (a login
 * name, a store error) can never end the line early or inject another; the line is cut to the
 * 512 octets RFC 2449 §4 allows.
 */
function line(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
  let safe = text.replace(/[\x00-\x1f\x7f]/g, '?')
  const max = MAX_RESPONSE_LINE_OCTETS - 2
  if (Buffer.byteLength(safe) > max) {
    safe = Buffer.from(safe)
      .subarray(0, max)
      .toString('utf8')
      .replace(/\uFFFD$/, '')
  }
  return `${safe}\r\n`
}
