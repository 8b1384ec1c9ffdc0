/**
 * Bounds of the MIME parser (DESIGN.md invariant 2). Past a bound the parser stops descending or
 * stops splitting fields, and the part keeps its exact byte range: the message is still stored,
 * sliced and served byte for byte, only less of its inside is interpreted.
 */

/**
 * Nesting of multipart and message/rfc822 parts. Real mail rarely passes 10; Dovecot stops at
 * 100 nested parts. 64 keeps the recursion shallow and a crafted message cheap.
 */
export const MAX_MIME_DEPTH = 64

/** Parts in one message, all levels together; a digest of 10,000 messages is the outlier. */
export const MAX_MIME_PARTS = 10_000

/** Header fields interpreted per part. The rest still belongs to the header block's bytes. */
export const MAX_HEADER_FIELDS = 5_000

/** Octets of one part's header block that are split into fields (RFC 5322 has no bound). */
export const MAX_HEADER_OCTETS = 1024 * 1024

/**
 * Characters of an address field parsed for ENVELOPE. 256 Ki is several thousand recipients;
 * the rest of a longer field is not shown (the field itself stays stored as written).
 */
export const MAX_ADDRESS_LIST_CHARS = 256 * 1024

export interface MimeLimits {
  maxDepth: number
  maxParts: number
  maxHeaderFields: number
  maxHeaderOctets: number
}

export const DEFAULT_MIME_LIMITS: MimeLimits = {
  maxDepth: MAX_MIME_DEPTH,
  maxParts: MAX_MIME_PARTS,
  maxHeaderFields: MAX_HEADER_FIELDS,
  maxHeaderOctets: MAX_HEADER_OCTETS,
}
