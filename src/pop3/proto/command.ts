import { isUtf8 } from 'node:buffer'

/** The POP3 verbs Postern answers (RFC 1939 §§4-7, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH). */
export const POP3_VERBS = [
  'USER',
  'PASS',
  'APOP',
  'AUTH',
  'CAPA',
  'STLS',
  'STAT',
  'LIST',
  'UIDL',
  'RETR',
  'TOP',
  'DELE',
  'RSET',
  'NOOP',
  'QUIT',
] as const
export type Pop3Verb = (typeof POP3_VERBS)[number]

export interface Pop3Command {
  verb: Pop3Verb
  /**
   * The arguments, split at spaces. PASS has one argument, the rest of the line, because a
   * password may contain spaces (RFC 1939 §7: the server may treat them as part of it).
   */
  args: string[]
}

export type Pop3CommandParse =
  | { kind: 'command'; command: Pop3Command }
  | { kind: 'error'; message: string }

const VERBS = new Set<string>(POP3_VERBS)

/**
 * One command line (without its CRLF) → a verb and its arguments (RFC 2449 §3: a keyword of 3 or
 * 4 characters, case-insensitive, then arguments separated by single spaces). Text is UTF-8 when
 * it is valid UTF-8 (a user name or password), Latin-1 otherwise, so every octet survives to be
 * refused by whoever checks it. How many arguments each verb takes is the verb's handler's
 * business; this only splits.
 */
export function parseCommand(line: Buffer): Pop3CommandParse {
  const text = isUtf8(line) ? line.toString('utf8') : line.toString('latin1')
  const space = text.indexOf(' ')
  const word = space < 0 ? text : text.slice(0, space)
  const keyword = word.toUpperCase()
  if (keyword === '') return { kind: 'error', message: 'Empty command' }
  // Keywords are ASCII letters. String#toUpperCase folds some other letters into them ("ı" to
  // "I", "ſ" to "S"), which would let "L\u0131ST" or "\u017fTLS" pass for a verb.
  if (!/^[A-Za-z]+$/.test(word) || !VERBS.has(keyword)) {
    return { kind: 'error', message: `Unknown command ${printable(keyword)}` }
  }
  const verb = keyword as Pop3Verb
  if (space < 0) return { kind: 'command', command: { verb, args: [] } }
  const rest = text.slice(space + 1)
  if (verb === 'PASS') return { kind: 'command', command: { verb, args: [rest] } }
  // Clients that put two spaces between arguments, or one at the end, mean the same thing.
  const args = rest.split(' ').filter((arg) => arg !== '')
  return { kind: 'command', command: { verb, args } }
}

/** A keyword shown back in an error: at most 16 characters, nothing that could end the line. */
function printable(keyword: string): string {
  const shown = keyword.slice(0, 16).replace(/[^\x21-\x7e]/g, '?')
  return keyword.length > 16 ? `${shown}...` : shown
}

/**
 * A message number argument (RFC 1939 §3: digits, the first message is 1), or null when the
 * argument is not one. Numbers past 2^53 are not a message anyone has.
 */
export function parseMessageNumber(arg: string | undefined): number | null {
  if (arg === undefined || !/^[0-9]{1,15}$/.test(arg)) return null
  const n = Number(arg)
  return n >= 1 ? n : null
}

/** TOP's line count (RFC 1939 §7: a non-negative number), or null. */
export function parseLineCount(arg: string | undefined): number | null {
  if (arg === undefined || !/^[0-9]{1,15}$/.test(arg)) return null
  return Number(arg)
}
