/**
 * Parameterized header values: Content-Type and Content-Disposition, with the RFC 2231
 * extensions (charsets, languages, continuations).
 *
 * @see https://www.rfc-editor.org/rfc/rfc2045#section-5.1
 * @see https://www.rfc-editor.org/rfc/rfc2183#section-2
 * @see https://www.rfc-editor.org/rfc/rfc2231
 */

import { decodeText } from '../charset.ts'
import { decodeHexEscapes } from '../hex-escapes.ts'
import { decodeEncodedWords } from './encoded-word.ts'

export interface ParameterizedValue {
  /** `type/subtype` or a disposition type, lower-cased; "" when the field has none. */
  value: string
  /**
   * Parameters as text: names lower-cased, RFC 2231 sections joined and decoded, RFC 2047
   * encoded-words in plain values decoded. The first of duplicate names wins, except that an
   * RFC 2231 form beats a plain one of the same name (it is the one that says its charset).
   */
  params: Map<string, string>
  /**
   * Parameters as Dovecot 2.3 reads them, for IMAP BODYSTRUCTURE's body-fld-param: names as
   * written, every duplicate, values unquoted but not decoded (one char per octet). RFC 2231
   * sections are merged as Dovecot merges them, after the unsectioned parameters. Empty when
   * the field is not valid enough for Dovecot to read parameters from. See
   * {@link parseParameterizedValue}.
   */
  rawParams: Array<[string, string]>
}

/**
 * Which field a value came from. They differ in what may stand before the parameters, which
 * decides whether Dovecot reads them (see {@link parseParameterizedValue}).
 */
export type ParameterizedField = 'content-type' | 'content-disposition'

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const DOUBLE_QUOTE = 0x22
const PERCENT = 0x25
const LEFT_PARENTHESIS = 0x28
const RIGHT_PARENTHESIS = 0x29
const ASTERISK = 0x2a
const SLASH = 0x2f
const SEMICOLON = 0x3b
const EQUALS = 0x3d
const BACKSLASH = 0x5c

// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters.
const MAX_FOLDED_LINE_LENGTH = 78

// tspecials := "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" / <"> / "/" / "[" / "]" /
//              "?" / "="                                             (RFC 2045 §5.1)
const TSPECIALS = '()<>@,;:\\"/[]?='

const HEX_DIGITS = '0123456789ABCDEF'

interface Scanner {
  text: string
  position: number
}

interface RawParameter {
  /** Lower-cased, as written: `title`, `title*`, `title*1*`. */
  name: string
  value: string
}

/**
 * Parses a Content-Type or Content-Disposition field value. Never throws, and runs in time
 * linear in the length of the text.
 *
 * The text is the field value after the colon, either unfolded or with its line breaks, as
 * Dovecot reads it. `value` and `params` are the same for both, the text being unfolded first
 * (RFC 5322 §2.2.3). `rawParams` reads the text as it is: Dovecot's own text is the field's
 * lines joined by LF, except that it drops the LF before a line holding one whitespace
 * character only; an unfolded text differs from it only where a fold follows a backslash in a
 * quoted-string, or in skipped junk when reading stops at its limit (see
 * {@link readDovecotParameters}).
 *
 * content := "Content-Type" ":" type "/" subtype *(";" parameter)     (RFC 2045 §5.1)
 * parameter := attribute "=" value
 * attribute := token
 * value := token / quoted-string
 * token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
 * disposition := "Content-Disposition" ":" disposition-type
 *                *(";" disposition-parm)                                (RFC 2183 §2)
 * parameter := regular-parameter / extended-parameter                 (RFC 2231 §7)
 * regular-parameter := regular-parameter-name "=" value
 * regular-parameter-name := attribute [section]
 * section := initial-section / other-sections
 * initial-section := "*0"
 * other-sections := "*" ("1" / "2" / "3" / "4" / "5" / "6" / "7" / "8" / "9") *DIGIT)
 * extended-parameter := (extended-initial-name "=" extended-initial-value) /
 *                       (extended-other-names "=" extended-other-values)
 * extended-initial-name := attribute [initial-section] "*"
 * extended-other-names := attribute other-sections "*"
 * extended-initial-value := [charset] "'" [language] "'" extended-other-values
 * extended-other-values := *(ext-octet / attribute-char)
 * ext-octet := "%" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
 *
 * Comments (RFC 5322 §3.2.2) may stand between any two of these. Tolerated beyond the grammar,
 * since senders write all of it: a missing ";" (a parameter starts wherever `name=` does),
 * unquoted values holding spaces or tspecials (up to the next ";"; a comment at their end is
 * dropped, one inside is kept, for `name=report (1).pdf`), an unterminated quoted-string or
 * comment (it ends with the text), empty values, names without "=" (ignored), lower-case or
 * malformed `%XX`, sections out of order or missing, and raw 8-bit text.
 *
 * Deviation from RFC 5322 §3.2.4: in a quoted-string, a backslash quotes only `"` and `\`
 * and is kept before anything else, because Windows mailers write paths unescaped
 * (`filename="C:\temp\a.txt"`).
 *
 * One exception to the tolerance: an unquoted `boundary` value is a token (RFC 2045 §5.1),
 * ending at whitespace or a tspecial, since that is the boundary Dovecot splits a multipart on
 * (`boundary=a b` is `a`), and a message must split the same way here.
 *
 * `rawParams` follows Dovecot 2.3 instead (lib-mail's rfc822-parser.c and rfc2231-parser.c),
 * since IMAP clients compare BODYSTRUCTURE with it: strict RFC 2045 syntax, anything else
 * skipped (see {@link readDovecotParameters}). For a Content-Type, parameters are read only
 * after a valid `type "/" subtype` followed by ";" or the end ({@link parseContentTypeValue});
 * for a Content-Disposition, after any token. `field` says which; without it, a value whose
 * first token is followed by "/" is taken as a Content-Type and any other as a
 * Content-Disposition, which is right for both except a Content-Type with no subtype (such as
 * `text; charset=utf-8`, which Dovecot gives no parameters).
 */
export function parseParameterizedValue(
  text: string,
  field?: ParameterizedField,
): ParameterizedValue {
  const scanner: Scanner = { text: unfold(text), position: 0 }
  const value = readValue(scanner)
  const raw = readParameters(scanner)
  return {
    value,
    params: decodeParameters(raw),
    rawParams: readDovecotRawParameters(text, field ?? guessField(text)),
  }
}

// RFC 5322 §2.2.3: a line break before whitespace is removed; any other is dropped too.
function unfold(text: string): string {
  if (!text.includes('\n')) return text
  return text.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, '')
}

// type "/" subtype, or a disposition-type. A first word followed by "=" is already a parameter.
function readValue(scanner: Scanner): string {
  skipCfws(scanner)
  const start = scanner.position
  const type = readValueToken(scanner)
  if (scanner.text.charCodeAt(scanner.position) === EQUALS) {
    scanner.position = start
    return ''
  }
  skipCfws(scanner)
  if (scanner.text.charCodeAt(scanner.position) !== SLASH) return type.toLowerCase()
  scanner.position += 1
  skipCfws(scanner)
  return `${type}/${readValueToken(scanner)}`.toLowerCase()
}

function readValueToken(scanner: Scanner): string {
  const { text } = scanner
  const start = scanner.position
  while (scanner.position < text.length) {
    const code = text.charCodeAt(scanner.position)
    if (
      isWhitespace(code) ||
      code === SEMICOLON ||
      code === LEFT_PARENTHESIS ||
      code === DOUBLE_QUOTE ||
      code === SLASH ||
      code === EQUALS
    ) {
      break
    }
    scanner.position += 1
  }
  return text.slice(start, scanner.position)
}

function readParameters(scanner: Scanner): RawParameter[] {
  const { text } = scanner
  const parameters: RawParameter[] = []
  // Every turn consumes at least one character, so the loop ends.
  while (scanner.position < text.length) {
    skipCfws(scanner)
    if (scanner.position >= text.length) break
    const code = text.charCodeAt(scanner.position)
    if (code === SEMICOLON) {
      scanner.position += 1
      continue
    }
    if (code === DOUBLE_QUOTE) {
      readQuotedString(scanner) // a stray quoted-string belongs to no parameter
      continue
    }
    const name = readAttribute(scanner)
    skipCfws(scanner)
    if (text.charCodeAt(scanner.position) !== EQUALS) {
      if (name === '') scanner.position += 1
      continue
    }
    scanner.position += 1
    skipCfws(scanner)
    const lowerName = name.toLowerCase()
    let value: string
    if (text.charCodeAt(scanner.position) === DOUBLE_QUOTE) value = readQuotedString(scanner)
    else if (lowerName === 'boundary') value = readUnquotedToken(scanner)
    else value = readUnquotedValue(scanner)
    if (name !== '') parameters.push({ name: lowerName, value })
  }
  return parameters
}

function readAttribute(scanner: Scanner): string {
  const { text } = scanner
  const start = scanner.position
  while (scanner.position < text.length && isAttributeNameChar(text.charCodeAt(scanner.position))) {
    scanner.position += 1
  }
  return text.slice(start, scanner.position)
}

// Looser than token, so that a name with a stray special still reaches its "=".
function isAttributeNameChar(code: number): boolean {
  return (
    !isWhitespace(code) &&
    code !== SEMICOLON &&
    code !== EQUALS &&
    code !== LEFT_PARENTHESIS &&
    code !== DOUBLE_QUOTE
  )
}

// quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS]   (RFC 5322 §3.2.4)
// qcontent = qtext / quoted-pair
// quoted-pair = ("\" (VCHAR / WSP)) / obs-qp                           (RFC 5322 §3.2.1)
function readQuotedString(scanner: Scanner): string {
  const { text } = scanner
  const pieces: string[] = []
  let pieceStart = scanner.position + 1
  let i = pieceStart
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (code === DOUBLE_QUOTE) break
    if (code === BACKSLASH) {
      const next = text.charCodeAt(i + 1)
      if (next === DOUBLE_QUOTE || next === BACKSLASH) {
        pieces.push(text.slice(pieceStart, i))
        pieceStart = i + 1
        i += 2
        continue
      }
    }
    i += 1
  }
  pieces.push(text.slice(pieceStart, i))
  scanner.position = Math.min(i + 1, text.length)
  return pieces.join('')
}

// An unquoted value runs to the next ";", minus trailing whitespace, and minus a comment that
// ends it (RFC 2045 §5.1's own example is `charset=us-ascii (Plain text)`). Where a ";" is
// missing, whitespace followed by `name=` ends it too.
function readUnquotedValue(scanner: Scanner): string {
  const { text } = scanner
  const start = scanner.position
  let end = start
  while (scanner.position < text.length) {
    const code = text.charCodeAt(scanner.position)
    if (code === SEMICOLON) break
    if (isWhitespace(code)) {
      skipWhitespace(scanner)
      if (isValueEnd(scanner)) break
      continue
    }
    if (code === LEFT_PARENTHESIS) {
      skipComment(scanner)
      const commentEnd = scanner.position
      skipWhitespace(scanner)
      if (isValueEnd(scanner)) break
      // Part of the value after all; the comment's text is not scanned again.
      scanner.position = commentEnd
      continue
    }
    scanner.position += 1
    end = scanner.position
  }
  return text.slice(start, end)
}

function isValueEnd(scanner: Scanner): boolean {
  const { text, position } = scanner
  return (
    position >= text.length ||
    text.charCodeAt(position) === SEMICOLON ||
    looksLikeParameterStart(text, position)
  )
}

// `name=` or `name =`: a parameter whose ";" is missing. The scan stops at the first character
// that cannot be in a name, so what it reads is read at most once more, as value.
function looksLikeParameterStart(text: string, position: number): boolean {
  let i = position
  while (i < text.length && isTokenChar(text.charCodeAt(i))) i += 1
  if (i === position) return false
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i += 1
  return text.charCodeAt(i) === EQUALS
}

// CFWS = (1*([FWS] comment) [FWS]) / FWS                              (RFC 5322 §3.2.2)
function skipCfws(scanner: Scanner): void {
  for (;;) {
    skipWhitespace(scanner)
    if (scanner.text.charCodeAt(scanner.position) !== LEFT_PARENTHESIS) return
    skipComment(scanner)
  }
}

function skipWhitespace(scanner: Scanner): void {
  while (isWhitespace(scanner.text.charCodeAt(scanner.position))) scanner.position += 1
}

// comment = "(" *([FWS] ccontent) [FWS] ")"
// ccontent = ctext / quoted-pair / comment                            (RFC 5322 §3.2.2)
function skipComment(scanner: Scanner): void {
  const { text } = scanner
  let depth = 0
  while (scanner.position < text.length) {
    const code = text.charCodeAt(scanner.position)
    if (code === BACKSLASH) {
      scanner.position += 2
      continue
    }
    scanner.position += 1
    if (code === LEFT_PARENTHESIS) depth += 1
    else if (code === RIGHT_PARENTHESIS) {
      depth -= 1
      if (depth === 0) return
    }
  }
  scanner.position = text.length
}

function isWhitespace(code: number): boolean {
  return code === SPACE || code === TAB || code === CR || code === LF
}

function isTokenChar(code: number): boolean {
  return code > SPACE && code < 0x7f && !TSPECIALS.includes(String.fromCharCode(code))
}

// attribute-char := <any (US-ASCII) CHAR except SPACE, CTLs, "*", "'", "%", or tspecials>
//                                                                      (RFC 2231 §7)
function isAttributeChar(code: number): boolean {
  return isTokenChar(code) && code !== ASTERISK && code !== 0x27 && code !== PERCENT
}

interface ParameterName {
  base: string
  /** The RFC 2231 §3 section number, or null for an unsectioned name. */
  section: number | null
  /** RFC 2231 §4: a trailing "*" says the value is `charset'lang'%XX` encoded. */
  isExtended: boolean
}

function parseParameterName(name: string): ParameterName {
  const isExtended = name.length > 1 && name.endsWith('*')
  const unstarred = isExtended ? name.slice(0, -1) : name
  const star = unstarred.lastIndexOf('*')
  if (star > 0) {
    const digits = unstarred.slice(star + 1)
    // Nine digits are more sections than any header holds, and stay exact as numbers.
    if (/^\d{1,9}$/.test(digits)) {
      return { base: unstarred.slice(0, star), section: Number(digits), isExtended }
    }
  }
  return { base: unstarred, section: null, isExtended }
}

interface Section {
  value: string
  isExtended: boolean
}

interface ParameterParts {
  plain: string | null
  /** `name*=` with no section number (RFC 2231 §4). */
  extended: string | null
  sections: Map<number, Section>
}

function groupByName(raw: RawParameter[]): Map<string, ParameterParts> {
  const groups = new Map<string, ParameterParts>()
  for (const { name, value } of raw) {
    const { base, section, isExtended } = parseParameterName(name)
    let parts = groups.get(base)
    if (parts === undefined) {
      parts = { plain: null, extended: null, sections: new Map() }
      groups.set(base, parts)
    }
    if (section !== null) {
      if (!parts.sections.has(section)) parts.sections.set(section, { value, isExtended })
    } else if (isExtended) {
      parts.extended ??= value
    } else {
      parts.plain ??= value
    }
  }
  return groups
}

function sortedSections(parts: ParameterParts): Section[] {
  return [...parts.sections.entries()].sort(([a], [b]) => a - b).map(([, section]) => section)
}

function decodeParameters(raw: RawParameter[]): Map<string, string> {
  const params = new Map<string, string>()
  for (const [base, parts] of groupByName(raw)) {
    if (parts.extended !== null) params.set(base, decodeExtendedValue(parts.extended))
    else if (parts.sections.size > 0) {
      const sections = sortedSections(parts)
      if (sections.some((section) => section.isExtended)) {
        params.set(base, decodeSectionValues(sections))
      } else {
        // Some mailers split long RFC 2047-encoded filenames into RFC 2231 sections.
        params.set(base, decodeEncodedWords(sections.map((section) => section.value).join('')))
      }
    } else if (parts.plain !== null) {
      // Deviation from RFC 2047 §5: encoded-words are not allowed in a parameter value, but
      // Outlook and Gmail put them in filenames, and every reader decodes them.
      params.set(base, decodeEncodedWords(parts.plain))
    }
  }
  return params
}

// RFC 2231 §4.1: encoded and unencoded sections may be mixed. Consecutive encoded ones are
// decoded together, so a character split across two sections comes out whole.
function decodeSectionValues(sections: Section[]): string {
  const first = sections[0]
  const charset = first?.isExtended === true ? splitCharset(first.value).charset : null
  const decoded: string[] = []
  let pending: Buffer[] = []
  const flush = () => {
    if (pending.length === 0) return
    decoded.push(decodeText(Buffer.concat(pending), charset))
    pending = []
  }
  sections.forEach((section, index) => {
    if (!section.isExtended) {
      flush()
      decoded.push(section.value)
      return
    }
    pending.push(percentDecode(index === 0 ? splitCharset(section.value).text : section.value))
  })
  flush()
  return decoded.join('')
}

function decodeExtendedValue(value: string): string {
  const { charset, text } = splitCharset(value)
  return decodeText(percentDecode(text), charset)
}

// extended-initial-value := [charset] "'" [language] "'" extended-other-values
// A value without both quotes is taken as encoded text in an unknown charset.
function splitCharset(value: string): { charset: string | null; text: string } {
  const first = value.indexOf("'")
  const second = first < 0 ? -1 : value.indexOf("'", first + 1)
  if (second < 0) return { charset: null, text: value }
  return { charset: value.slice(0, first), text: value.slice(second + 1) }
}

// ext-octet := "%" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")      (RFC 2231 §7)
// Lower-case hex is read too; a "%" without two hex digits stays as it is. Characters that
// should have been encoded (8-bit text) count as their UTF-8 octets.
function percentDecode(text: string): Buffer {
  const input = Buffer.from(text, 'utf8')
  return input.includes(PERCENT) ? decodeHexEscapes(input, PERCENT) : input
}

/**
 * The type and subtype of a Content-Type value as Dovecot 2.3 reads them for BODYSTRUCTURE, in
 * their case as written: `TEXT/PLAIN` is `{ type: 'TEXT', subtype: 'PLAIN' }`.
 *
 * Both are "" unless the value is `type "/" subtype` (tokens, CFWS around them) followed by ";"
 * or the end: `text; charset=utf-8`, `/plain`, `text/`, `text/plain/x` and `text/plain x=y` are
 * all invalid. A lone type token that ends the value (a comment may follow) keeps its type:
 * `image` is `{ type: 'image', subtype: '' }`. Dovecot reads no parameters from a value that is
 * not valid, including a lone type.
 *
 * content := "Content-Type" ":" type "/" subtype *(";" parameter)     (RFC 2045 §5.1)
 */
export function parseContentTypeValue(text: string): { type: string; subtype: string } {
  const { type, subtype } = readDovecotContentType({ text, position: 0 })
  return { type, subtype }
}

// What Dovecot's lib-mail readers return: more text follows, the text ended, or the syntax broke
// (only an unclosed comment, quoted-string or quoted-pair breaks a read by itself).
const MORE = 1
const AT_END = 0
const BROKEN = -1

// The Dovecot we compare with (Debian's 2.3.19.1+dfsg1-2.1+deb12u7) stops reading parameters
// after 128 attempts, whether each read a parameter or broke. Observed, not read from its source;
// presumably its backported fix for CVE-2026-27859 ("excessive RFC 2231 MIME parameters").
const MAX_DOVECOT_PARAMETER_READS = 128

// RFC822_NUL_REPLACEMENT_STR: U+FFFD in UTF-8, as octets. Dovecot puts it for a NUL in a
// quoted-string while reading parameters.
const NUL_REPLACEMENT = '\xef\xbf\xbd'

/** What one of Dovecot's readers read, and MORE, AT_END or BROKEN. */
interface DovecotRead {
  text: string
  result: number
}

interface DovecotContentType {
  type: string
  subtype: string
  /** MORE with the scanner at ";", AT_END, or BROKEN for an invalid value. */
  result: number
}

// rfc822_parse_content_type, after message-part-data.c's own rfc822_skip_lwsp. Only a failure to
// read the type token itself (the value ends, or a comment after it is unclosed) keeps the type.
function readDovecotContentType(scanner: Scanner): DovecotContentType {
  const invalid = { type: '', subtype: '', result: BROKEN }
  if (skipDovecotLwsp(scanner) <= 0) return invalid
  const type = readDovecotToken(scanner)
  if (type.result <= 0 || type.text === '') return { ...invalid, type: type.text }
  if (scanner.text.charCodeAt(scanner.position) !== SLASH) return invalid
  scanner.position += 1
  if (skipDovecotLwsp(scanner) <= 0) return invalid
  const subtype = readDovecotToken(scanner)
  if (
    subtype.result < 0 ||
    subtype.text === '' ||
    (scanner.position < scanner.text.length &&
      scanner.text.charCodeAt(scanner.position) !== SEMICOLON)
  ) {
    return invalid
  }
  return { type: type.text, subtype: subtype.text, result: subtype.result }
}

function guessField(text: string): ParameterizedField {
  const scanner: Scanner = { text, position: 0 }
  if (skipDovecotLwsp(scanner) <= 0) return 'content-type'
  const { result } = readDovecotToken(scanner)
  return result > 0 && text.charCodeAt(scanner.position) === SLASH
    ? 'content-type'
    : 'content-disposition'
}

// message-part-data.c: parse_content_type reads parameters only after a valid type/subtype;
// parse_content_disposition after any token, unless a comment after it is unclosed.
function readDovecotRawParameters(
  text: string,
  field: ParameterizedField,
): Array<[string, string]> {
  const scanner: Scanner = { text, position: 0 }
  if (field === 'content-type') {
    if (readDovecotContentType(scanner).result < 0) return []
  } else {
    skipDovecotLwsp(scanner)
    if (readDovecotToken(scanner).result < 0) return []
  }
  return readDovecotParameters(scanner)
}

interface DovecotSection {
  /** The name before its first "*", as written. */
  base: string
  value: string
  index: number
  isExtended: boolean
}

/**
 * rfc2231_parse: `*(";" parameter)` the way Dovecot 2.3 reads it, quirks included, so that
 * BODYSTRUCTURE matches it octet for octet.
 *
 * Each parameter must be exactly ";" attribute "=" value, CFWS allowed around each. Where it is
 * not, Dovecot skips one character past the point where reading failed and tries again, one
 * character at a time, until the next ";": so `; a b=c` and `; a=b c=d` lose what follows the
 * break, and `; novalue; b=c` loses `b=c` too, the failure having stopped on (and skipped) its
 * ";". It gives up after 128 tries, a parameter read and a failure each counting one, so a
 * line or two of junk ends the list. An unclosed comment, quoted-string or quoted-pair drops
 * its parameter and ends the list. An unquoted value is a token, except that one starting with
 * "=" (an encoded-word, against the RFC) runs to ";" or whitespace. A quoted-pair quotes any
 * character but CR, LF and NUL. Names keep their case, and every duplicate is kept.
 *
 * A name holding "*" is an RFC 2231 section if it is `name*`, `name*N` or `name*N*` (N any
 * digits, even none, read as a wrapping 32-bit number); any other is an ordinary name. Sections
 * come after the ordinary parameters, sorted by name (case-sensitively) then number, and each
 * run of names equal ignoring ASCII case is merged if it numbers 0, 1, 2… with no gap or
 * repeat: into `name`, or `name*` when a section is extended, the value then starting `''` if
 * section 0 is not extended, with the "%" of unextended sections written "%25". A run that does
 * not merge stays as it was, each one named `name*N` or `name*N*`. A `name*` without number
 * takes the number of the last parameter before it that had something after its "*" (0 if
 * none), as Dovecot reuses that field.
 */
function readDovecotParameters(scanner: Scanner): Array<[string, string]> {
  const { text } = scanner
  const entries: Array<[string, string]> = []
  const sections: DovecotSection[] = []
  let index = 0
  for (let reads = 0; reads < MAX_DOVECOT_PARAMETER_READS; reads += 1) {
    const parameter = readDovecotParameter(scanner)
    if (parameter === AT_END) break
    if (parameter === BROKEN) {
      if (scanner.position >= text.length) break
      scanner.position += 1
      continue
    }
    const { name, value } = parameter
    const star = name.indexOf('*')
    if (star < 0) {
      entries.push([name, value])
      continue
    }
    let position = star
    if (position + 1 < name.length) {
      position += 1
      index = 0
      for (; isDigit(name.charCodeAt(position)); position += 1) {
        index = (index * 10 + name.charCodeAt(position) - 0x30) >>> 0
      }
    }
    const isExtended = name.charCodeAt(position) === ASTERISK
    if (isExtended) position += 1
    if (position === name.length) {
      sections.push({ base: name.slice(0, star), value, index, isExtended })
    } else {
      entries.push([name, value])
    }
  }
  if (sections.length > 0) entries.push(...mergeDovecotSections(sections))
  return entries
}

function mergeDovecotSections(sections: DovecotSection[]): Array<[string, string]> {
  // Array.prototype.sort is stable, like the merge sort of glibc's qsort that Dovecot gets.
  sections.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : a.index - b.index))
  const entries: Array<[string, string]> = []
  let start = 0
  while (start < sections.length) {
    const first = sections[start] as DovecotSection
    const key = asciiLowerCase(first.base)
    let end = start
    let isComplete = true
    let hasExtended = false
    while (end < sections.length) {
      const section = sections[end] as DovecotSection
      if (asciiLowerCase(section.base) !== key) break
      if (section.index !== end - start) isComplete = false
      if (section.isExtended) hasExtended = true
      end += 1
    }
    const run = sections.slice(start, end)
    start = end
    if (!isComplete) {
      for (const section of run) {
        const suffix = section.isExtended ? '*' : ''
        entries.push([`${section.base}*${section.index}${suffix}`, section.value])
      }
      continue
    }
    let value = !first.isExtended && hasExtended ? "''" : ''
    for (const section of run) {
      value +=
        !section.isExtended && hasExtended ? section.value.replaceAll('%', '%25') : section.value
    }
    entries.push([hasExtended ? `${first.base}*` : first.base, value])
  }
  return entries
}

// rfc822_parse_content_param: AT_END when the text has ended, BROKEN where the syntax breaks.
function readDovecotParameter(
  scanner: Scanner,
): { name: string; value: string } | typeof AT_END | typeof BROKEN {
  const { text } = scanner
  if (scanner.position >= text.length) return AT_END
  if (text.charCodeAt(scanner.position) !== SEMICOLON) return BROKEN
  scanner.position += 1
  if (skipDovecotLwsp(scanner) <= 0) return BROKEN
  const name = readDovecotToken(scanner)
  if (name.result <= 0) return BROKEN
  if (text.charCodeAt(scanner.position) !== EQUALS) return BROKEN
  scanner.position += 1
  const result = skipDovecotLwsp(scanner)
  if (result <= 0) return result < 0 ? BROKEN : { name: name.text, value: '' }
  const code = text.charCodeAt(scanner.position)
  if (code === EQUALS) return { name: name.text, value: readUnquotedToken(scanner) }
  const value = code === DOUBLE_QUOTE ? readDovecotQuotedString(scanner) : readDovecotToken(scanner)
  return value.result < 0 ? BROKEN : { name: name.text, value: value.text }
}

/**
 * An unquoted value as Dovecot reads it, without the CFWS after it: a token (RFC 2045 §5.1, raw
 * 8-bit octets allowed), or, for one starting with "=", everything up to ";" or whitespace (a
 * NUL ending it, as it ends the C string).
 */
function readUnquotedToken(scanner: Scanner): string {
  const { text } = scanner
  const start = scanner.position
  if (text.charCodeAt(start) === EQUALS) {
    while (scanner.position < text.length) {
      const code = text.charCodeAt(scanner.position)
      if (code === SEMICOLON || code === SPACE || code === TAB || code === CR || code === LF) break
      scanner.position += 1
    }
    const value = text.slice(start, scanner.position)
    const nul = value.indexOf('\0')
    return nul < 0 ? value : value.slice(0, nul)
  }
  while (scanner.position < text.length && isMimeTokenChar(text.charCodeAt(scanner.position))) {
    scanner.position += 1
  }
  return text.slice(start, scanner.position)
}

// rfc822_parse_mime_token: a token, possibly empty, then CFWS.
function readDovecotToken(scanner: Scanner): DovecotRead {
  const start = scanner.position
  while (
    scanner.position < scanner.text.length &&
    isMimeTokenChar(scanner.text.charCodeAt(scanner.position))
  ) {
    scanner.position += 1
  }
  const text = scanner.text.slice(start, scanner.position)
  if (scanner.position >= scanner.text.length) return { text, result: AT_END }
  return { text, result: skipDovecotLwsp(scanner) }
}

// rfc822_parse_quoted_string, with the NUL replacement rfc2231_parse turns on. A LF is dropped
// with the CR before it; a backslash before CR, LF or NUL stays, and quotes nothing.
function readDovecotQuotedString(scanner: Scanner): DovecotRead {
  const { text } = scanner
  let value = ''
  scanner.position += 1
  let start = scanner.position
  for (; scanner.position < text.length; scanner.position += 1) {
    const code = text.charCodeAt(scanner.position)
    if (code === 0) {
      value += text.slice(start, scanner.position) + NUL_REPLACEMENT
      start = scanner.position + 1
    } else if (code === DOUBLE_QUOTE) {
      value += text.slice(start, scanner.position)
      scanner.position += 1
      return { text: value, result: skipDovecotLwsp(scanner) }
    } else if (code === LF) {
      let end = scanner.position
      if (end > start && text.charCodeAt(end - 1) === CR) end -= 1
      value += text.slice(start, end)
      start = scanner.position + 1
    } else if (code === BACKSLASH) {
      scanner.position += 1
      if (scanner.position >= text.length) return { text: value, result: BROKEN }
      const next = text.charCodeAt(scanner.position)
      if (next === CR || next === LF || next === 0) {
        scanner.position -= 1
      } else {
        value += text.slice(start, scanner.position - 1)
        start = scanner.position
      }
    }
  }
  return { text: value, result: BROKEN }
}

// rfc822_skip_lwsp: whitespace and comments. MORE, AT_END, or BROKEN (at the end) for an
// unclosed comment.
function skipDovecotLwsp(scanner: Scanner): number {
  const { text } = scanner
  while (scanner.position < text.length) {
    const code = text.charCodeAt(scanner.position)
    if (isWhitespace(code)) {
      scanner.position += 1
      continue
    }
    if (code !== LEFT_PARENTHESIS) break
    if (skipDovecotComment(scanner) < 0) return BROKEN
  }
  return scanner.position < text.length ? MORE : AT_END
}

// rfc822_skip_comment: nested comments; a backslash quotes anything but CR, LF and NUL.
function skipDovecotComment(scanner: Scanner): number {
  const { text } = scanner
  let depth = 1
  for (scanner.position += 1; scanner.position < text.length; scanner.position += 1) {
    const code = text.charCodeAt(scanner.position)
    if (code === LEFT_PARENTHESIS) depth += 1
    else if (code === RIGHT_PARENTHESIS) {
      depth -= 1
      if (depth === 0) {
        scanner.position += 1
        return scanner.position < text.length ? MORE : AT_END
      }
    } else if (code === BACKSLASH) {
      scanner.position += 1
      if (scanner.position >= text.length) return BROKEN
      const next = text.charCodeAt(scanner.position)
      if (next === CR || next === LF || next === 0) scanner.position -= 1
    }
  }
  return BROKEN
}

// Dovecot's token: atext but "/", "=" and "?", plus "." (RFC 2045 §5.1's token), and 8-bit
// octets, which its atext table includes. Characters beyond one octet count as 8-bit.
function isMimeTokenChar(code: number): boolean {
  return code >= 0x80 || isTokenChar(code)
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

// strcasecmp in the C locale folds ASCII only.
function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
}

function percentEncodeCharacter(char: string): string {
  const code = char.charCodeAt(0)
  if (char.length === 1 && isAttributeChar(code)) return char
  let encoded = ''
  for (const octet of Buffer.from(char, 'utf8')) {
    encoded += `%${HEX_DIGITS[octet >> 4]}${HEX_DIGITS[octet & 0xf]}`
  }
  return encoded
}

/**
 * A Content-Type or Content-Disposition value ready to follow "Field-Name: ", which took
 * `firstLineUsed` columns: `value; name=value; …`, folded between parameters to keep lines
 * within 78 columns (RFC 5322 §2.1.1).
 *
 * A value that is a token goes out as it is, other printable ASCII as a quoted-string
 * (RFC 2045 §5.1). Anything else (8-bit text, controls, or something that looks like an
 * RFC 2047 encoded-word) is RFC 2231 encoded as `name*=utf-8''%XX…` (RFC 2231 §4). A value too
 * long for one line is split into RFC 2231 §3 sections, `name*0*`, `name*1*` or `name*0`,
 * `name*1`, never inside a character or an `%XX`. Throws a TypeError for a parameter name that
 * is not a token or that holds "*", "'" or "%", which would be a bug in the caller.
 */
export function formatParameterizedValue(
  value: string,
  params: Record<string, string>,
  firstLineUsed = 0,
): string {
  const pieces: string[] = []
  for (const [name, parameterValue] of Object.entries(params)) {
    if (name === '' || ![...name].every((char) => isAttributeChar(char.charCodeAt(0)))) {
      throw new TypeError(`Cannot format parameter "${name}", its name is not an attribute`)
    }
    // A loop, not a spread: a huge value has more sections than a call takes arguments.
    for (const piece of formatParameter(name, parameterValue)) pieces.push(piece)
  }
  let output = value
  let column = firstLineUsed + value.length
  pieces.forEach((piece, index) => {
    // The ";" that ends this line is written before the next piece, whichever line that is on.
    const isLast = index === pieces.length - 1
    const lineEnd = column + 2 + piece.length + (isLast ? 0 : 1)
    if (lineEnd > MAX_FOLDED_LINE_LENGTH) {
      output += `;\r\n ${piece}`
      column = 1 + piece.length
    } else {
      output += `; ${piece}`
      column += 2 + piece.length
    }
  })
  return output
}

function formatParameter(name: string, value: string): string[] {
  // A fold is CRLF SP; each piece is followed by ";".
  const room = MAX_FOLDED_LINE_LENGTH - 2
  const needsExtended = !/^[\x20-\x7e]*$/.test(value) || value.includes('=?')
  if (!needsExtended) {
    const single = `${name}=${quoteIfNeeded(value)}`
    if (single.length <= room) return [single]
    const units = [...value].map((char) => (char === '"' || char === '\\' ? `\\${char}` : char))
    return splitSections(units, (index) => `${name}*${index}="`, '"', room)
  }
  const units = [...value].map(percentEncodeCharacter)
  const single = `${name}*=utf-8''${units.join('')}`
  if (single.length <= room) return [single]
  return splitSections(
    units,
    (index) => (index === 0 ? `${name}*0*=utf-8''` : `${name}*${index}*=`),
    '',
    room,
  )
}

function quoteIfNeeded(value: string): string {
  if (value !== '' && [...value].every((char) => isTokenChar(char.charCodeAt(0)))) return value
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

// Packs units (a character, an escaped character, or a character's %XX octets) into sections,
// at least one unit each so that even a long name makes progress.
function splitSections(
  units: string[],
  prefixFor: (index: number) => string,
  suffix: string,
  room: number,
): string[] {
  const sections: string[] = []
  let current = prefixFor(0)
  let unitsInCurrent = 0
  for (const unit of units) {
    if (unitsInCurrent > 0 && current.length + unit.length + suffix.length > room) {
      sections.push(current + suffix)
      current = prefixFor(sections.length)
      unitsInCurrent = 0
    }
    current += unit
    unitsInCurrent += 1
  }
  sections.push(current + suffix)
  return sections
}
