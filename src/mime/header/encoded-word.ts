/**
 * Non-ASCII text in header fields: raw UTF-8 (RFC 6532 §3.2) and encoded-words (RFC 2047 §2).
 *
 * @see https://www.rfc-editor.org/rfc/rfc2047
 * @see https://www.rfc-editor.org/rfc/rfc6532#section-3.2
 */

import { decodeText, normalizeCharset } from '../charset.ts'
import { decodeHexEscapes } from '../hex-escapes.ts'
import { decodeBase64 } from '../transfer-encoding/index.ts'

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const EQUALS = 0x3d
const QUESTION_MARK = 0x3f

// RFC 2047 §2: "An 'encoded-word' may not be more than 75 characters long".
const MAX_ENCODED_WORD_LENGTH = 75
// RFC 2047 §2: a line holding an encoded-word is at most 76 characters.
const MAX_LINE_LENGTH_WITH_WORDS = 76
// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters and MUST be at most 998.
const MAX_FOLDED_LINE_LENGTH = 78
const MAX_LINE_LENGTH = 998

const WORD_PREFIX_Q = '=?UTF-8?Q?'
const WORD_PREFIX_B = '=?UTF-8?B?'
const WORD_OVERHEAD = WORD_PREFIX_Q.length + '?='.length
// The longest UTF-8 character costs 4 octets: 12 characters in Q, 8 in B.
const MAX_CHARACTER_COST = 12

const HEX_DIGITS = '0123456789ABCDEF'

/**
 * A raw header field value as text. Never throws.
 *
 * RFC 6532 §3.2 lets header fields carry UTF-8 directly, so valid UTF-8 is read as UTF-8.
 * Anything else is 8-bit text from before RFC 6532 in some unknown charset, read as
 * windows-1252 so that every octet maps to a character and nothing is lost. Encoded-words are
 * left for decodeEncodedWords, which only the fields that allow them should go through.
 */
export function decodeHeaderBytes(raw: Uint8Array): string {
  return decodeText(raw)
}

interface EncodedWord {
  end: number
  charset: string
  isBase64: boolean
  encodedText: string
}

interface WordRun {
  /** The charset as normalizeCharset names it, or as written when it knows no such charset. */
  key: string
  charset: string
  chunks: Buffer[]
  /** Base64 text of the B words seen since the last Q word, decoded as one. */
  base64: string
}

/**
 * Decodes the RFC 2047 encoded-words in unfolded header text. Never throws, and runs in time
 * linear in the length of the text whatever it holds.
 *
 * encoded-word = "=?" charset "?" encoding "?" encoded-text "?="   (RFC 2047 §2)
 * charset = token    ; see section 3
 * encoding = token   ; see section 4
 * token = 1*<Any CHAR except SPACE, CTLs, and especials>
 * encoded-text = 1*<Any printable ASCII character other than "?" or SPACE>
 * encoded-word := "=?" charset ["*" language] "?" encoding "?" encoded-text "?="
 *                                                                     (RFC 2231 §5)
 *
 * Behaviour:
 * - B and Q are read in either case (RFC 2047 §2); "_" is a space in Q (RFC 2047 §4.2).
 * - Whitespace between two encoded-words is dropped (RFC 2047 §6.2).
 * - Adjacent encoded-words in one charset are decoded together, octets first, so a character
 *   split across two words comes out whole. RFC 2047 §5 forbids the split, but mailers do it;
 *   some even split a base64 group, which joining the B text before decoding also mends.
 * - A word that does not parse (or B text with characters outside base64) stays as written.
 * - A charset nobody knows still decodes, by decodeText's best effort.
 *
 * Deviations from RFC 2047 §5, for mail as it is written: encoded-words are found anywhere,
 * not only as whole whitespace-separated words (`foo=?utf-8?q?bar?=` is common in the
 * wild); the 75-character limit is not enforced; spaces inside encoded-text are kept in Q
 * and skipped in B (broken encoders and unfolded B words); and Q text holding raw 8-bit
 * characters has those characters taken as their UTF-8 octets.
 */
export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text
  const parts: string[] = []
  let run: WordRun | null = null
  let copiedUpTo = 0
  let searchFrom = 0
  for (;;) {
    const start = text.indexOf('=?', searchFrom)
    if (start === -1) break
    const word = parseEncodedWordAt(text, start)
    if (word === null) {
      searchFrom = start + 1
      continue
    }
    const charsetName = word.charset === '' ? null : normalizeCharset(word.charset)
    const key = charsetName ?? word.charset.toLowerCase()
    const isAdjacent = run !== null && isLinearWhitespace(text, copiedUpTo, start)
    if (run !== null && (!isAdjacent || run.key !== key)) {
      parts.push(finishRun(run))
      run = null
    }
    if (!isAdjacent) parts.push(text.slice(copiedUpTo, start))
    run ??= { key, charset: word.charset, chunks: [], base64: '' }
    addWord(run, word)
    copiedUpTo = word.end
    searchFrom = word.end
  }
  if (run !== null) parts.push(finishRun(run))
  parts.push(text.slice(copiedUpTo))
  return parts.join('')
}

// Each scan below stops at the next "?", and every candidate start holds one, so no character
// is scanned by more than a few candidates: the whole search stays linear.
function parseEncodedWordAt(text: string, start: number): EncodedWord | null {
  let i = start + 2
  while (i < text.length && text.charCodeAt(i) !== QUESTION_MARK) {
    const code = text.charCodeAt(i)
    if (code <= SPACE || code >= 0x7f) return null
    i += 1
  }
  if (i === start + 2 || i + 2 >= text.length) return null
  const encoding = text.charCodeAt(i + 1) | 0x20 // ASCII lower case
  if ((encoding !== 0x62 && encoding !== 0x71) || text.charCodeAt(i + 2) !== QUESTION_MARK) {
    return null
  }
  const isBase64 = encoding === 0x62
  const textStart = i + 3
  let end = textStart
  while (end < text.length && text.charCodeAt(end) !== QUESTION_MARK) {
    const code = text.charCodeAt(end)
    if (code === CR || code === LF) return null
    if (isBase64 && !isBase64TextChar(code)) return null
    end += 1
  }
  if (text.charCodeAt(end + 1) !== EQUALS) return null
  const label = text.slice(start + 2, i)
  const languageAt = label.indexOf('*')
  return {
    end: end + 2,
    charset: languageAt === -1 ? label : label.slice(0, languageAt),
    isBase64,
    encodedText: text.slice(textStart, end),
  }
}

function isBase64TextChar(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2b ||
    code === 0x2f ||
    code === EQUALS ||
    code === SPACE ||
    code === TAB
  )
}

// RFC 2047 §6.2 speaks of "linear-white-space": spaces and tabs, and folds if left in.
function isLinearWhitespace(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i += 1) {
    const code = text.charCodeAt(i)
    if (code !== SPACE && code !== TAB && code !== CR && code !== LF) return false
  }
  return true
}

function addWord(run: WordRun, word: EncodedWord): void {
  if (word.isBase64) {
    const text = word.encodedText.replace(/\s+/g, '')
    // Words are decoded one by one, except that a word cut inside a 4-character group is joined
    // with the next word when that completes the group. A word that is whole on its own after an
    // unaligned one means the earlier word only lacked its padding.
    if (run.base64.length % 4 !== 0 && text.length % 4 === 0) flushBase64(run)
    run.base64 += text
    if (run.base64.length % 4 === 0 || run.base64.endsWith('=')) flushBase64(run)
    return
  }
  flushBase64(run)
  run.chunks.push(decodeQ(word.encodedText))
}

function flushBase64(run: WordRun): void {
  if (run.base64 === '') return
  run.chunks.push(decodeBase64(Buffer.from(run.base64, 'latin1')))
  run.base64 = ''
}

function finishRun(run: WordRun): string {
  flushBase64(run)
  return decodeText(Buffer.concat(run.chunks), run.charset)
}

// RFC 2047 §4.2: "=" and two hex digits is an octet, "_" is 0x20, the rest stands for itself.
// An "=" without two hex digits after it is kept, like a quoted-printable decoder would.
function decodeQ(encodedText: string): Buffer {
  return decodeHexEscapes(Buffer.from(encodedText, 'utf8'), EQUALS, true)
}

/**
 * Header text ready to follow "Field-Name: ", which took `firstLineUsed` columns.
 *
 * Printable ASCII goes out as it is, folded before whitespace to keep lines within 78
 * columns (RFC 5322 §2.2.3). Anything else becomes UTF-8 encoded-words (RFC 2047 §2), Q or B
 * by whichever is shorter, one per line, each line within 76 columns and each word within 75
 * characters; a character is never split between words (RFC 2047 §5). Text that would
 * otherwise look like an encoded-word is encoded too, so that it reads back as written.
 */
export function encodeHeaderText(text: string, firstLineUsed = 0): string {
  if (text === '') return ''
  if (needsEncoding(text, firstLineUsed)) {
    return encodeWords(text, firstLineUsed, 'shorter').join('\r\n ')
  }
  return foldAtWhitespace(text, firstLineUsed)
}

function needsEncoding(text: string, firstLineUsed: number): boolean {
  if (!/^[\t\x20-\x7e]*$/.test(text) || text.includes('=?')) return true
  // A run without whitespace cannot be folded; past the hard limit only encoded-words can split.
  let runStart = 0
  for (let i = 0; i <= text.length; i += 1) {
    const code = text.charCodeAt(i)
    if (i === text.length || code === SPACE || code === TAB) {
      const lineLength = i - runStart + (runStart === 0 ? firstLineUsed : 1)
      if (lineLength > MAX_LINE_LENGTH) return true
      runStart = i + 1
    }
  }
  return false
}

// RFC 5322 §2.2.3: folding puts CRLF before whitespace that is already there, so unfolding
// gives the text back. Folding only before the first of a run of whitespace keeps every line
// holding something other than whitespace.
function foldAtWhitespace(text: string, firstLineUsed: number): string {
  const pieces: string[] = []
  let pieceStart = 0
  for (let i = 1; i < text.length; i += 1) {
    if (isWhitespaceCode(text.charCodeAt(i)) && !isWhitespaceCode(text.charCodeAt(i - 1))) {
      pieces.push(text.slice(pieceStart, i))
      pieceStart = i
    }
  }
  pieces.push(text.slice(pieceStart))
  let output = pieces[0] ?? ''
  let column = firstLineUsed + output.length
  for (let p = 1; p < pieces.length; p += 1) {
    const piece = pieces[p] ?? ''
    const isOnlyWhitespace = /^[ \t]*$/.test(piece)
    if (column + piece.length > MAX_FOLDED_LINE_LENGTH && !isOnlyWhitespace) {
      output += `\r\n${piece}`
      column = piece.length
    } else {
      output += piece
      column += piece.length
    }
  }
  return output
}

function isWhitespaceCode(code: number): boolean {
  return code === SPACE || code === TAB
}

/**
 * A display name ready to stand before an address: `phrase` in RFC 5322 §3.2.5.
 *
 * A run of atoms goes out as it is, other ASCII as a quoted-string (RFC 5322 §3.2.4), and
 * anything else as UTF-8 Q encoded-words limited to the characters RFC 2047 §5(3) allows in a
 * phrase. Words are separated by single spaces, where the caller may fold. An empty name is
 * `""`.
 */
export function encodePhrase(text: string): string {
  if (text === '') return '""'
  const looksEncoded = text.includes('=?')
  if (isAtomSequence(text) && !looksEncoded) return text
  if (/^[\t\x20-\x7e]*$/.test(text) && !looksEncoded) {
    return `"${text.replace(/["\\]/g, '\\$&')}"`
  }
  return encodeWords(text, 0, 'Q').join(' ')
}

// atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "/" /
//         "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"          (RFC 5322 §3.2.3)
// One space between atoms: more would be folding whitespace a reader may collapse.
function isAtomSequence(text: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/.test(text)
}

// RFC 2047 §5(3): in a phrase, Q may only leave letters, digits and "!*+-/" unencoded. The
// same set is used everywhere: it is safe in every context, and costs little.
function qCost(octet: number): number {
  return isPhraseSafe(octet) || octet === SPACE ? 1 : 3
}

function isPhraseSafe(octet: number): boolean {
  return (
    (octet >= 0x41 && octet <= 0x5a) ||
    (octet >= 0x61 && octet <= 0x7a) ||
    (octet >= 0x30 && octet <= 0x39) ||
    octet === 0x21 ||
    octet === 0x2a ||
    octet === 0x2b ||
    octet === 0x2d ||
    octet === 0x2f
  )
}

function encodeWords(text: string, firstLineUsed: number, encoding: 'Q' | 'shorter'): string[] {
  // Lone surrogates come out as U+FFFD, the only thing UTF-8 can say for them.
  const octets = Buffer.from(text, 'utf8')
  let qLength = 0
  for (const octet of octets) qLength += qCost(octet)
  const isQ = encoding === 'Q' || qLength <= Math.ceil(octets.length / 3) * 4
  const firstWordLength = Math.max(
    Math.min(MAX_ENCODED_WORD_LENGTH, MAX_LINE_LENGTH_WITH_WORDS - firstLineUsed),
    WORD_OVERHEAD + MAX_CHARACTER_COST,
  )
  const words: string[] = []
  let maxTextLength = firstWordLength - WORD_OVERHEAD
  let wordStart = 0
  let wordQLength = 0
  let i = 0
  while (i < octets.length) {
    // UTF-8 continuation octets are 10xxxxxx, so a character ends before the next
    // octet that is not one.
    let characterEnd = i + 1
    while (characterEnd < octets.length && ((octets[characterEnd] ?? 0) & 0xc0) === 0x80) {
      characterEnd += 1
    }
    let characterQLength = 0
    for (let j = i; j < characterEnd; j += 1) characterQLength += qCost(octets[j] ?? 0)
    const textLength = isQ
      ? wordQLength + characterQLength
      : Math.ceil((characterEnd - wordStart) / 3) * 4
    if (textLength > maxTextLength && i > wordStart) {
      words.push(formatWord(octets.subarray(wordStart, i), isQ))
      maxTextLength = MAX_ENCODED_WORD_LENGTH - WORD_OVERHEAD
      wordStart = i
      wordQLength = 0
    }
    wordQLength += characterQLength
    i = characterEnd
  }
  words.push(formatWord(octets.subarray(wordStart), isQ))
  return words
}

function formatWord(octets: Buffer, isQ: boolean): string {
  if (!isQ) return `${WORD_PREFIX_B}${octets.toString('base64')}?=`
  let encoded = ''
  for (const octet of octets) {
    if (octet === SPACE) encoded += '_'
    else if (isPhraseSafe(octet)) encoded += String.fromCharCode(octet)
    else encoded += `=${HEX_DIGITS[octet >> 4]}${HEX_DIGITS[octet & 0xf]}`
  }
  return `${WORD_PREFIX_Q}${encoded}?=`
}
