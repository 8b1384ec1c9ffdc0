import { decodeText } from './charset.ts'
import { fieldValueBytes, transferEncodingValue } from './header/fields.ts'
import { decodeEncodedWords, decodeHeaderBytes } from './header/index.ts'
import type { MimePart, ParsedMessage } from './parse-message.ts'
import { decodeTransferEncoding } from './transfer-encoding/index.ts'

/**
 * Text of a message as IMAP SEARCH matches it (RFC 9051 §6.4.4: HEADER, SUBJECT, FROM… match
 * decoded header values; BODY and TEXT match the decoded body text), computed once at delivery
 * and stored so that SEARCH never re-parses.
 */
export interface SearchText {
  /** Every field of the top-level header, name lower-cased, value unfolded and decoded. */
  headers: Array<{ name: string; value: string }>
  /** The decoded text of every text/* part, at any depth, joined by newlines; HTML as text. */
  body: string
}

/**
 * Upper bound of body text kept per message. SEARCH is substring matching, so text past the
 * bound would not be found; 8 Mi characters is more text than any human-written message has.
 */
export const MAX_SEARCH_BODY_CHARS = 8 * 1024 * 1024

/**
 * No charset spends more octets than this on one character, so decoding only that many octets
 * per wanted character loses no text and keeps slow charsets (UTF-7) from decoding megabytes
 * that would be thrown away.
 */
const MAX_OCTETS_PER_CHAR = 8

export function searchText(
  message: ParsedMessage,
  maxBodyChars = MAX_SEARCH_BODY_CHARS,
): SearchText {
  const { bytes, root } = message
  const headers = root.header.fields.map((field) => ({
    name: field.lowerName,
    value: decodeHeaderValue(fieldValueBytes(bytes, field)),
  }))
  const texts: string[] = []
  let length = 0
  const visit = (part: MimePart) => {
    if (length >= maxBodyChars) return
    if (part.children.length > 0) {
      for (const child of part.children) visit(child)
      return
    }
    if (part.message !== null) {
      visit(part.message)
      return
    }
    if (part.contentType.type !== 'text') return
    const decoded = decodeTransferEncoding(
      bytes.subarray(part.bodyStart, part.bodyEnd),
      transferEncodingValue(bytes, part.header.fields),
    ).subarray(0, (maxBodyChars - length) * MAX_OCTETS_PER_CHAR)
    let text = decodeText(decoded, part.contentType.params.get('charset'))
    if (part.contentType.subtype === 'html') text = htmlToText(text)
    texts.push(text.slice(0, maxBodyChars - length))
    length += text.length
  }
  visit(root)
  return { headers, body: texts.join('\n') }
}

/** A header value for people: unfolded, 8-bit octets read as UTF-8 (RFC 6532), words decoded. */
export function decodeHeaderValue(raw: Uint8Array): string {
  const text = decodeHeaderBytes(raw)
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/\r?\n/g, '')
    .trim()
  return decodeEncodedWords(text)
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
}

/**
 * Just enough HTML-to-text for substring search: drops scripts, styles, comments and tags,
 * decodes the common entities, keeps block boundaries as line breaks. One forward scan, so
 * linear whatever the input; an unterminated tag, comment or script ends the text there.
 */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase()
  const out: string[] = []
  let position = 0
  while (position < html.length) {
    const open = html.indexOf('<', position)
    if (open < 0) {
      out.push(decodeEntities(html.slice(position)))
      break
    }
    out.push(decodeEntities(html.slice(position, open)))
    if (html.startsWith('<!--', open)) {
      const end = html.indexOf('-->', open + 4)
      if (end < 0) break
      out.push(' ')
      position = end + 3
      continue
    }
    const close = html.indexOf('>', open + 1)
    if (close < 0) break
    const name = /^\/?([a-z][a-z0-9]*)/.exec(lower.slice(open + 1, Math.min(close, open + 12)))
    const tag = name?.[1] ?? ''
    position = close + 1
    if ((tag === 'script' || tag === 'style') && !name?.[0].startsWith('/')) {
      // Their content is code, not text: skip to the end tag.
      const endTag = lower.indexOf(`</${tag}`, position)
      const endClose = endTag < 0 ? -1 : html.indexOf('>', endTag)
      if (endClose < 0) break
      out.push(' ')
      position = endClose + 1
    } else if (BLOCK_TAGS.has(tag) && !name?.[0].startsWith('/')) {
      out.push('\n')
    }
  }
  return out.join('')
}

const BLOCK_TAGS = new Set(['br', 'p', 'div', 'tr', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6'])

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (entity, code: string) => {
    const lower = code.toLowerCase()
    if (lower.startsWith('#x')) return safeCodePoint(Number.parseInt(lower.slice(2), 16), entity)
    if (lower.startsWith('#')) return safeCodePoint(Number.parseInt(lower.slice(1), 10), entity)
    return ENTITIES[lower] ?? entity
  })
}

function safeCodePoint(code: number, fallback: string): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback
}
