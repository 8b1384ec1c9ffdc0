// Bounds of the SMTP wire grammar, each with the RFC section it comes from. The configurable
// policy limits (message size, recipients per message, errors per session) live in the config;
// these are the ones the grammar itself sets.

/**
 * Octets in a command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512, and each extension
 * that adds parameters raises it (RFC 1870 §3, RFC 3461 §5 and RFC 6531 §3.3 add up to several
 * hundred more: ORCPT alone may be 500). 2048 holds every legitimate MAIL or RCPT, as in Postfix.
 */
export const MAX_COMMAND_LINE_OCTETS = 2048

/**
 * Octets in one AUTH line: the command with its initial response, or a response to a
 * challenge. RFC 4954 §4 raises the command line limit to 12288 for AUTH.
 */
export const MAX_AUTH_LINE_OCTETS = 12288

/** A line of message text, CRLF included (RFC 5321 §4.5.3.1.6). */
export const MAX_TEXT_LINE_OCTETS = 1000

/** A reverse-path or forward-path, angle brackets included (RFC 5321 §4.5.3.1.3). */
export const MAX_PATH_OCTETS = 256

/** The local part of a mailbox (RFC 5321 §4.5.3.1.1). */
export const MAX_LOCAL_PART_OCTETS = 64

/** A domain name (RFC 5321 §4.5.3.1.2). */
export const MAX_DOMAIN_OCTETS = 255

/** RFC 3461 §4.4: ENVID is at most 100 characters (before xtext decoding). */
export const MAX_ENVID_OCTETS = 100

/** RFC 3461 §4.2: ORCPT's value is at most 500 characters. */
export const MAX_ORCPT_OCTETS = 500
