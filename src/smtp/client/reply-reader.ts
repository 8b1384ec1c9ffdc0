import type { Readable } from 'node:stream'
import { LineReader, LineTooLongError } from '../../net/index.ts'
import { ProtocolError } from '../../util/index.ts'
import type { Reply } from '../proto/index.ts'

/**
 * Octets in one reply line, line end included. RFC 5321 §4.5.3.1.5 sets 512, but real servers
 * send longer text (long EHLO keywords, verbose refusals), so we allow far more, still bounded.
 */
export const MAX_REPLY_LINE_OCTETS = 4096

/** Lines in one reply: a multi-line EHLO or a verbose refusal is a few dozen at most. */
export const MAX_REPLY_LINES = 200

/** The peer sent something that is not an SMTP reply; the connection cannot be trusted after. */
export class SmtpReplyError extends ProtocolError {
  override name = 'SmtpReplyError'
}

const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
const HYPHEN = 0x2d
const SPACE = 0x20

// RFC 2034 §4 / RFC 3463 §2: class "." subject "." detail, followed by a space (or nothing).
const ENHANCED_STATUS = /^([245])\.(\d{1,3})\.(\d{1,3})(?: +|$)/

/**
 * Reads SMTP replies (RFC 5321 §4.2) from a byte stream, one at a time. `attach` and `detach`
 * move it between streams, which is how STARTTLS swaps the plain socket for the TLS one.
 */
export class ReplyReader {
  readonly #lines: LineReader

  constructor(source?: Readable) {
    this.#lines = new LineReader(source)
  }

  attach(source: Readable): void {
    this.#lines.attach(source)
  }

  detach(): void {
    this.#lines.detach()
  }

  /** Octets received and not yet read as a reply. */
  get bufferedOctets(): number {
    return this.#lines.bufferedOctets
  }

  /**
   * The next whole reply, or null once the stream has ended (a reply cut short is dropped).
   * @throws SmtpReplyError for anything that is not a reply; a stream error as it came.
   */
  async read(): Promise<Reply | null> {
    const texts: string[] = []
    let code = 0
    for (;;) {
      const line = await this.#readLine()
      if (line === null) return null
      if (texts.length >= MAX_REPLY_LINES) {
        throw new SmtpReplyError(`Reply longer than ${MAX_REPLY_LINES} lines`)
      }
      const parsed = parseReplyLine(line)
      // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
      if (texts.length > 0 && parsed.code !== code) {
        throw new SmtpReplyError(`Reply line with code ${parsed.code} inside a ${code} reply`)
      }
      code = parsed.code
      texts.push(parsed.text)
      if (parsed.isLast) return withEnhancedStatus(code, texts)
    }
  }

  async #readLine(): Promise<Buffer | null> {
    try {
      const line = await this.#lines.readLine(MAX_REPLY_LINE_OCTETS)
      // A bare LF ends a line too: lenient on input, since the line's meaning is unambiguous.
      return line === null ? null : line.bytes
    } catch (error) {
      if (error instanceof LineTooLongError) {
        throw new SmtpReplyError(`Reply line longer than ${MAX_REPLY_LINE_OCTETS} octets`)
      }
      throw error
    }
  }
}

/** One line: Reply-code [ ( "-" / SP ) textstring ] (RFC 5321 §4.2). */
function parseReplyLine(bytes: Buffer): { code: number; isLast: boolean; text: string } {
  const [a = 0, b = 0, c = 0] = bytes
  if (!isDigit(a) || !isDigit(b) || !isDigit(c)) {
    throw new SmtpReplyError(`Not a reply line: ${JSON.stringify(preview(bytes))}`)
  }
  const code = (a - DIGIT_0) * 100 + (b - DIGIT_0) * 10 + (c - DIGIT_0)
  // RFC 5321 §4.2.1: the first digit is 2 to 5 (1yz is not used by SMTP).
  if (code < 200 || code > 599) throw new SmtpReplyError(`Reply code ${code} out of range`)
  const separator = bytes[3]
  // "250" alone ends a reply too: the text is optional (RFC 5321 §4.2).
  if (separator !== undefined && separator !== HYPHEN && separator !== SPACE) {
    throw new SmtpReplyError(`Not a reply line: ${JSON.stringify(preview(bytes))}`)
  }
  return { code, isLast: separator !== HYPHEN, text: bytes.subarray(4).toString('utf8') }
}

/**
 * RFC 2034 §4: an enhanced status code starts the text of each line and must agree with the
 * reply code's class. It is taken from the first line and stripped wherever it repeats.
 */
function withEnhancedStatus(code: number, texts: string[]): Reply {
  const match = ENHANCED_STATUS.exec(texts[0] ?? '')
  if (match === null || Number(match[1]) !== Math.floor(code / 100)) {
    return { code, status: null, lines: texts }
  }
  const status = `${match[1]}.${match[2]}.${match[3]}`
  const lines = texts.map((text) => {
    const found = ENHANCED_STATUS.exec(text)
    return found !== null && found[0].trimEnd() === match[0].trimEnd()
      ? text.slice(found[0].length)
      : text
  })
  return { code, status, lines }
}

function isDigit(octet: number): boolean {
  return octet >= DIGIT_0 && octet <= DIGIT_9
}

function preview(bytes: Buffer): string {
  return bytes.subarray(0, 40).toString('latin1')
}
