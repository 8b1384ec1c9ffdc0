// Bounds of names and of alias expansion. Names follow the SMTP and DNS limits, so an address the
// directory accepts can always be sent and looked up; the expansion bounds keep one RCPT TO from
// costing more than a few thousand store lookups, however the aliases are set up.

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets; with RFC 6531, octets of its UTF-8. */
export const MAX_LOCAL_PART_OCTETS = 64

/** A DNS label is 1 to 63 octets; a longer one cannot be looked up, so no mail could reach it. */
export const MAX_LABEL_OCTETS = 63

/**
 * RFC 5321 §4.5.3.1.2 allows 255 octets, but DNS's 255 octets count the wire form (a length
 * octet before each label, and the root's), which leaves 253 for the dotted text.
 */
export const MAX_DOMAIN_OCTETS = 253

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
export const MAX_ADDRESS_OCTETS = 254

/**
 * Input longer than this is refused before it is normalized, so a hostile string costs nothing.
 * It is generous: NFC, case folding and IDNA mapping can shorten a name, never by this much.
 */
export const MAX_INPUT_CHARACTERS = 1024

/**
 * Alias levels followed from a recipient. Real setups use two or three (a list pointing at a
 * team alias pointing at people); ten leaves room and stops a chain that only loops.
 */
export const MAX_ALIAS_DEPTH = 10

/**
 * Addresses looked at while resolving one recipient, remote ones included. It matches the store's
 * MAX_ALIAS_TARGETS, so one full alias expands, and bounds the store lookups (up to four per
 * address) a single RCPT TO can cause.
 */
export const MAX_EXPANDED_ADDRESSES = 1_000
