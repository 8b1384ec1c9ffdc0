/** Bounds of the IMAP wire format as Postern reads it, each with the reason for its value. */

/**
 * Octets of one command line between literals, CRLF included. RFC 9051 §4 sets no limit but
 * RFC 7162 §4 asks servers to take lines of at least 8192 octets (long UID sets after a
 * resynchronisation); 64 KiB takes any real client's.
 */
export const MAX_COMMAND_LINE_OCTETS = 64 * 1024

/** Literals in one command: MULTIAPPEND of many messages is the only reason for more than a few. */
export const MAX_LITERALS_PER_COMMAND = 1000

/**
 * Octets of a literal that is not message data (a mailbox name, a search string, a password):
 * such values are short; this bounds what one command can make the server hold in memory.
 */
export const MAX_SMALL_LITERAL_OCTETS = 64 * 1024

/** RFC 7888 §4 LITERAL-: a non-synchronizing literal larger than this is refused. */
export const MAX_LITERAL_MINUS_OCTETS = 4096

/** Nesting of parenthesized lists (SEARCH keys, FETCH items): deep enough for any client. */
export const MAX_LIST_DEPTH = 32

/**
 * Numbers and ranges in one sequence set: as many as a command line can hold (each takes at least
 * two octets with its comma), so no set a line can carry is refused, while one that a line could
 * not carry (a set built by a bug) never becomes a huge array.
 */
export const MAX_SEQUENCE_SET_RANGES = MAX_COMMAND_LINE_OCTETS / 2
