import { InvalidNameError } from './errors.ts'
import {
  MAX_KEYWORD_OCTETS,
  MAX_KEYWORDS_PER_MESSAGE,
  MAX_MAILBOX_DEPTH,
  MAX_MAILBOX_NAME_OCTETS,
  MAX_MAILBOX_SEGMENT_OCTETS,
} from './limits.ts'
import { SYSTEM_FLAGS, type SystemFlag } from './types.ts'

export const MAILBOX_SEPARATOR = '/'

/**
 * The stored form of a mailbox name, or InvalidNameError. INBOX is case-insensitive and always
 * stored as "INBOX", as a first level too (RFC 9051 §5.1: "INBOX/x" is a child of INBOX). Names
 * are NFC-normalised Unicode (RFC 6855 §3 asks for a consistent form). Wildcards, control
 * characters, empty levels and "." or ".." levels are refused: they are legal on the wire but
 * only ever make LIST patterns and exports ambiguous.
 */
export function checkMailboxName(name: string): string {
  const normalized = name.normalize('NFC')
  const segments = normalized.split(MAILBOX_SEPARATOR)
  if (normalized.length === 0) throw new InvalidNameError('A mailbox name cannot be empty')
  if (Buffer.byteLength(normalized) > MAX_MAILBOX_NAME_OCTETS) {
    throw new InvalidNameError(`A mailbox name cannot exceed ${MAX_MAILBOX_NAME_OCTETS} octets`)
  }
  if (segments.length > MAX_MAILBOX_DEPTH) {
    throw new InvalidNameError(`A mailbox name cannot have more than ${MAX_MAILBOX_DEPTH} levels`)
  }
  for (const segment of segments) {
    if (segment === '') {
      throw new InvalidNameError(`Mailbox name "${name}" has an empty level`)
    }
    if (segment === '.' || segment === '..') {
      throw new InvalidNameError(`Mailbox name "${name}" has a "${segment}" level`)
    }
    if (Buffer.byteLength(segment) > MAX_MAILBOX_SEGMENT_OCTETS) {
      throw new InvalidNameError(
        `A level of a mailbox name cannot exceed ${MAX_MAILBOX_SEGMENT_OCTETS} octets`,
      )
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
    if (/[\u0000-\u001f\u007f*%]/.test(segment)) {
      throw new InvalidNameError(
        `Mailbox name "${name}" contains a control character or a wildcard`,
      )
    }
  }
  if (segments[0]?.toUpperCase() === 'INBOX') segments[0] = 'INBOX'
  return segments.join(MAILBOX_SEPARATOR)
}

/** The names of a mailbox's ancestors, outermost first: "a/b/c" → ["a", "a/b"]. */
export function parentNames(name: string): string[] {
  const segments = name.split(MAILBOX_SEPARATOR)
  return segments.slice(1).map((_, index) => segments.slice(0, index + 1).join(MAILBOX_SEPARATOR))
}

const SYSTEM_BY_LOWER = new Map<string, SystemFlag>(
  SYSTEM_FLAGS.map((flag) => [flag.toLowerCase(), flag]),
)

/** A flag's bit in the stored system-flag mask. */
export function systemFlagBit(flag: SystemFlag): number {
  return 1 << SYSTEM_FLAGS.indexOf(flag)
}

/**
 * Flags in stored form: system flags in their canonical case, as a bit mask, and keywords in the
 * case first given, without duplicates (flags are case-insensitive: RFC 9051 §2.3.2).
 * @throws InvalidNameError for \Recent or another unknown system flag, a keyword that is not
 *   an IMAP atom, or more keywords than MAX_KEYWORDS_PER_MESSAGE.
 */
export function checkFlags(flags: readonly string[]): { mask: number; keywords: string[] } {
  let mask = 0
  const keywords = new Map<string, string>()
  for (const flag of flags) {
    if (flag.startsWith('\\')) {
      const system = SYSTEM_BY_LOWER.get(flag.toLowerCase())
      if (!system) throw new InvalidNameError(`Flag "${flag}" cannot be stored`)
      mask |= systemFlagBit(system)
      continue
    }
    // flag-keyword is an atom (RFC 9051 §9): no atom-specials, no ']' (resp-specials).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
    if (flag === '' || /[\u0000-\u0020\u007f-\u{10ffff}(){%*"\\\]]/u.test(flag)) {
      throw new InvalidNameError(`Keyword "${flag}" is not an IMAP atom`)
    }
    if (flag.length > MAX_KEYWORD_OCTETS) {
      throw new InvalidNameError(`A keyword cannot exceed ${MAX_KEYWORD_OCTETS} octets`)
    }
    if (!keywords.has(flag.toLowerCase())) keywords.set(flag.toLowerCase(), flag)
  }
  if (keywords.size > MAX_KEYWORDS_PER_MESSAGE) {
    throw new InvalidNameError(
      `A message cannot have more than ${MAX_KEYWORDS_PER_MESSAGE} keywords`,
    )
  }
  return { mask, keywords: [...keywords.values()] }
}

/** The system-flag lists of every mask, built once: most messages have no keywords. */
const SYSTEM_FLAG_LISTS: ReadonlyArray<readonly string[]> = Array.from(
  { length: 1 << SYSTEM_FLAGS.length },
  (_, mask) => Object.freeze(SYSTEM_FLAGS.filter((flag) => mask & systemFlagBit(flag))),
)

/**
 * The flag list of a stored mask and keywords, system flags first. Without keywords the list is
 * a shared frozen array, so opening a mailbox of 100,000 messages allocates no list per message.
 */
export function flagList(mask: number, keywords: readonly string[]): readonly string[] {
  const system = SYSTEM_FLAG_LISTS[mask] ?? []
  return keywords.length === 0 ? system : system.concat(keywords)
}
