import { decodeText, normalizeCharset } from '../../mime/index.ts'
import { type CommandReader, ParseError } from './command-reader.ts'
import { parseSequenceSet, type SequenceSet } from './sequence-set.ts'

/**
 * A text criterion: "body", "text" (header and body) or a header field name in lower case, and
 * the value to find as a case-insensitive substring (the store's TextQuery has this shape).
 */
export interface TextQuery {
  field: string
  value: string
}

/**
 * The arguments of SEARCH and UID SEARCH: result options (RFC 4731, RFC 5182, RFC 9051 §6.4.4),
 * the charset of the strings, and the search keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4 for NEW, OLD
 * and RECENT, RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER and YOUNGER), read into a tree that
 * src/imap/server/search-eval.ts evaluates.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-6.4.4
 */

/**
 * CHARSET names a charset no decoder here knows: RFC 9051 §6.4.4 wants a tagged NO (not BAD),
 * which the server sends as `NO [BADCHARSET (UTF-8 US-ASCII)] …` with this message.
 */
export class BadCharsetError extends Error {
  override name = 'BadCharsetError'
}

export type SearchKey =
  | { kind: 'all' }
  /**
   * A flag set or not: ANSWERED/UNANSWERED, DELETED/UNDELETED, DRAFT/UNDRAFT, FLAGGED/UNFLAGGED,
   * SEEN/UNSEEN, KEYWORD/UNKEYWORD (the keyword as written), RECENT and OLD ('\\Recent').
   */
  | { kind: 'flag'; flag: string; isSet: boolean }
  /** Message sequence numbers, "*" and "$" unresolved (only the session knows them). */
  | { kind: 'sequence'; set: SequenceSet }
  | { kind: 'uid'; set: SequenceSet }
  /** BEFORE/ON/SINCE ('internal') and SENTBEFORE/SENTON/SENTSINCE ('sent'); date YYYY-MM-DD. */
  | { kind: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; date: string }
  | { kind: 'size'; op: 'larger' | 'smaller'; size: number }
  /**
   * BCC CC FROM SUBJECT TO (the header field of that name), HEADER, BODY, TEXT. HEADER with an
   * empty value matches every message that has the field (RFC 9051 §6.4.4: the empty string is
   * a substring of any value), which the store's substring match gives as it is.
   */
  | { kind: 'text'; query: TextQuery }
  /** RFC 7162 §3.1.5: messages whose mod-sequence is at least `modseq`. */
  | { kind: 'modseq'; modseq: number }
  /** RFC 5032: internal date more than (older) or at most (younger) `seconds` before now. */
  | { kind: 'older' | 'younger'; seconds: number }
  | { kind: 'not'; key: SearchKey }
  | { kind: 'or'; left: SearchKey; right: SearchKey }
  | { kind: 'and'; keys: SearchKey[] }

/** RFC 9051 §6.4.4 result options (MIN MAX ALL COUNT from RFC 4731, SAVE from RFC 5182). */
export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE'

export interface SearchRequest {
  /**
   * null: no RETURN, a plain SEARCH. Otherwise the options given; never empty, as RETURN () is
   * read as RETURN (ALL) (RFC 4731 §3.1, RFC 9051 §6.4.4).
   */
  returnOptions: Set<SearchReturnOption> | null
  /** The CHARSET as the client wrote it, or null when there was none. */
  charset: string | null
  /** The search keys: a single key, or several ANDed as one 'and'. */
  key: SearchKey
}

/**
 * How deep search keys may nest, NOT and OR included (each is a level, as is a parenthesized
 * list, whose own depth CommandReader bounds far lower). Clients that look for many messages at
 * once write chains like `OR HEADER Message-ID <a> OR HEADER Message-ID <b> …`, one level per
 * alternative, so this is generous; it keeps the recursion of the parser and of the evaluator
 * far from the JS stack's limit, which a 64 KiB line of "NOT NOT NOT …" would otherwise reach.
 */
export const MAX_SEARCH_KEY_DEPTH = 1000

const RETURN_OPTIONS: ReadonlySet<string> = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'])

const OPEN_PAREN = 0x28
const CLOSE_PAREN = 0x29
const DQUOTE = 0x22

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']

/** RFC 5322 §3.6.8 ftext: printable US-ASCII but ":". */
const FIELD_NAME = /^[!-9;-~]+$/

interface SearchParser {
  reader: CommandReader
  /** Strings (astring) as text in the request's charset. */
  decode: (octets: Buffer) => string
}

/**
 * Reads `[SP "RETURN" SP "(" [option *(SP option)] ")"] SP ["CHARSET" SP charset SP] search-key
 * *(SP search-key)` to the end of the command: what follows SEARCH (or UID SEARCH).
 *
 * Strings are decoded from the charset: UTF-8 when there is none (RFC 9051 §6.4.4: IMAP4rev2
 * servers assume UTF-8) or it is UTF-8 or US-ASCII (US-ASCII is a subset, so 8-bit octets are
 * read as UTF-8 as well); any other charset a decoder here knows through decodeText. With
 * `utf8Enabled` (ENABLE UTF8=ACCEPT), a CHARSET other than UTF-8 is BAD: RFC 6855 §3 says the
 * client must not send any CHARSET then and the server SHOULD answer BAD for the conflicting
 * labels; CHARSET UTF-8 conflicts with nothing, so it is let through.
 *
 * @throws ParseError for anything off the grammar (BAD)
 * @throws BadCharsetError for a charset no decoder knows (NO [BADCHARSET]), once the whole
 *   command has been read, so a command that is also off the grammar gets BAD
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9 (search, search-program, search-key)
 */
export function parseSearchRequest(
  reader: CommandReader,
  options: { utf8Enabled: boolean; charsetFirst?: boolean },
): SearchRequest {
  reader.space()
  let returnOptions: Set<SearchReturnOption> | null = null
  let charset: string | null = null
  let unknownCharset = false
  const parser: SearchParser = { reader, decode: decodeUtf8 }

  // SORT and THREAD (RFC 5256 §3) take a charset before the keys, without the word CHARSET.
  let first: string | null = options.charsetFirst === true ? 'CHARSET' : null
  if (first === null) first = reader.peek() === OPEN_PAREN ? null : reader.word('a search key')
  if (first !== null && first.toUpperCase() === 'RETURN' && options.charsetFirst !== true) {
    reader.space()
    returnOptions = readReturnOptions(reader)
    reader.space()
    first = reader.peek() === OPEN_PAREN ? null : reader.word('a search key')
  }
  if (first !== null && first.toUpperCase() === 'CHARSET') {
    if (options.charsetFirst !== true) reader.space()
    // charset = atom / quoted
    charset = reader.peek() === DQUOTE ? reader.string().toString('latin1') : reader.atom()
    const name = normalizeCharset(charset)
    if (options.utf8Enabled && name !== 'utf-8') {
      throw new ParseError('no CHARSET but UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855 §3)')
    }
    if (name === null) {
      unknownCharset = true
      parser.decode = (octets) => octets.toString('latin1')
    } else if (name !== 'utf-8' && name !== 'us-ascii') {
      parser.decode = (octets) => decodeText(octets, name)
    }
    reader.space()
    first = reader.peek() === OPEN_PAREN ? null : reader.word('a search key')
  }

  const keys = [first === null ? readKey(parser, 1) : keyFromWord(parser, first, 1)]
  while (!reader.isAtEnd) {
    reader.space()
    keys.push(readKey(parser, 1))
  }
  reader.end()
  if (unknownCharset) throw new BadCharsetError(`Charset ${charset} is not supported`)
  return { returnOptions, charset, key: keys.length === 1 ? (keys[0] as SearchKey) : and(keys) }
}

function decodeUtf8(octets: Buffer): string {
  return octets.toString('utf8')
}

function and(keys: SearchKey[]): SearchKey {
  return { kind: 'and', keys }
}

// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
function readReturnOptions(reader: CommandReader): Set<SearchReturnOption> {
  const options = new Set<SearchReturnOption>()
  for (const option of reader.list((r) => r.keyword())) {
    // RFC 9051 §6.4.4: options of extensions the server does not support are BAD.
    if (!RETURN_OPTIONS.has(option)) {
      throw new ParseError(`unknown SEARCH return option ${quote(option)}`)
    }
    options.add(option as SearchReturnOption)
  }
  // RFC 4731 §3.1: an empty list is equivalent to (ALL).
  if (options.size === 0) options.add('ALL')
  return options
}

/** search-key, whatever comes next: a parenthesized list or a word. */
function readKey(parser: SearchParser, depth: number): SearchKey {
  if (parser.reader.peek() === OPEN_PAREN) return readKeyList(parser, depth)
  return keyFromWord(parser, parser.reader.word('a search key'), depth)
}

// "(" search-key *(SP search-key) ")"
function readKeyList(parser: SearchParser, depth: number): SearchKey {
  checkDepth(depth)
  const { reader } = parser
  reader.openList()
  if (reader.peek() === CLOSE_PAREN) throw new ParseError('expected a search key, not "()"')
  const keys = [readKey(parser, depth + 1)]
  while (reader.peek() !== CLOSE_PAREN) {
    reader.space()
    keys.push(readKey(parser, depth + 1))
  }
  reader.closeList()
  return keys.length === 1 ? (keys[0] as SearchKey) : and(keys)
}

function checkDepth(depth: number): void {
  if (depth > MAX_SEARCH_KEY_DEPTH) {
    throw new ParseError(`search keys nested deeper than ${MAX_SEARCH_KEY_DEPTH}`)
  }
}

/** The search key that begins with `word` (already read), with its arguments. */
function keyFromWord(parser: SearchParser, word: string, depth: number): SearchKey {
  checkDepth(depth)
  const { reader } = parser
  const name = word.toUpperCase()
  switch (name) {
    case 'ALL':
      return { kind: 'all' }
    case 'ANSWERED':
    case 'DELETED':
    case 'DRAFT':
    case 'FLAGGED':
    case 'SEEN':
      return { kind: 'flag', flag: systemFlag(name), isSet: true }
    case 'UNANSWERED':
    case 'UNDELETED':
    case 'UNDRAFT':
    case 'UNFLAGGED':
    case 'UNSEEN':
      return { kind: 'flag', flag: systemFlag(name.slice(2)), isSet: false }
    // RFC 3501 §6.4.4 (gone from RFC 9051, still sent by IMAP4rev1 clients).
    case 'RECENT':
      return { kind: 'flag', flag: '\\Recent', isSet: true }
    case 'OLD':
      return { kind: 'flag', flag: '\\Recent', isSet: false }
    case 'NEW':
      return and([
        { kind: 'flag', flag: '\\Recent', isSet: true },
        { kind: 'flag', flag: '\\Seen', isSet: false },
      ])
    case 'KEYWORD':
    case 'UNKEYWORD':
      reader.space()
      // flag-keyword = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" / "$Phishing" / atom
      return { kind: 'flag', flag: reader.atom(), isSet: name === 'KEYWORD' }
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'SUBJECT':
    case 'TO':
    case 'BODY':
    case 'TEXT':
      reader.space()
      return { kind: 'text', query: { field: name.toLowerCase(), value: readString(parser) } }
    case 'HEADER': {
      reader.space()
      // header-fld-name = astring. In lower case for TextQuery; a field literally named "Body"
      // or "Text" reads as the body or text query, a clash of TextQuery's that no client meets.
      const field = readString(parser)
      if (!FIELD_NAME.test(field)) {
        throw new ParseError(`${quote(field)} is not a header field name`)
      }
      reader.space()
      return { kind: 'text', query: { field: field.toLowerCase(), value: readString(parser) } }
    }
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      reader.space()
      return { kind: 'date', field: 'internal', op: dateOp(name), date: readDate(reader) }
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      reader.space()
      return { kind: 'date', field: 'sent', op: dateOp(name.slice(4)), date: readDate(reader) }
    case 'LARGER':
    case 'SMALLER':
      reader.space()
      return { kind: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', size: reader.number64() }
    case 'UID': {
      reader.space()
      return { kind: 'uid', set: readSequenceSet(reader.word('a sequence set')) }
    }
    case 'MODSEQ':
      reader.space()
      return { kind: 'modseq', modseq: readModseqCriterion(reader) }
    case 'OLDER':
    case 'YOUNGER':
      reader.space()
      return { kind: name === 'OLDER' ? 'older' : 'younger', seconds: reader.nzNumber() }
    case 'NOT':
      reader.space()
      return { kind: 'not', key: readKey(parser, depth + 1) }
    case 'OR': {
      reader.space()
      const left = readKey(parser, depth + 1)
      reader.space()
      return { kind: 'or', left, right: readKey(parser, depth + 1) }
    }
    default: {
      // A sequence set is a search key of its own: "2:4", "*", "$" (RFC 5182).
      const set = parseSequenceSet(word)
      if (set === null) throw new ParseError(`unknown search key ${quote(word)}`)
      return { kind: 'sequence', set }
    }
  }
}

function systemFlag(name: string): string {
  return `\\${name.charAt(0)}${name.slice(1).toLowerCase()}`
}

function dateOp(name: string): 'before' | 'on' | 'since' {
  return name === 'BEFORE' ? 'before' : name === 'ON' ? 'on' : 'since'
}

function readString(parser: SearchParser): string {
  return parser.decode(parser.reader.astring())
}

function readSequenceSet(word: string): SequenceSet {
  const set = parseSequenceSet(word)
  if (set === null) throw new ParseError(`${quote(word)} is not a sequence set`)
  return set
}

/**
 * date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year
 * (RFC 9051 §9), as YYYY-MM-DD. A day the month does not have is BAD: it names no date.
 */
function readDate(reader: CommandReader): string {
  const text = reader.peek() === DQUOTE ? reader.string().toString('latin1') : reader.word('a date')
  const match = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text)
  const month = match === null ? -1 : MONTHS.indexOf((match[2] as string).toUpperCase())
  if (match === null || month < 0) {
    throw new ParseError(`expected a date like 1-Feb-1994, not ${quote(text)}`)
  }
  const day = Number(match[1])
  const year = Number(match[3])
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate()
  if (day < 1 || day > daysInMonth) throw new ParseError(`${quote(text)} is not a date`)
  return `${match[3]}-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`
}

/**
 * search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer, search-modseq-ext =
 * SP entry-name SP entry-type-req (RFC 7162 §7). The entry (a flag's own mod-sequence) is read
 * and ignored, as RFC 7162 §3.1.5 allows servers that keep no per-flag mod-sequences.
 */
function readModseqCriterion(reader: CommandReader): number {
  if (reader.peek() === DQUOTE) {
    // entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE
    const entry = reader.string().toString('latin1')
    if (!/^\/flags\/[^\s]+$/i.test(entry)) {
      throw new ParseError(`${quote(entry)} is not a MODSEQ entry name`)
    }
    reader.space()
    // entry-type-req = "priv" / "shared" / "all"
    const type = reader.keyword()
    if (type !== 'PRIV' && type !== 'SHARED' && type !== 'ALL') {
      throw new ParseError(`${quote(type)} is not a MODSEQ entry type (priv, shared or all)`)
    }
    reader.space()
  }
  return reader.number64()
}

/**
 * A client's token for an error message: quoted, cut short when long, and with anything but
 * printable US-ASCII as "?", since the text goes back on the wire in a BAD response.
 */
function quote(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}...` : text
  return `"${short.replace(/[^ -~]/g, '?')}"`
}
