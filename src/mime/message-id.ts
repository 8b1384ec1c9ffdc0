/**
 * Message identifiers: the Message-ID, In-Reply-To and References header fields (RFC 5322
 * §3.6.4), which IMAP ENVELOPE returns and threading follows.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.6.4
 */
import { randomBytes } from 'node:crypto'
import { commentEnd, findClose, toAsciiDomain } from './address.ts'

/**
 * The message identifiers in a Message-ID, In-Reply-To or References field value, in order,
 * each with its angle brackets. Comments and whitespace inside an identifier are removed
 * (`<abc @ example.com>` is `<abc@example.com>`); quoted strings and domain literals are kept
 * as written. Words between identifiers are skipped, as the obsolete In-Reply-To carries a
 * phrase ("Your message of …"). An identifier written without brackets (`abc@example.com`)
 * counts only when the value has no bracketed one, so an address in such a phrase is not
 * taken for an identifier. Never throws.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.6.4
 */
// msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]   (RFC 5322 §3.6.4)
// in-reply-to = "In-Reply-To:" 1*msg-id CRLF
// references = "References:" 1*msg-id CRLF
// obs-in-reply-to = "In-Reply-To:" *(phrase / msg-id) CRLF   (RFC 5322 §4.5.4)
// obs-references = "References:" *(phrase / msg-id) CRLF
export function parseMessageIds(text: string): string[] {
  const scanner = new MessageIdScanner(text)
  const bracketed: string[] = []
  const bare: string[] = []
  let i = 0
  while (i < text.length) {
    const char = text[i] ?? ''
    if (char === '(') {
      i = scanner.afterComment(i)
    } else if (char === '"' && scanner.canQuote) {
      i = scanner.afterQuoted(i) // a quoted-string is part of a phrase here
    } else if (char === '<') {
      const { id, end } = scanner.readBracketed(i + 1)
      if (id !== '') bracketed.push(`<${id}>`)
      i = end
    } else if (isSeparator(char, text.charCodeAt(i))) {
      i += 1
    } else {
      let end = i + 1
      while (end < text.length && !isWordEnd(text, end, scanner.canQuote)) end += 1
      const word = text.slice(i, end)
      if (BARE_ID.test(word)) bare.push(`<${word}>`)
      i = end
    }
  }
  return bracketed.length > 0 ? bracketed : bare
}

/**
 * A new Message-ID, `<random@domain>`: 128 random bits in base 36. Lower case only, so that
 * a system that folds case when it compares identifiers (RFC 5322 says they are compared
 * exactly, but not everyone does) still tells two of them apart. The domain is written in its
 * ASCII form, so the identifier is valid in a message without RFC 6532 support.
 */
// msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]   (RFC 5322 §3.6.4)
export function generateMessageId(domain: string): string {
  const host = toAsciiDomain(domain)
  if (host === null) {
    throw new RangeError(`Cannot generate a Message-ID for "${domain}", it is not a domain name`)
  }
  // 36^25 > 2^128, so 25 digits hold every value; the padding keeps the length fixed.
  const local = BigInt(`0x${randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0')
  return `<${local}@${host}>`
}

// A bare id is a guess, so it must look like one: text on both sides of a single "@", and no
// quote or bracket except a whole domain literal on the right. A stray "[" would open a
// literal once the id has its brackets.
const BARE_ID = /^[^@"[\]\\]+@(?:[^@"[\]\\]+|\[[^@"[\]\\]*\])$/

function isSeparator(char: string, code: number): boolean {
  // Deviation from RFC 5322 §3.6.4: commas between identifiers occur in References, and a stray
  // ">" is noise.
  return code <= 0x20 || code === 0x7f || char === ',' || char === '>'
}

function isWordEnd(text: string, i: number, canQuote: boolean): boolean {
  const char = text[i] ?? ''
  return (
    isSeparator(char, text.charCodeAt(i)) ||
    char === '(' ||
    char === '<' ||
    (char === '"' && canQuote)
  )
}

class MessageIdScanner {
  readonly #text: string
  // After a quote or bracket that is never closed, later ones are plain characters: the first
  // one's scan already showed there is no closing one, and scanning again from each would be
  // quadratic.
  canQuote = true
  #canLiteral = true

  constructor(text: string) {
    this.#text = text
  }

  afterComment(start: number): number {
    const end = commentEnd(this.#text, start)
    return end < 0 ? this.#text.length : end
  }

  afterQuoted(start: number): number {
    const end = findClose(this.#text, start, '"')
    if (end >= 0) return end + 1
    this.canQuote = false
    return start + 1
  }

  // id-left = dot-atom-text / obs-id-left   (RFC 5322 §3.6.4)
  // id-right = dot-atom-text / no-fold-literal / obs-id-right
  // obs-id-left = local-part   (RFC 5322 §4.5.4)
  // obs-id-right = domain
  /** The identifier between "<" and ">", without CFWS; ends early at "<" or "," (no ">"). */
  readBracketed(start: number): { id: string; end: number } {
    const text = this.#text
    let id = ''
    let i = start
    while (i < text.length) {
      const char = text[i] ?? ''
      const code = text.charCodeAt(i)
      if (char === '>') return { id, end: i + 1 }
      if (char === '<' || char === ',') return { id, end: i }
      if (char === '(') {
        i = this.afterComment(i)
        continue
      }
      if (code <= 0x20 || code === 0x7f) {
        i += 1
        continue
      }
      if (char === '"' && this.canQuote) {
        const end = findClose(text, i, '"')
        if (end >= 0) {
          id += text.slice(i, end + 1)
          i = end + 1
          continue
        }
        this.canQuote = false
      } else if (char === '[' && this.#canLiteral) {
        const end = findClose(text, i, ']')
        if (end >= 0) {
          id += text.slice(i, end + 1)
          i = end + 1
          continue
        }
        this.#canLiteral = false
      }
      id += char
      i += 1
    }
    return { id, end: text.length }
  }
}
