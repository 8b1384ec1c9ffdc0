import { dotStuff } from '../proto/index.ts'

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e
const CRLF = Buffer.from('\r\n')
const END_OF_DATA = Buffer.from('.\r\n')

/**
 * DATA transparency (RFC 5321 §4.5.2) for a message that arrives in chunks: proto's dotStuff
 * does each chunk, and the state carried between chunks catches a line that starts a chunk.
 */
export class DotStuffer {
  /** The message so far ends a line (or is empty: DATA's own CRLF came just before). */
  #isAtLineStart = true
  #lastOctet = -1
  #previousOctet = -1

  /** The chunk, dot-stuffed. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk
    const stuffed = dotStuff(chunk)
    // dotStuff reads each chunk as a whole message, so it doubles a dot at offset 0; a chunk
    // that continues a line gets that dot back.
    const isMidLineDot = !this.#isAtLineStart && chunk[0] === DOT
    this.#track(chunk)
    return isMidLineDot ? stuffed.subarray(1) : stuffed
  }

  /**
   * What ends the DATA: CRLF if the message did not end with one (the terminator must start a
   * line of its own), then "." CRLF (RFC 5321 §4.1.1.4).
   */
  end(): Buffer {
    const isEmpty = this.#lastOctet === -1
    const endsWithCrlf = this.#previousOctet === CR && this.#lastOctet === LF
    return isEmpty || endsWithCrlf ? END_OF_DATA : Buffer.concat([CRLF, END_OF_DATA])
  }

  #track(chunk: Buffer): void {
    const last = chunk[chunk.length - 1] ?? -1
    this.#previousOctet = chunk.length >= 2 ? (chunk[chunk.length - 2] ?? -1) : this.#lastOctet
    this.#lastOctet = last
    // proto's dotStuff starts a line after any LF, bare ones included; so do we, so that a
    // lenient peer can never read "<LF>.<CR><LF>" as the end of the message.
    this.#isAtLineStart = last === LF
  }
}
