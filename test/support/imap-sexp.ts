// IMAP responses read into a generic s-expression (RFC 9051 §4, §9), so that two servers'
// answers can be compared on what they say rather than how they spell it: a string is a string
// whether it came quoted or as a literal (or literal8), NIL is null, and atoms, numbers and
// lists are as sent. Text is binary: one character per octet (latin1).

export type Sexp = null | { atom: string } | { string: string } | Sexp[]

/** Parses one whole response (as ImapTestClient.readLine returns it) into its values. */
export function parseResponse(text: string): Sexp[] {
  const parser = new Parser(text)
  const values: Sexp[] = []
  for (;;) {
    parser.skipSpaces()
    if (parser.atEnd()) return values
    values.push(parser.value())
  }
}

/** The items of a FETCH response, "* n FETCH (name value …)", by name; null for other lines. */
export function fetchResponse(text: string): { seq: number; items: Map<string, Sexp> } | null {
  const values = parseResponse(text)
  const [star, seq, name, list] = values
  if (!isAtom(star, '*') || !isAtom(name, 'FETCH') || !Array.isArray(list)) return null
  if (seq === null || seq === undefined || Array.isArray(seq) || !('atom' in seq)) return null
  const items = new Map<string, Sexp>()
  for (let i = 0; i + 1 < list.length; i += 2) {
    const key = list[i]
    if (key === null || key === undefined || Array.isArray(key) || !('atom' in key)) {
      throw new Error(`FETCH item name expected at ${i} in ${text.slice(0, 200)}`)
    }
    items.set(key.atom.toUpperCase(), list[i + 1] ?? null)
  }
  return { seq: Number(seq.atom), items }
}

function isAtom(value: Sexp | undefined, atom: string): boolean {
  return value !== null && value !== undefined && !Array.isArray(value) && 'atom' in value
    ? value.atom.toUpperCase() === atom
    : false
}

/**
 * One canonical spelling: atoms bare, NIL, strings as JSON strings (so quoting and literals
 * look the same, and control and 8-bit octets are visible), lists in parentheses.
 */
export function formatSexp(value: Sexp): string {
  if (value === null) return 'NIL'
  if (Array.isArray(value)) return `(${value.map(formatSexp).join(' ')})`
  if ('atom' in value) return value.atom
  // JSON escapes C0 controls; C1 controls and DEL are made visible too.
  return JSON.stringify(value.string).replace(
    /[\x7f-\x9f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** A string value's octets; undefined when the value is not a string. */
export function stringOf(value: Sexp | undefined): string | undefined {
  return value !== null && value !== undefined && !Array.isArray(value) && 'string' in value
    ? value.string
    : undefined
}

class Parser {
  readonly #text: string
  #at = 0

  constructor(text: string) {
    this.#text = text
  }

  atEnd(): boolean {
    return this.#at >= this.#text.length
  }

  skipSpaces(): void {
    while (this.#text[this.#at] === ' ') this.#at++
  }

  value(): Sexp {
    this.skipSpaces()
    const char = this.#text[this.#at]
    if (char === '(') return this.#list()
    if (char === '"') return { string: this.#quoted() }
    if (char === '{' || (char === '~' && this.#text[this.#at + 1] === '{')) {
      return { string: this.#literal() }
    }
    const atom = this.#atom()
    return atom.toUpperCase() === 'NIL' ? null : { atom }
  }

  #list(): Sexp[] {
    this.#at++ // (
    const values: Sexp[] = []
    for (;;) {
      this.skipSpaces()
      if (this.atEnd()) throw new Error(`unterminated list in ${this.#context()}`)
      if (this.#text[this.#at] === ')') {
        this.#at++
        return values
      }
      values.push(this.value())
    }
  }

  #quoted(): string {
    this.#at++ // "
    let value = ''
    for (;;) {
      const char = this.#text[this.#at++]
      if (char === undefined) throw new Error(`unterminated quoted string in ${this.#context()}`)
      if (char === '"') return value
      if (char === '\\') {
        const escaped = this.#text[this.#at++]
        if (escaped === undefined) throw new Error(`bad escape in ${this.#context()}`)
        value += escaped
      } else {
        value += char
      }
    }
  }

  #literal(): string {
    if (this.#text[this.#at] === '~') this.#at++
    const match = /^\{(\d+)\+?\}\r\n/.exec(this.#text.slice(this.#at, this.#at + 32))
    if (match === null) throw new Error(`bad literal in ${this.#context()}`)
    const start = this.#at + match[0].length
    const end = start + Number(match[1])
    if (end > this.#text.length) throw new Error(`short literal in ${this.#context()}`)
    this.#at = end
    return this.#text.slice(start, end)
  }

  /** An atom; a "[…]" section in it (BODY[HEADER.FIELDS (A B)], response codes) runs to its "]". */
  #atom(): string {
    const start = this.#at
    let depth = 0
    for (;;) {
      const char = this.#text[this.#at]
      if (char === undefined) break
      if (char === '[') depth++
      else if (char === ']') depth = Math.max(0, depth - 1)
      else if (depth === 0 && (char === ' ' || char === '(' || char === ')')) break
      this.#at++
    }
    if (this.#at === start) throw new Error(`unexpected ${this.#context()}`)
    return this.#text.slice(start, this.#at)
  }

  #context(): string {
    return JSON.stringify(this.#text.slice(Math.max(0, this.#at - 40), this.#at + 40))
  }
}
