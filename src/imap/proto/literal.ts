/** A literal announced at the end of a line (RFC 9051 §4.3, RFC 7888, RFC 3516 §4.3 "~{n}"). */
export interface LiteralAnnouncement {
  size: number
  /** "{n+}" (LITERAL+ / LITERAL-): the client sends the data without waiting for "+". */
  isNonSync: boolean
  /** "~{n}": literal8, which may carry NUL (APPEND of binary content). */
  isBinary: boolean
}

const OPEN = 0x7b // {

/**
 * Whether a line (without its CRLF) ends by announcing a literal, so that the server must read
 * that many octets (after sending "+ " for a synchronizing one) and then the rest of the command.
 * null when it does not (a "}" that ends an atom is no announcement: the parser judges the line);
 * 'malformed' for a size too large to be one (more than 15 digits), which is answered BAD.
 */
export function literalAtLineEnd(line: Buffer): LiteralAnnouncement | 'malformed' | null {
  if (line.length === 0 || line[line.length - 1] !== 0x7d) return null
  const open = line.lastIndexOf(OPEN)
  if (open < 0) return null
  const match = /^([0-9]+)([+]?)$/.exec(line.subarray(open + 1, line.length - 1).toString('latin1'))
  if (match === null) return null
  const digits = match[1] as string
  if (digits.length > 15) return 'malformed'
  return {
    size: Number(digits),
    isNonSync: match[2] === '+',
    isBinary: open > 0 && line[open - 1] === 0x7e,
  }
}
