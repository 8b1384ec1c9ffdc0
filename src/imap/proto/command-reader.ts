import { MAX_LIST_DEPTH } from './limits.ts'
import { literalAtLineEnd } from './literal.ts'

/** A command that does not follow the grammar; the server answers it with BAD and this text. */
export class ParseError extends Error {
  override name = 'ParseError'
}

const SP = 0x20
const DQUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_PAREN = 0x28
const CLOSE_PAREN = 0x29
const CLOSE_BRACKET = 0x5d
const PLUS = 0x2b

/**
 * RFC 9051 §9 atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". An ATOM-CHAR is any
 * other CHAR (0x01-0x7f); 8-bit octets are not atom characters.
 */
function isAtomChar(octet: number): boolean {
  if (octet <= 0x20 || octet >= 0x7f) return false
  return !'(){%*"\\]'.includes(String.fromCharCode(octet))
}

/** ASTRING-CHAR = ATOM-CHAR / resp-specials ("]"). */
function isAstringChar(octet: number): boolean {
  return isAtomChar(octet) || octet === CLOSE_BRACKET
}

/**
 * Reads one IMAP command as the server assembled it: the text lines (without CRLF) and the
 * literal octets between them, every line but the last ending with a literal's announcement
 * (RFC 9051 §4.3: "{n}" or, RFC 7888, "{n+}"; RFC 3516 "~{n}"). Recursive descent over the
 * grammar's tokens; every method either consumes exactly its token or throws ParseError, whose
 * message the server sends back with BAD. Strings come back as Buffers: what they mean (UTF-8,
 * modified UTF-7, a charset) is the command's business.
 */
export class CommandReader {
  readonly #lines: readonly Buffer[]
  readonly #literals: readonly Buffer[]
  #line = 0
  #pos = 0
  #depth = 0

  constructor(lines: readonly Buffer[], literals: readonly Buffer[] = []) {
    if (lines.length !== literals.length + 1) {
      throw new RangeError('A command has one more line than it has literals')
    }
    this.#lines = lines
    this.#literals = literals
  }

  get #text(): Buffer {
    return this.#lines[this.#line] as Buffer
  }

  /** Whether the whole command has been read. */
  get isAtEnd(): boolean {
    return this.#line === this.#lines.length - 1 && this.#pos >= this.#text.length
  }

  /** The next octet of the current line, or -1 at its end (a literal or the command's end). */
  peek(): number {
    return this.#pos < this.#text.length ? (this.#text[this.#pos] as number) : -1
  }

  /** Whether the next octet is `char`, consuming it if so. */
  take(char: string): boolean {
    if (this.peek() !== char.charCodeAt(0)) return false
    this.#pos += 1
    return true
  }

  expect(char: string, what = `"${char}"`): void {
    if (!this.take(char)) throw this.#error(`expected ${what}`)
  }

  /** Exactly one space (RFC 9051 §9: SP, never several). */
  space(): void {
    if (this.peek() !== SP) throw this.#error('expected a space')
    this.#pos += 1
  }

  /** The end of the command: nothing may follow. */
  end(): void {
    if (!this.isAtEnd) throw this.#error('unexpected text at the end of the command')
  }

  /** tag = 1*<any ASTRING-CHAR except "+"> */
  tag(): string {
    return this.#run((octet) => isAstringChar(octet) && octet !== PLUS, 'a tag')
  }

  /** atom = 1*ATOM-CHAR (command names, flags' words, search keys…), as written. */
  atom(): string {
    return this.#run(isAtomChar, 'an atom')
  }

  /** An atom compared case-insensitively: the keyword in upper case. */
  keyword(): string {
    return this.atom().toUpperCase()
  }

  /** astring = 1*ASTRING-CHAR / string */
  astring(): Buffer {
    const octet = this.peek()
    if (octet === DQUOTE || this.#isAtLiteral()) return this.string()
    return Buffer.from(this.#run(isAstringChar, 'an atom or a string'), 'latin1')
  }

  /** nstring = string / NIL */
  nstring(): Buffer | null {
    if (this.#isNil()) return null
    return this.string()
  }

  /** string = quoted / literal */
  string(): Buffer {
    if (this.peek() === DQUOTE) return this.#quoted()
    if (this.#isAtLiteral()) return this.#literal()
    throw this.#error('expected a quoted string or a literal')
  }

  /** literal8 (RFC 3516 "~{n}") or an ordinary literal: APPEND's message data. */
  literalData(): { data: Buffer; isBinary: boolean } {
    if (!this.#isAtLiteral()) throw this.#error('expected a literal')
    const isBinary = this.#text[this.#pos] === 0x7e
    return { data: this.#literal(), isBinary }
  }

  /** Whether a literal (of any kind) comes next. */
  isAtLiteral(): boolean {
    return this.#isAtLiteral()
  }

  /** number = 1*DIGIT, at most 2^32 - 1 (RFC 9051 §9: unsigned 32-bit). */
  number(): number {
    return this.#number(0xffff_ffff, 'a number')
  }

  /** nz-number: a number other than 0, written without a leading zero. */
  nzNumber(): number {
    if (this.peek() === 0x30) throw this.#error('expected a non-zero number')
    return this.#number(0xffff_ffff, 'a non-zero number')
  }

  /** number64 (RFC 9051 §9: MODSEQ and literal sizes), within what a JS number holds exactly. */
  number64(): number {
    return this.#number(Number.MAX_SAFE_INTEGER, 'a number')
  }

  /** "(" — a list opens; nesting is bounded so a hostile command cannot recurse forever. */
  openList(): void {
    this.expect('(')
    this.#depth += 1
    if (this.#depth > MAX_LIST_DEPTH) {
      throw this.#error(`lists nested deeper than ${MAX_LIST_DEPTH}`)
    }
  }

  closeList(): void {
    this.expect(')')
    this.#depth -= 1
  }

  /**
   * A parenthesized, space-separated list of items, "()" included: `item` reads one. With
   * `allowBare`, a single item without parentheses is taken as a list of one.
   */
  list<T>(item: (reader: CommandReader) => T, options: { allowBare?: boolean } = {}): T[] {
    if (this.peek() !== OPEN_PAREN) {
      if (options.allowBare === true) return [item(this)]
      throw this.#error('expected "("')
    }
    this.openList()
    const items: T[] = []
    if (this.peek() !== CLOSE_PAREN) {
      items.push(item(this))
      while (this.peek() === SP) {
        this.#pos += 1
        items.push(item(this))
      }
    }
    this.closeList()
    return items
  }

  /** Octets up to (not including) the next space or ")" or the line's end, for sequence sets. */
  word(what: string): string {
    return this.#run((octet) => octet > SP && octet !== CLOSE_PAREN && octet < 0x7f, what)
  }

  #isNil(): boolean {
    const text = this.#text
    if (this.#pos + 3 > text.length) return false
    if (
      text
        .subarray(this.#pos, this.#pos + 3)
        .toString('latin1')
        .toUpperCase() !== 'NIL'
    )
      return false
    const after = this.#pos + 3 < text.length ? (text[this.#pos + 3] as number) : -1
    if (after !== -1 && isAstringChar(after)) return false
    this.#pos += 3
    return true
  }

  /** Whether the rest of this line is exactly a literal's announcement (and a literal follows). */
  #isAtLiteral(): boolean {
    if (this.#line >= this.#literals.length) return false
    const rest = this.#text.subarray(this.#pos)
    const first = rest[0] === 0x7e ? 1 : 0
    return rest[first] === 0x7b && literalAtLineEnd(rest) !== null
  }

  #literal(): Buffer {
    const rest = this.#text.subarray(this.#pos)
    const announced = literalAtLineEnd(rest)
    const data = this.#literals[this.#line] as Buffer
    if (announced === null || announced === 'malformed' || announced.size !== data.length) {
      throw this.#error('malformed literal')
    }
    this.#line += 1
    this.#pos = 0
    return data
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE; "\" escapes only DQUOTE and "\". */
  #quoted(): Buffer {
    const text = this.#text
    const out: number[] = []
    let pos = this.#pos + 1
    for (;;) {
      if (pos >= text.length) throw this.#error('unterminated quoted string')
      const octet = text[pos] as number
      if (octet === DQUOTE) break
      if (octet === BACKSLASH) {
        const next = text[pos + 1]
        if (next !== DQUOTE && next !== BACKSLASH) {
          throw this.#error('a backslash in a quoted string escapes only " and \\')
        }
        out.push(next)
        pos += 2
        continue
      }
      // TEXT-CHAR excludes CR and LF (which cannot be here: lines are split at them) and NUL.
      if (octet === 0) throw this.#error('NUL in a quoted string')
      out.push(octet)
      pos += 1
    }
    this.#pos = pos + 1
    return Buffer.from(out)
  }

  #number(max: number, what: string): number {
    const text = this.#text
    let pos = this.#pos
    let value = 0
    while (pos < text.length) {
      const octet = text[pos] as number
      if (octet < 0x30 || octet > 0x39) break
      value = value * 10 + (octet - 0x30)
      if (value > max) throw this.#error(`${what} too large`)
      pos += 1
    }
    if (pos === this.#pos) throw this.#error(`expected ${what}`)
    this.#pos = pos
    return value
  }

  #run(accept: (octet: number) => boolean, what: string): string {
    const text = this.#text
    let pos = this.#pos
    while (pos < text.length && accept(text[pos] as number)) pos += 1
    if (pos === this.#pos) throw this.#error(`expected ${what}`)
    const value = text.subarray(this.#pos, pos).toString('latin1')
    this.#pos = pos
    return value
  }

  #error(message: string): ParseError {
    return new ParseError(message)
  }
}
