const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e
const EMPTY = Buffer.alloc(0)
const CR_OCTET = Buffer.from('\r')
const DOT_OCTET = Buffer.from('.')
const TERMINATOR = Buffer.from('.\r\n')
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n')

/**
 * Encodes stored message bytes for RETR and TOP (RFC 1939 §3): every line ends in CRLF (a bare
 * LF gets its CR), a line that starts with "." gets another in front, a message that does not
 * end with a line end gets one, and "." CRLF closes the response. The octets a client keeps
 * after undoing the dot-stuffing are exactly crlfSize(bytes) (src/mime), the size LIST reports.
 *
 * Chunks go in as the store reads them and come out at once: nothing is held back but the last
 * octet seen, so a 50 MB message streams in constant memory, and a chunk with nothing to change
 * goes out as the same Buffer.
 *
 * With `bodyLines` (TOP), output stops after the header, the empty line that ends it, and that
 * many body lines (RFC 1939 §7); `isDone` then tells the reader to stop reading.
 */
export class MessageEncoder {
  readonly #bodyLines: number | null
  #isAtLineStart = true
  #lastOctet = -1
  /** Octets of the current line so far, across chunks (its CR included). */
  #lineOctets = 0
  #isInHeader = true
  #bodyLinesSent = 0
  #isDone = false

  constructor(options: { bodyLines?: number | null } = {}) {
    this.#bodyLines = options.bodyLines ?? null
  }

  /** TOP has sent all it was asked for; later chunks would be ignored. */
  get isDone(): boolean {
    return this.#isDone
  }

  push(chunk: Buffer): Buffer {
    if (this.#isDone || chunk.length === 0) return EMPTY
    const parts: Buffer[] = []
    let start = 0
    let pos = 0
    for (;;) {
      if (this.#isAtLineStart) {
        this.#isAtLineStart = false
        if (pos < chunk.length && chunk[pos] === DOT) {
          // The dot is copied with the rest of the line; one more goes in front of it.
          parts.push(chunk.subarray(start, pos), DOT_OCTET)
          start = pos
        }
      }
      const lf = chunk.indexOf(LF, pos)
      if (lf < 0) {
        this.#lineOctets += chunk.length - pos
        break
      }
      const before = lf > 0 ? chunk[lf - 1] : this.#lastOctet
      const hasCr = before === CR
      if (!hasCr) {
        parts.push(chunk.subarray(start, lf), CR_OCTET)
        start = lf
      }
      const content = this.#lineOctets + (lf - pos) - (hasCr ? 1 : 0)
      this.#lineOctets = 0
      this.#isAtLineStart = true
      pos = lf + 1
      if (this.#bodyLines !== null && this.#endsTop(content)) {
        parts.push(chunk.subarray(start, pos))
        this.#lastOctet = LF
        this.#isDone = true
        return join(parts)
      }
      if (pos === chunk.length) break
    }
    this.#lastOctet = chunk[chunk.length - 1] as number
    if (parts.length === 0) return chunk
    parts.push(chunk.subarray(start))
    return join(parts)
  }

  /** What closes the response: a line end if the message lacked one, then "." CRLF. */
  end(): Buffer {
    if (this.#lastOctet === -1 || this.#lastOctet === LF) return TERMINATOR
    return CRLF_TERMINATOR
  }

  /** Counts one finished line (of `content` octets without its line end) against TOP's budget. */
  #endsTop(content: number): boolean {
    if (this.#isInHeader) {
      if (content > 0) return false
      this.#isInHeader = false
      return this.#bodyLines === 0
    }
    this.#bodyLinesSent += 1
    return this.#bodyLinesSent >= (this.#bodyLines as number)
  }
}

function join(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0] as Buffer
  return Buffer.concat(parts)
}
