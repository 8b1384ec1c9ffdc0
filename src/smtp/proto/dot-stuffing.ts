import { MAX_TEXT_LINE_OCTETS } from './limits.ts'

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e

/** What a DATA or BDAT body looked like once it was all read. */
export interface BodyCheck {
  /** Octets of the message as stored (after dot-unstuffing). */
  size: number
  /** More than maxOctets arrived: the excess was dropped, the message must be refused. */
  isTooBig: boolean
  /** A line longer than MAX_TEXT_LINE_OCTETS (RFC 5321 §4.5.3.1.6) was seen. */
  hasLongLine: boolean
  /** An LF not preceded by CR was seen (RFC 5321 §2.3.8). */
  hasBareLf: boolean
}

/**
 * Decodes the DATA transparency of RFC 5321 §4.5.2 as chunks arrive: a line starting with "."
 * loses that dot, and the message ends at exactly CRLF "." CRLF.
 *
 * Only a line start after CRLF counts. A bare LF or a bare CR never starts a line here, so
 * "<LF>.<LF>", "<LF>.<CR><LF>" or "<CR><LF>.<LF>" never end the message: that difference
 * between servers is what SMTP smuggling (2023) exploited. The message's own bytes are kept as
 * they came, bare line ends included (DESIGN.md invariant 3); they are never read as the end.
 *
 * The body is kept up to `maxOctets`; past that, the rest is read and dropped so the session can
 * answer 552 and go on.
 */
export class DataDecoder implements BodyCheck {
  readonly #maxOctets: number
  readonly #chunks: Buffer[] = []
  /** Octets of a line start held back until we know whether they end the message. */
  #carry: Buffer | null = null
  #isAtLineStart = true
  #previousWasCr = false
  #lineOctets = 0
  size = 0
  isTooBig = false
  hasLongLine = false
  hasBareLf = false

  constructor(maxOctets: number) {
    this.#maxOctets = maxOctets
  }

  /**
   * Feeds one chunk. Returns null while the message goes on, or, once CRLF.CRLF is found, the
   * octets that came after it (the next pipelined command), possibly empty.
   */
  push(input: Buffer): Buffer | null {
    let chunk = input
    if (this.#carry !== null) {
      chunk = Buffer.concat([this.#carry, input])
      this.#carry = null
    }
    const length = chunk.length
    let pos = 0
    let keepFrom = 0
    while (pos < length) {
      if (this.#isAtLineStart) {
        if (chunk[pos] === DOT) {
          // Up to two more octets decide: ".\r\n" ends the message, anything else is stuffing.
          if (pos + 1 >= length || (chunk[pos + 1] === CR && pos + 2 >= length)) {
            this.#keep(chunk, keepFrom, pos)
            this.#carry = chunk.subarray(pos)
            return null
          }
          if (chunk[pos + 1] === CR && chunk[pos + 2] === LF) {
            this.#keep(chunk, keepFrom, pos)
            return chunk.subarray(pos + 3)
          }
          // The stuffed dot is dropped, and it does not count toward the line's length: "not
          // counting the leading dot duplicated for transparency" (RFC 5321 §4.5.3.1.6). It is
          // never the chunk's last octet (that case was carried above), so pos stays < length.
          this.#keep(chunk, keepFrom, pos)
          pos += 1
          keepFrom = pos
        }
        this.#isAtLineStart = false
      }
      const lf = chunk.indexOf(LF, pos)
      if (lf < 0) {
        this.#countLine(length - pos)
        this.#previousWasCr = chunk[length - 1] === CR
        pos = length
        break
      }
      this.#countLine(lf + 1 - pos)
      this.#lineOctets = 0
      const isCrlf = lf > 0 ? chunk[lf - 1] === CR : this.#previousWasCr
      if (isCrlf) this.#isAtLineStart = true
      else this.hasBareLf = true
      this.#previousWasCr = false
      pos = lf + 1
    }
    this.#keep(chunk, keepFrom, length)
    return null
  }

  /** The decoded message, once push() has returned the rest. */
  message(): Buffer {
    return this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks)
  }

  #countLine(octets: number): void {
    this.#lineOctets += octets
    if (this.#lineOctets > MAX_TEXT_LINE_OCTETS) this.hasLongLine = true
  }

  #keep(chunk: Buffer, start: number, end: number): void {
    if (end <= start) return
    this.size += end - start
    if (this.size > this.#maxOctets) {
      this.isTooBig = true
      return
    }
    this.#chunks.push(chunk.subarray(start, end))
  }
}

/**
 * The same bookkeeping for BDAT chunks (RFC 3030), which carry the message as is: no stuffing,
 * no end marker, only the size and line checks.
 */
export class ChunkCollector implements BodyCheck {
  readonly #maxOctets: number
  readonly #chunks: Buffer[] = []
  #previousWasCr = false
  #lineOctets = 0
  size = 0
  isTooBig = false
  hasLongLine = false
  hasBareLf = false

  constructor(maxOctets: number) {
    this.#maxOctets = maxOctets
  }

  push(chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos)
      const end = lf < 0 ? chunk.length : lf + 1
      this.#lineOctets += end - pos
      if (this.#lineOctets > MAX_TEXT_LINE_OCTETS) this.hasLongLine = true
      if (lf >= 0) {
        const isCrlf = lf > 0 ? chunk[lf - 1] === CR : this.#previousWasCr
        if (!isCrlf) this.hasBareLf = true
        this.#lineOctets = 0
      }
      pos = end
    }
    if (chunk.length > 0) this.#previousWasCr = chunk[chunk.length - 1] === CR
    this.size += chunk.length
    if (this.size > this.#maxOctets) this.isTooBig = true
    else this.#chunks.push(chunk)
  }

  message(): Buffer {
    return this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks)
  }
}

/** Dot-stuffs a message for sending with DATA (RFC 5321 §4.5.2); the caller adds ".\r\n". */
export function dotStuff(message: Buffer): Buffer {
  const parts: Buffer[] = []
  let start = 0
  if (message[0] === DOT) parts.push(Buffer.from('.'))
  for (let lf = message.indexOf(LF); lf >= 0; lf = message.indexOf(LF, lf + 1)) {
    if (message[lf + 1] === DOT) {
      parts.push(message.subarray(start, lf + 1), Buffer.from('.'))
      start = lf + 1
    }
  }
  parts.push(message.subarray(start))
  return parts.length === 1 ? message : Buffer.concat(parts)
}
