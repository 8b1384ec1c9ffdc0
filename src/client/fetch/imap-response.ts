// IMAP server responses as the client reads them (RFC 9051 §7, grammar in §9), with no I/O:
// where a line announces a literal, and how a whole response (lines and literals) becomes a tag,
// a status with its response code and text, or a tree of tokens. Bounded, and it fails only
// with MailClientError kind 'protocol', whatever the octets.
import { MailClientError } from './mail-socket.ts'

/**
 * A token of a response: an atom or number (string), a quoted string (string, unescaped), a
 * literal (Buffer), NIL (null), or a parenthesized list (array).
 */
export type ImapToken = string | Buffer | null | ImapToken[]

export type ImapStatus = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH'

export interface ImapResponse {
  /** '*' for an untagged response, '+' for a continuation request, else the command's tag. */
  tag: string
  /** For a status response (RFC 9051 §7.1) its status, upper case; null for any other. */
  status: ImapStatus | null
  /** A status response's code between "[" and "]", verbatim ("UIDNEXT 4"); null without one. */
  code: string | null
  /** The human-readable text of a status response or a continuation request. */
  text: string
  /** The data of any other response after its tag: ['3', 'EXISTS'], ['1', 'FETCH', [...]]. */
  tokens: ImapToken[]
}

export interface ImapResponseLimits {
  /** Octets of all the line text of one response, besides literals. */
  maxTextOctets: number
  /** Octets of one literal. */
  maxLiteralOctets: number
  /** Nesting of parenthesized lists. */
  maxDepth: number
}

/** RFC 9051 sets no line limit; 64 KiB holds any real response line (RFC 7162 §4 asks 8 KiB). */
export const MAX_RESPONSE_TEXT_OCTETS = 64 * 1024
export const MAX_RESPONSE_DEPTH = 32

export const DEFAULT_RESPONSE_LIMITS: ImapResponseLimits = {
  maxTextOctets: MAX_RESPONSE_TEXT_OCTETS,
  maxLiteralOctets: 256 * 1024 * 1024,
  maxDepth: MAX_RESPONSE_DEPTH,
}

const STATUSES = new Set<string>(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH'])
const SP = 0x20
const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_PAREN = 0x28
const CLOSE_PAREN = 0x29
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const TILDE = 0x7e

function garbage(message: string): MailClientError {
  return new MailClientError('protocol', `The server sent a malformed response: ${message}`)
}

/**
 * The size of the literal a response line (without its CRLF) announces at its end, `{n}`,
 * `{n+}` or `~{n}` (RFC 9051 §4.3, §9 literal and literal8), or null. A status response or a
 * continuation request never carries one (RFC 9051 §9: resp-text is text), so on the first line
 * of those a text that happens to end in "{5}" is just text.
 * @throws MailClientError kind 'protocol' for a literal larger than `maxLiteralOctets`.
 */
export function announcedLiteral(
  line: Buffer,
  isFirstLine: boolean,
  maxLiteralOctets: number,
): number | null {
  const size = literalAtEnd(line)
  if (size === null) return null
  if (isFirstLine && isStatusLine(line)) return null
  if (size > maxLiteralOctets) {
    throw new MailClientError(
      'protocol',
      `The server announced a literal of ${size} octets, more than the ${maxLiteralOctets} allowed`,
    )
  }
  return size
}

/** `{digits}` or `{digits+}` closing the line: the number, or null. Huge numbers are Infinity. */
function literalAtEnd(line: Buffer): number | null {
  if (line.length < 3 || line[line.length - 1] !== 0x7d) return null
  const open = line.lastIndexOf(OPEN_BRACE)
  if (open < 0) return null
  const match = /^([0-9]+)\+?$/.exec(line.toString('latin1', open + 1, line.length - 1))
  if (match === null) return null
  const digits = match[1] ?? ''
  return digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits)
}

/** "+ …" or "tag OK|NO|BAD|BYE|PREAUTH …". */
function isStatusLine(line: Buffer): boolean {
  if (line[0] === 0x2b) return true
  const first = line.indexOf(SP)
  if (first < 0) return false
  const second = line.indexOf(SP, first + 1)
  const word = line.toString('latin1', first + 1, second < 0 ? line.length : second)
  return STATUSES.has(word.toUpperCase())
}

/**
 * Parses one whole response. `pieces` alternate line text and literal octets: the first line
 * (without CRLF), then for each literal it announces at its end, the literal and the line text
 * that follows it. A response without literals is one piece.
 * @throws MailClientError kind 'protocol' for anything that is not a response, or one past the
 * limits.
 */
export function parseResponse(
  pieces: readonly Buffer[],
  limits: ImapResponseLimits = DEFAULT_RESPONSE_LIMITS,
): ImapResponse {
  if (pieces.length % 2 === 0) throw garbage('a literal without the line that follows it')
  let textOctets = 0
  for (const [index, piece] of pieces.entries()) {
    if (!Buffer.isBuffer(piece)) throw garbage('not octets')
    if (index % 2 === 0) textOctets += piece.length
    else if (piece.length > limits.maxLiteralOctets) throw garbage('a literal past the limit')
  }
  if (textOctets > limits.maxTextOctets) {
    throw garbage(`more than ${limits.maxTextOctets} octets of text`)
  }
  return new Parser(pieces, limits).response()
}

class Parser {
  readonly #pieces: readonly Buffer[]
  readonly #limits: ImapResponseLimits
  /** Index of the text piece being read; always even. */
  #piece = 0
  #text: Buffer
  #pos = 0

  constructor(pieces: readonly Buffer[], limits: ImapResponseLimits) {
    this.#pieces = pieces
    this.#limits = limits
    this.#text = pieces[0] ?? Buffer.alloc(0)
  }

  response(): ImapResponse {
    const text = this.#text
    const tagEnd = text.indexOf(SP)
    const tag = text.toString('latin1', 0, tagEnd < 0 ? text.length : tagEnd)
    // RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">; "*" untagged; "+" continuation.
    if (
      tag !== '*' &&
      tag !== '+' &&
      !/^[\x21\x23-\x24\x26-\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+$/.test(tag)
    ) {
      throw garbage(`bad tag ${JSON.stringify(tag.slice(0, 40))}`)
    }
    this.#pos = tagEnd < 0 ? text.length : tagEnd + 1
    if (tag === '+') {
      // RFC 9051 §7.6: continue-req = "+" SP (resp-text / base64); some servers omit the SP.
      this.#onlyOneLine('continuation request')
      return { tag, status: null, code: null, text: this.#rest(), tokens: [] }
    }
    if (tagEnd < 0) throw garbage(`nothing after the tag ${tag}`)
    const wordEnd = text.indexOf(SP, this.#pos)
    const word = text.toString('latin1', this.#pos, wordEnd < 0 ? text.length : wordEnd)
    const status = word.toUpperCase()
    if (STATUSES.has(status)) {
      this.#onlyOneLine('status response')
      this.#pos = wordEnd < 0 ? text.length : wordEnd + 1
      const code = this.#responseCode()
      return { tag, status: status as ImapStatus, code, text: this.#rest(), tokens: [] }
    }
    const tokens = this.#list(0, false)
    if (tokens.length === 0) throw garbage('no data after the tag')
    return { tag, status: null, code: null, text: '', tokens }
  }

  #onlyOneLine(what: string): void {
    if (this.#pieces.length > 1) throw garbage(`a literal in a ${what}`)
  }

  /** RFC 9051 §9: resp-text = ["[" resp-text-code "]" SP] [text]. */
  #responseCode(): string | null {
    const text = this.#text
    if (text[this.#pos] !== OPEN_BRACKET) return null
    const close = this.#closingBracket(this.#pos + 1)
    const code = text.toString('utf8', this.#pos + 1, close)
    this.#pos = close + 1
    if (text[this.#pos] === SP) this.#pos += 1
    return code
  }

  /** The index of the "]" that closes a bracket opened before `from`, skipping quoted strings. */
  #closingBracket(from: number): number {
    const text = this.#text
    let inQuote = false
    for (let i = from; i < text.length; i += 1) {
      const octet = text[i]
      if (inQuote && octet === BACKSLASH) i += 1
      else if (octet === QUOTE) inQuote = !inQuote
      else if (!inQuote && octet === CLOSE_BRACKET) return i
    }
    throw garbage('a "[" without its "]"')
  }

  #rest(): string {
    const rest = this.#text.toString('utf8', this.#pos)
    this.#pos = this.#text.length
    return rest
  }

  /** Tokens up to the ")" that closes the list (`isNested`) or the end of the response. */
  #list(depth: number, isNested: boolean): ImapToken[] {
    const tokens: ImapToken[] = []
    for (;;) {
      while (this.#text[this.#pos] === SP) this.#pos += 1
      const octet = this.#text[this.#pos]
      if (octet === undefined) {
        // A literal is only ever consumed as a token; one left over was announced inside one.
        if (this.#piece + 1 < this.#pieces.length) throw garbage('a literal inside a token')
        if (isNested) throw garbage('a "(" without its ")"')
        return tokens
      }
      if (octet === CLOSE_PAREN) {
        if (!isNested) throw garbage('a ")" without its "("')
        this.#pos += 1
        return tokens
      }
      if (octet === OPEN_PAREN) {
        if (depth + 1 > this.#limits.maxDepth) {
          throw garbage(`lists nested deeper than ${this.#limits.maxDepth}`)
        }
        this.#pos += 1
        tokens.push(this.#list(depth + 1, true))
      } else if (octet === QUOTE) {
        tokens.push(this.#quoted())
      } else if (
        octet === OPEN_BRACE ||
        (octet === TILDE && this.#text[this.#pos + 1] === OPEN_BRACE)
      ) {
        tokens.push(this.#literal())
      } else {
        tokens.push(this.#atom())
      }
    }
  }

  /** RFC 9051 §9: quoted = DQUOTE *QUOTED-CHAR DQUOTE, with "\" escaping DQUOTE and "\". */
  #quoted(): string {
    const text = this.#text
    const octets: number[] = []
    for (let i = this.#pos + 1; i < text.length; i += 1) {
      let octet = text[i] as number
      if (octet === QUOTE) {
        this.#pos = i + 1
        return Buffer.from(octets).toString('utf8')
      }
      if (octet === BACKSLASH) {
        i += 1
        if (i >= text.length) break
        octet = text[i] as number
      }
      octets.push(octet)
    }
    throw garbage('a quoted string without its closing quote')
  }

  /** RFC 9051 §9: literal = "{" number64 ["+"] "}" CRLF *CHAR8; literal8 has "~" in front. */
  #literal(): Buffer {
    const text = this.#text
    const start = this.#text[this.#pos] === TILDE ? this.#pos + 1 : this.#pos
    const size = literalAtEnd(text.subarray(start))
    const literal = this.#pieces[this.#piece + 1]
    const next = this.#pieces[this.#piece + 2]
    const isAnnouncement = size !== null && text.lastIndexOf(OPEN_BRACE) === start
    if (!isAnnouncement || literal === undefined || next === undefined) {
      throw garbage('a "{" that does not announce a literal at the end of a line')
    }
    if (literal.length !== size) {
      throw garbage(`a literal of ${literal.length} octets announced as ${size}`)
    }
    this.#piece += 2
    this.#text = next
    this.#pos = 0
    return literal
  }

  /**
   * An atom, number, flag ("\Seen", "\*") or NIL. A "[" in it runs to its "]" whatever is
   * between, as in the FETCH item BODY[HEADER.FIELDS (SUBJECT)]<0>.
   */
  #atom(): string | null {
    const text = this.#text
    const start = this.#pos
    let i = start
    while (i < text.length) {
      const octet = text[i] as number
      if (octet === SP || octet === OPEN_PAREN || octet === CLOSE_PAREN || octet === QUOTE) break
      if (octet < 0x20 || octet === 0x7f) throw garbage(`control character ${octet} in an atom`)
      i = octet === OPEN_BRACKET ? this.#closingBracket(i + 1) + 1 : i + 1
    }
    if (i === start) throw garbage('an empty atom')
    this.#pos = i
    const atom = text.toString('utf8', start, i)
    return atom.toUpperCase() === 'NIL' ? null : atom
  }
}

/** A token as a number: an unsigned decimal up to 2^63 (RFC 9051 §9 number64), else null. */
export function tokenNumber(token: ImapToken | undefined): number | null {
  if (typeof token !== 'string' || !/^[0-9]{1,19}$/.test(token)) return null
  const value = Number(token)
  return Number.isSafeInteger(value) ? value : null
}

/** The value after `name` in a list of name/value pairs (a FETCH response), case-insensitive. */
export function itemValue(items: readonly ImapToken[], name: string): ImapToken | undefined {
  const upper = name.toUpperCase()
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = items[i]
    if (typeof key === 'string' && key.toUpperCase() === upper) return items[i + 1]
  }
  return undefined
}
