/** Bounds of the POP3 wire format, each with the rule it comes from. */

/** RFC 2449 §4: a command line is at most 255 octets, CRLF included. */
export const MAX_COMMAND_LINE_OCTETS = 255

/**
 * RFC 5034 §4 lets AUTH's initial response and the client's SASL responses run past the 255
 * octets of other commands; this bounds them (4096 octets of SASL data, base64, with the verb).
 */
export const MAX_AUTH_LINE_OCTETS = 6 + 32 + Math.ceil(4096 / 3) * 4 + 2

/** RFC 2449 §4: a response's first line is at most 512 octets, CRLF included. */
export const MAX_RESPONSE_LINE_OCTETS = 512

/** RFC 2449 §6.6: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E. */
export const MAX_UNIQUE_ID_OCTETS = 70
