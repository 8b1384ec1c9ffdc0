const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e
const CRLF = Buffer.from('\r\n')
const DOT_OCTET = Buffer.from('.')
const END_OF_DATA = Buffer.from('.\r\n')

/**
 * A message as DATA sends it, streamed chunk by chunk: every line end is CRLF, and a line that
 * starts with "." gets another (RFC 5321 §4.5.2).
 *
 * A bare CR or a bare LF goes out as CRLF. RFC 5321 §2.3.8 forbids a client to send either
 * except as part of CRLF, and sending them as they came would leave the end of the message to
 * each next hop's reading of "<LF>.<LF>" or "<CR>.<CR>": SMTP smuggling. Postern's store keeps a
 * message's bytes as they arrived (DESIGN.md invariant 3); only this copy on the wire changes.
 * BDAT needs none of this: its chunks are counted, never ended by a marker.
 */
export class DotStuffer {
  /** What went out so far ends a line (or nothing has: DATA's own CRLF came just before). */
  #isAtLineStart = true
  /** The last chunk ended with a CR whose meaning the next octet decides. */
  #hasPendingCr = false

  /** The chunk as it goes on the wire (possibly empty when only a CR arrived). */
  push(chunk: Buffer): Buffer {
    const length = chunk.length
    if (length === 0) return chunk
    const parts: Buffer[] = []
    let pos = 0
    if (this.#hasPendingCr) {
      this.#hasPendingCr = false
      parts.push(CRLF)
      if (chunk[0] === LF) pos = 1
      this.#isAtLineStart = true
    }
    /** Start of the run of octets that go out unchanged. */
    let runStart = pos
    let nextCr = chunk.indexOf(CR, pos)
    let nextLf = chunk.indexOf(LF, pos)
    while (pos < length) {
      if (this.#isAtLineStart && chunk[pos] === DOT) {
        if (pos > runStart) parts.push(chunk.subarray(runStart, pos))
        parts.push(DOT_OCTET)
        runStart = pos
      }
      this.#isAtLineStart = false
      if (nextCr >= 0 && nextCr < pos) nextCr = chunk.indexOf(CR, pos)
      if (nextLf >= 0 && nextLf < pos) nextLf = chunk.indexOf(LF, pos)
      const end = nextCr < 0 ? nextLf : nextLf < 0 ? nextCr : Math.min(nextCr, nextLf)
      if (end < 0) break
      this.#isAtLineStart = true
      if (chunk[end] === CR && end + 1 < length && chunk[end + 1] === LF) {
        pos = end + 2 // CRLF: the run goes on
        continue
      }
      if (end > runStart) parts.push(chunk.subarray(runStart, end))
      if (chunk[end] === CR && end + 1 === length) {
        // Whether this CR begins a CRLF is for the next chunk to say.
        this.#hasPendingCr = true
        this.#isAtLineStart = false
        runStart = length
        pos = length
        break
      }
      parts.push(CRLF) // a bare CR or a bare LF
      pos = end + 1
      runStart = pos
    }
    if (runStart < length) parts.push(chunk.subarray(runStart))
    if (parts.length === 1) return parts[0] as Buffer
    return Buffer.concat(parts)
  }

  /**
   * What ends the DATA: the line end the message lacks, if it does (the terminator must start a
   * line of its own), then "." CRLF (RFC 5321 §4.1.1.4).
   */
  end(): Buffer {
    return this.#isAtLineStart && !this.#hasPendingCr
      ? END_OF_DATA
      : Buffer.concat([CRLF, END_OF_DATA])
  }
}
