import type { SectionText } from '../../mime/index.ts'
import { type CommandReader, ParseError } from './command-reader.ts'

/**
 * The FETCH command's arguments after the sequence set: the message data items (fetch-att), the
 * macros ALL, FAST and FULL, RFC 3516 BINARY, RFC 7162 MODSEQ and the CHANGEDSINCE and VANISHED
 * modifiers, and the names the server echoes for each item in its FETCH responses.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-6.4.5
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9
 */

/** `<offset.length>`: the octets of a section from `offset`, at most `length` of them. */
export interface FetchPartial {
  offset: number
  length: number
}

/**
 * One message data item a FETCH asks for (RFC 9051 §6.4.5 fetch-att; RFC 3501 §6.4.5 for the
 * RFC822 forms, RFC 3516 §4.2 for BINARY, RFC 7162 §3.1.5 for MODSEQ). `path` is the section's
 * part number, [] for the whole message.
 */
export type FetchItem =
  | { kind: 'flags' }
  | { kind: 'uid' }
  | { kind: 'internaldate' }
  | { kind: 'rfc822.size' }
  | { kind: 'envelope' }
  /** BODY without a section: the non-extensible BODYSTRUCTURE. */
  | { kind: 'body' }
  | { kind: 'bodystructure' }
  | { kind: 'modseq' }
  /** RFC 3501 forms, kept by RFC 9051 §6.4.5 for compatibility: BODY[], BODY.PEEK[HEADER], BODY[TEXT]. */
  | { kind: 'rfc822' }
  | { kind: 'rfc822.header' }
  | { kind: 'rfc822.text' }
  /** BODY[section]<partial> and BODY.PEEK[section]<partial>. */
  | {
      kind: 'section'
      peek: boolean
      path: number[]
      text: SectionText
      partial: FetchPartial | null
    }
  /** BINARY[part]<partial> and BINARY.PEEK[part]<partial> (RFC 3516 §4.2). */
  | { kind: 'binary'; peek: boolean; path: number[]; partial: FetchPartial | null }
  /** BINARY.SIZE[part] (RFC 3516 §4.2). */
  | { kind: 'binary.size'; path: number[] }

/** A FETCH command's items and modifiers. */
export interface FetchRequest {
  /** In the order the client wrote them; an exact duplicate is kept once, where it first came. */
  items: FetchItem[]
  /** RFC 7162 §3.1.4 CHANGEDSINCE modifier value, or null. */
  changedSince: number | null
  /** RFC 7162 §3.2.6 VANISHED modifier (UID FETCH only: the caller checks that). */
  vanished: boolean
}

const OPEN_PAREN = 0x28
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const LESS_THAN = 0x3c

/** Items without a section, by their upper-case names. */
const PLAIN_ITEMS = new Map<string, FetchItem>([
  ['FLAGS', { kind: 'flags' }],
  ['UID', { kind: 'uid' }],
  ['INTERNALDATE', { kind: 'internaldate' }],
  ['RFC822.SIZE', { kind: 'rfc822.size' }],
  ['ENVELOPE', { kind: 'envelope' }],
  ['BODYSTRUCTURE', { kind: 'bodystructure' }],
  ['MODSEQ', { kind: 'modseq' }],
  ['RFC822', { kind: 'rfc822' }],
  ['RFC822.HEADER', { kind: 'rfc822.header' }],
  ['RFC822.TEXT', { kind: 'rfc822.text' }],
])

/** The FETCH response names of the items without a section (and BODY without one). */
const PLAIN_NAMES: Record<
  Exclude<FetchItem['kind'], 'section' | 'binary' | 'binary.size'>,
  string
> = {
  flags: 'FLAGS',
  uid: 'UID',
  internaldate: 'INTERNALDATE',
  'rfc822.size': 'RFC822.SIZE',
  envelope: 'ENVELOPE',
  body: 'BODY',
  bodystructure: 'BODYSTRUCTURE',
  modseq: 'MODSEQ',
  rfc822: 'RFC822',
  'rfc822.header': 'RFC822.HEADER',
  'rfc822.text': 'RFC822.TEXT',
}

/** RFC 9051 §6.4.5 macros, each standing alone for its list of items. */
const MACROS = new Map<string, readonly FetchItem[]>([
  ['FAST', [{ kind: 'flags' }, { kind: 'internaldate' }, { kind: 'rfc822.size' }]],
  [
    'ALL',
    [{ kind: 'flags' }, { kind: 'internaldate' }, { kind: 'rfc822.size' }, { kind: 'envelope' }],
  ],
  [
    'FULL',
    [
      { kind: 'flags' },
      { kind: 'internaldate' },
      { kind: 'rfc822.size' },
      { kind: 'envelope' },
      { kind: 'body' },
    ],
  ],
])

/**
 * Reads, from a reader right after FETCH's sequence set, `SP ("ALL" / "FULL" / "FAST" /
 * fetch-att / "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP fetch-modifier)
 * ")"]` and then the end of the command. Keywords are case-insensitive; header field names are
 * kept as written. Throws ParseError (BAD) on anything else.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-6.4.5
 * @see https://www.rfc-editor.org/rfc/rfc7162#section-3.1.4
 * @see https://www.rfc-editor.org/rfc/rfc7162#section-3.2.6
 */
// fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
//         fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]   (RFC 9051 §9)
// fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"          (RFC 4466 §2.4)
export function parseFetchRequest(reader: CommandReader): FetchRequest {
  reader.space()
  let items: FetchItem[]
  if (reader.peek() === OPEN_PAREN) {
    items = reader.list(readFetchAtt)
    if (items.length === 0) throw new ParseError('expected at least one FETCH item')
  } else {
    const name = readName(reader)
    const macro = MACROS.get(name)
    items = macro !== undefined ? macro.map((item) => ({ ...item })) : [fetchAtt(reader, name)]
  }
  let changedSince: number | null = null
  let vanished = false
  if (!reader.isAtEnd) {
    reader.space()
    const modifiers = reader.list((r): string => {
      const name = r.keyword()
      if (name === 'CHANGEDSINCE') {
        if (changedSince !== null) throw new ParseError('CHANGEDSINCE given twice')
        r.space()
        // RFC 7162 §3.1.4.1 writes mod-sequence-value (1*DIGIT, "positive"), yet CHANGEDSINCE 0
        // plainly asks for every message, and BAD would only break a client: 0 is taken.
        changedSince = r.number64()
      } else if (name === 'VANISHED') {
        if (vanished) throw new ParseError('VANISHED given twice')
        vanished = true
      } else {
        throw new ParseError(`unknown FETCH modifier ${shorten(name)}`)
      }
      return name
    })
    if (modifiers.length === 0) throw new ParseError('expected at least one FETCH modifier')
    // RFC 7162 §3.2.6: "It is a protocol error to use the VANISHED UID FETCH modifier without
    // the CHANGEDSINCE UID FETCH modifier."
    if (vanished && changedSince === null) {
      throw new ParseError('VANISHED needs CHANGEDSINCE')
    }
  }
  reader.end()
  return { items: withoutDuplicates(items), changedSince, vanished }
}

/**
 * The name the server gives an item in its FETCH response (RFC 9051 §7.5.2): BODY.PEEK and
 * BINARY.PEEK are answered as BODY and BINARY, a partial by its origin octet alone
 * (`BODY[]<0>`), header field names as the client wrote them (quoted when they are not atoms).
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-7.5.2
 * @see https://www.rfc-editor.org/rfc/rfc3516#section-4.3
 */
export function fetchResponseName(item: FetchItem): string {
  switch (item.kind) {
    case 'section':
      return `BODY[${formatSection(item.path, item.text)}]${formatOrigin(item.partial)}`
    case 'binary':
      return `BINARY[${item.path.join('.')}]${formatOrigin(item.partial)}`
    case 'binary.size':
      return `BINARY.SIZE[${item.path.join('.')}]`
    default:
      return PLAIN_NAMES[item.kind]
  }
}

/**
 * The item as a client writes it in a FETCH command: parseFetchRequest reads it back as the same
 * item. For the keys of a cache, logs, and tests.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9
 */
export function formatFetchItem(item: FetchItem): string {
  switch (item.kind) {
    case 'section':
      return `BODY${item.peek ? '.PEEK' : ''}[${formatSection(item.path, item.text)}]${formatPartial(item.partial)}`
    case 'binary':
      return `BINARY${item.peek ? '.PEEK' : ''}[${item.path.join('.')}]${formatPartial(item.partial)}`
    default:
      return fetchResponseName(item)
  }
}

/**
 * Whether fetching the item sets \Seen: BODY[...] and BINARY[...] without .PEEK, RFC822 and
 * RFC822.TEXT (RFC 9051 §6.4.5; RFC 3501 §6.4.5; RFC 3516 §4.2). RFC822.HEADER is
 * BODY.PEEK[HEADER] and leaves \Seen alone.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-6.4.5
 */
export function setsSeen(item: FetchItem): boolean {
  switch (item.kind) {
    case 'section':
    case 'binary':
      return !item.peek
    case 'rfc822':
    case 'rfc822.text':
      return true
    default:
      return false
  }
}

// fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822.SIZE" / "BODY" ["STRUCTURE"] /
//             "UID" / "BODY" section [partial] / "BODY.PEEK" section [partial] /
//             "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary
//                                                                        (RFC 9051 §9)
// fetch-att =/ "RFC822" [".HEADER" / ".TEXT"]                           (RFC 3501 §9)
// fetch-att =/ "MODSEQ"                                                 (RFC 7162 §7)
function readFetchAtt(reader: CommandReader): FetchItem {
  return fetchAtt(reader, readName(reader))
}

function fetchAtt(reader: CommandReader, name: string): FetchItem {
  const plain = PLAIN_ITEMS.get(name)
  if (plain !== undefined) {
    if (reader.peek() === OPEN_BRACKET) throw new ParseError(`${name} takes no section`)
    return { ...plain }
  }
  switch (name) {
    case 'BODY':
      if (reader.peek() !== OPEN_BRACKET) return { kind: 'body' }
      return { kind: 'section', peek: false, ...readSection(reader), partial: readPartial(reader) }
    case 'BODY.PEEK':
      return { kind: 'section', peek: true, ...readSection(reader), partial: readPartial(reader) }
    case 'BINARY':
    case 'BINARY.PEEK': {
      const path = readBinarySection(reader)
      return { kind: 'binary', peek: name === 'BINARY.PEEK', path, partial: readPartial(reader) }
    }
    case 'BINARY.SIZE':
      return { kind: 'binary.size', path: readBinarySection(reader) }
    case '':
      throw new ParseError('expected a FETCH item')
    default:
      if (MACROS.has(name)) throw new ParseError(`${name} stands only on its own, not in a list`)
      throw new ParseError(`unknown FETCH item ${shorten(name)}`)
  }
}

// section         = "[" [section-spec] "]"
// section-spec    = section-msgtext / (section-part ["." section-text])
// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
// section-text    = section-msgtext / "MIME"                            (RFC 9051 §9)
function readSection(reader: CommandReader): { path: number[]; text: SectionText } {
  reader.expect('[')
  const path: number[] = []
  let text: SectionText = { kind: 'all' }
  if (isDigit(reader.peek())) {
    path.push(reader.nzNumber())
    while (reader.take('.')) {
      if (!isDigit(reader.peek())) {
        text = readSectionText(reader, true)
        break
      }
      path.push(reader.nzNumber())
    }
  } else if (reader.peek() !== CLOSE_BRACKET) {
    text = readSectionText(reader, false)
  }
  reader.expect(']')
  return { path, text }
}

function readSectionText(reader: CommandReader, afterPart: boolean): SectionText {
  const name = readName(reader)
  switch (name) {
    case 'HEADER':
      return { kind: 'header' }
    case 'TEXT':
      return { kind: 'text' }
    case 'MIME':
      if (!afterPart) throw new ParseError('MIME needs a part number')
      return { kind: 'mime' }
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT': {
      reader.space()
      const names = reader.list(readHeaderFieldName)
      if (names.length === 0) throw new ParseError('expected at least one header field name')
      return { kind: 'header-fields', names, isNot: name === 'HEADER.FIELDS.NOT' }
    }
    case '':
      throw new ParseError('expected a section')
    default:
      throw new ParseError(`unknown section ${shorten(name)}`)
  }
}

// header-fld-name = astring   (RFC 9051 §9)
function readHeaderFieldName(reader: CommandReader): string {
  const name = reader.astring().toString('latin1')
  // Deviation from RFC 9051 §9, which takes any astring: a name must be an RFC 5322 §3.6.8
  // field-name (1*ftext, printable US-ASCII but ":"). No other can name a field, and this way
  // every name can be echoed in the response as an atom or a quoted string.
  if (!/^[!-9;-~]+$/.test(name)) throw new ParseError('not a header field name')
  return name
}

// section-binary = "[" [section-part] "]"
// section-part   = nz-number *("." nz-number)                           (RFC 9051 §9)
function readBinarySection(reader: CommandReader): number[] {
  reader.expect('[')
  const path: number[] = []
  if (reader.peek() !== CLOSE_BRACKET) {
    path.push(reader.nzNumber())
    while (reader.take('.')) path.push(reader.nzNumber())
  }
  reader.expect(']')
  return path
}

// partial = "<" number64 "." nz-number64 ">"   (RFC 9051 §9; RFC 3501: "<" number "." nz-number ">")
function readPartial(reader: CommandReader): FetchPartial | null {
  if (reader.peek() !== LESS_THAN) return null
  reader.expect('<')
  const offset = reader.number64()
  reader.expect('.')
  // Deviation: RFC 9051 and RFC 3501 both want a non-zero length, but a length of 0 is taken and
  // fetches the empty string: it harms nothing, and BAD would only break a client.
  const length = reader.number64()
  reader.expect('>')
  return { offset, length }
}

/**
 * An item or section name: letters, digits and dots, upper-cased ("" when none). Not atom(),
 * which would run on through "[" and "<".
 */
function readName(reader: CommandReader): string {
  let name = ''
  for (;;) {
    const octet = reader.peek()
    if (!isNameChar(octet)) return name.toUpperCase()
    const char = String.fromCharCode(octet)
    reader.take(char)
    name += char
  }
}

function isNameChar(octet: number): boolean {
  return (
    isDigit(octet) ||
    (octet >= 0x41 && octet <= 0x5a) ||
    (octet >= 0x61 && octet <= 0x7a) ||
    octet === 0x2e
  )
}

function isDigit(octet: number): boolean {
  return octet >= 0x30 && octet <= 0x39
}

function formatSection(path: readonly number[], text: SectionText): string {
  const part = path.join('.')
  const textName = formatSectionText(text)
  if (part === '') return textName
  return textName === '' ? part : `${part}.${textName}`
}

function formatSectionText(text: SectionText): string {
  switch (text.kind) {
    case 'all':
      return ''
    case 'header':
      return 'HEADER'
    case 'text':
      return 'TEXT'
    case 'mime':
      return 'MIME'
    case 'header-fields': {
      const names = text.names.map(formatHeaderFieldName).join(' ')
      return `HEADER.FIELDS${text.isNot ? '.NOT' : ''} (${names})`
    }
  }
}

/** As an atom when it is one (RFC 9051 §9 atom-specials excluded), else as a quoted string. */
function formatHeaderFieldName(name: string): string {
  if (/^[!#$&'+-[^-z|-~]+$/.test(name)) return name
  return `"${name.replace(/["\\]/g, '\\$&')}"`
}

function formatPartial(partial: FetchPartial | null): string {
  return partial === null ? '' : `<${partial.offset}.${partial.length}>`
}

function formatOrigin(partial: FetchPartial | null): string {
  return partial === null ? '' : `<${partial.offset}>`
}

/** Exact duplicates ("FLAGS FLAGS") are answered once: a response names each item once. */
function withoutDuplicates(items: FetchItem[]): FetchItem[] {
  const seen = new Set<string>()
  return items.filter((item) => {
    const key = formatFetchItem(item)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** A name for an error message: never the whole of a long run of octets. */
function shorten(name: string): string {
  return name.length > 32 ? `${name.slice(0, 32)}...` : name
}
