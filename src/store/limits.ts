// Bounds of what one account may keep in the store (DESIGN.md invariant 2). Each is far above
// what a person uses and low enough that a hostile client cannot make the store slow for others.

/** Octets of a whole mailbox name (UTF-8). Dovecot allows 255 per level and about 1000 in all. */
export const MAX_MAILBOX_NAME_OCTETS = 1024

/** Octets of one level of a mailbox name. */
export const MAX_MAILBOX_SEGMENT_OCTETS = 255

/** Levels of hierarchy; deep trees make LIST and RENAME costly and no client needs them. */
export const MAX_MAILBOX_DEPTH = 32

/** Mailboxes per account. */
export const MAX_MAILBOXES_PER_ACCOUNT = 10_000

/** Subscribed names per account (they may name mailboxes that do not exist). */
export const MAX_SUBSCRIPTIONS_PER_ACCOUNT = 10_000

/** Keywords on one message (RFC 9051 sets no bound; Dovecot has none either, clients use few). */
export const MAX_KEYWORDS_PER_MESSAGE = 128

/** Octets of one keyword (an IMAP atom). */
export const MAX_KEYWORD_OCTETS = 255

/** Targets of one alias. */
export const MAX_ALIAS_TARGETS = 1_000

/**
 * Recipients of one outbound queue entry. RFC 5321 §4.5.3.1.8 asks a server to take at least 100
 * recipients per message; this leaves room for an alias expanded to all of its targets
 * (MAX_ALIAS_TARGETS) while keeping one entry's rows, and the one DSN (RFC 3464) that may report
 * on all of them, bounded. A caller with more recipients makes more entries.
 */
export const MAX_QUEUE_RECIPIENTS = 1_000
