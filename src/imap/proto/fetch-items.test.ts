import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SectionText } from '../../mime/sections.ts'
import { CommandReader, ParseError } from './command-reader.ts'
import {
  type FetchItem,
  type FetchPartial,
  type FetchRequest,
  fetchResponseName,
  formatFetchItem,
  parseFetchRequest,
  setsSeen,
} from './fetch-items.ts'

/**
 * Parses `a FETCH 1:* <args>` as the server would: "\r\n" in args ends a line whose literal is
 * the next of `literals`.
 */
function parse(args: string, literals: string[] = []): FetchRequest {
  const lines = `a FETCH 1:* ${args}`.split('\r\n')
  const reader = new CommandReader(
    lines.map((line) => Buffer.from(line, 'latin1')),
    literals.map((literal) => Buffer.from(literal, 'latin1')),
  )
  reader.tag()
  reader.space()
  assert.equal(reader.keyword(), 'FETCH')
  reader.space()
  reader.word('a sequence set')
  return parseFetchRequest(reader)
}

const items = (args: string, literals: string[] = []) => parse(args, literals).items

const all: SectionText = { kind: 'all' }
const header: SectionText = { kind: 'header' }
const text: SectionText = { kind: 'text' }
const mime: SectionText = { kind: 'mime' }
const fields = (names: string[], isNot = false): SectionText => ({
  kind: 'header-fields',
  names,
  isNot,
})
const body = (
  path: number[],
  sectionText: SectionText,
  options: { peek?: boolean; partial?: FetchPartial } = {},
): FetchItem => ({
  kind: 'section',
  peek: options.peek ?? false,
  path,
  text: sectionText,
  partial: options.partial ?? null,
})
const binary = (path: number[], options: { peek?: boolean; partial?: FetchPartial } = {}) =>
  ({
    kind: 'binary',
    peek: options.peek ?? false,
    path,
    partial: options.partial ?? null,
  }) satisfies FetchItem
const FLAGS: FetchItem = { kind: 'flags' }
const UID: FetchItem = { kind: 'uid' }
const INTERNALDATE: FetchItem = { kind: 'internaldate' }
const SIZE: FetchItem = { kind: 'rfc822.size' }
const ENVELOPE: FetchItem = { kind: 'envelope' }
const BODY: FetchItem = { kind: 'body' }

const GOOD: Array<[string, FetchItem[]]> = [
  // Macros (RFC 9051 §6.4.5), any case.
  ['ALL', [FLAGS, INTERNALDATE, SIZE, ENVELOPE]],
  ['fast', [FLAGS, INTERNALDATE, SIZE]],
  ['Full', [FLAGS, INTERNALDATE, SIZE, ENVELOPE, BODY]],
  // Single items, bare or in a list.
  ['FLAGS', [FLAGS]],
  ['(FLAGS)', [FLAGS]],
  ['uid', [UID]],
  ['InternalDate', [INTERNALDATE]],
  ['RFC822.SIZE', [SIZE]],
  ['ENVELOPE', [ENVELOPE]],
  ['BODY', [BODY]],
  ['BODYSTRUCTURE', [{ kind: 'bodystructure' }]],
  ['modseq', [{ kind: 'modseq' }]],
  ['RFC822', [{ kind: 'rfc822' }]],
  ['rfc822.header', [{ kind: 'rfc822.header' }]],
  ['RFC822.TEXT', [{ kind: 'rfc822.text' }]],
  ['(UID RFC822.SIZE FLAGS BODY.PEEK[])', [UID, SIZE, FLAGS, body([], all, { peek: true })]],
  ['(ENVELOPE BODY BODYSTRUCTURE)', [ENVELOPE, BODY, { kind: 'bodystructure' }]],
  // Sections.
  ['BODY[]', [body([], all)]],
  ['body[header]', [body([], header)]],
  ['BODY[TEXT]', [body([], text)]],
  ['BODY.PEEK[HEADER]', [body([], header, { peek: true })]],
  ['body.peek[text]', [body([], text, { peek: true })]],
  ['BODY[1]', [body([1], all)]],
  ['BODY[1.2.3]', [body([1, 2, 3], all)]],
  ['BODY[1.2.MIME]', [body([1, 2], mime)]],
  ['BODY[1.mime]', [body([1], mime)]],
  ['BODY[1.HEADER]', [body([1], header)]],
  ['BODY[1.TEXT]', [body([1], text)]],
  ['BODY[4294967295]', [body([4294967295], all)]],
  ['BODY[HEADER.FIELDS (FROM TO)]', [body([], fields(['FROM', 'TO']))]],
  ['BODY[header.fields (From to)]', [body([], fields(['From', 'to']))]],
  ['BODY[HEADER.FIELDS.NOT (Received)]', [body([], fields(['Received'], true))]],
  ['BODY.PEEK[2.HEADER.FIELDS (X-A)]', [body([2], fields(['X-A']), { peek: true })]],
  ['BODY[HEADER.FIELDS ("Subject" x-y]z)]', [body([], fields(['Subject', 'x-y]z']))]],
  ['BODY[HEADER.FIELDS ("a\\"b")]', [body([], fields(['a"b']))]],
  ['BODY[HEADER.FIELDS (FROM FROM)]', [body([], fields(['FROM', 'FROM']))]],
  // Partials: offset 0, large offsets (number64), and a length of 0 (see the module).
  ['BODY[]<0.2048>', [body([], all, { partial: { offset: 0, length: 2048 } })]],
  [
    'BODY.PEEK[1.TEXT]<10.5>',
    [body([1], text, { peek: true, partial: { offset: 10, length: 5 } })],
  ],
  [
    'BODY[]<9007199254740991.9007199254740991>',
    [body([], all, { partial: { offset: 9007199254740991, length: 9007199254740991 } })],
  ],
  ['BODY[]<0.0>', [body([], all, { partial: { offset: 0, length: 0 } })]],
  ['BODY[]<007.010>', [body([], all, { partial: { offset: 7, length: 10 } })]],
  // BINARY (RFC 3516 §4.2).
  ['BINARY[]', [binary([])]],
  ['binary[1.2]', [binary([1, 2])]],
  ['BINARY.PEEK[3]', [binary([3], { peek: true })]],
  ['BINARY[1]<0.100>', [binary([1], { partial: { offset: 0, length: 100 } })]],
  ['BINARY.PEEK[]<5.6>', [binary([], { peek: true, partial: { offset: 5, length: 6 } })]],
  ['BINARY.SIZE[]', [{ kind: 'binary.size', path: [] }]],
  ['binary.size[1.2]', [{ kind: 'binary.size', path: [1, 2] }]],
  // Exact duplicates are kept once, in the place of the first.
  ['(FLAGS UID FLAGS)', [FLAGS, UID]],
  ['(BODY[1] BODY.PEEK[1] BODY[1])', [body([1], all), body([1], all, { peek: true })]],
  [
    '(BODY[]<0.10> BODY[]<0.20>)',
    [0, 0].map((_, i) => body([], all, { partial: { offset: 0, length: 10 * (i + 1) } })),
  ],
  [
    '(BODY[HEADER.FIELDS (A)] BODY[HEADER.FIELDS (a)])',
    [body([], fields(['A'])), body([], fields(['a']))],
  ],
]

test('FETCH items: macros, plain items, sections, partials, BINARY', () => {
  for (const [args, expected] of GOOD) {
    const request = parse(args)
    assert.deepEqual(request.items, expected, args)
    assert.equal(request.changedSince, null, args)
    assert.equal(request.vanished, false, args)
  }
})

test('header field names in literals', () => {
  assert.deepEqual(items('BODY[HEADER.FIELDS ({4}\r\n X-B)]', ['From']), [
    body([], fields(['From', 'X-B'])),
  ])
  assert.deepEqual(items('(UID BODY.PEEK[HEADER.FIELDS.NOT ({2+}\r\n)] FLAGS)', ['Cc']), [
    UID,
    body([], fields(['Cc'], true), { peek: true }),
    FLAGS,
  ])
  assert.throws(() => items('BODY[HEADER.FIELDS ({3}\r\n)]', ['a b']), /not a header field name/)
})

const MODIFIERS: Array<[string, number | null, boolean]> = [
  ['FLAGS (CHANGEDSINCE 12345)', 12345, false],
  ['(FLAGS) (changedsince 1)', 1, false],
  ['ALL (CHANGEDSINCE 0)', 0, false],
  ['BODY[] (CHANGEDSINCE 9007199254740991)', 9007199254740991, false],
  ['(FLAGS) (CHANGEDSINCE 5 VANISHED)', 5, true],
  ['(FLAGS) (vanished ChangedSince 7)', 7, true],
]

test('RFC 7162 modifiers: CHANGEDSINCE and VANISHED', () => {
  for (const [args, changedSince, vanished] of MODIFIERS) {
    const request = parse(args)
    assert.equal(request.changedSince, changedSince, args)
    assert.equal(request.vanished, vanished, args)
  }
})

const BAD: Array<[string, RegExp?]> = [
  // Not an item list at all.
  [''],
  [' FLAGS'],
  ['()', /at least one FETCH item/],
  ['( FLAGS)'],
  ['(FLAGS )'],
  ['(FLAGS  UID)'],
  ['(FLAGS'],
  ['FLAGS)'],
  ['((FLAGS))'],
  ['FLAGS UID', /unexpected text|expected "\("/],
  ['FLAGS,UID'],
  // Unknown items and macros out of place.
  ['FOO', /unknown FETCH item FOO/],
  ['FLAGSS'],
  ['RFC822.PEEK'],
  ['BODY.STRUCTURE'],
  ['(ALL)', /stands only on its own/],
  ['(FLAGS FAST)', /stands only on its own/],
  ['ALL FLAGS'],
  ['"FLAGS"'],
  ['{5}'],
  [`${'X'.repeat(100)}`, /unknown FETCH item X{32}\.\.\.$/],
  // Items that take no section, and ones that need one.
  ['FLAGS[]', /takes no section/],
  ['BODYSTRUCTURE[1]'],
  ['RFC822[]'],
  ['BODY.PEEK'],
  ['BODY.PEEK<0.1>'],
  ['BODY<0.1>'],
  ['BINARY'],
  ['BINARY.PEEK'],
  ['BINARY.SIZE'],
  // Section specs.
  ['BODY['],
  ['BODY[1'],
  ['BODY[0]', /non-zero/],
  ['BODY[01]'],
  ['BODY[1.0]'],
  ['BODY[1.]'],
  ['BODY[.1]'],
  ['BODY[1..2]'],
  ['BODY[-1]'],
  ['BODY[4294967296]', /too large/],
  ['BODY[MIME]', /MIME needs a part number/],
  ['BODY[HEADER.MIME]'],
  ['BODY[TEXT.1]'],
  ['BODY[HEADERS]', /unknown section/],
  ['BODY[1.HEADER.TEXT]'],
  ['BODY[HEADER ]'],
  ['BODY[ HEADER]'],
  ['BODY[HEADER.FIELDS]'],
  ['BODY[HEADER.FIELDS ()]', /at least one header field name/],
  ['BODY[HEADER.FIELDS FROM]'],
  ['BODY[HEADER.FIELDS(FROM)]'],
  ['BODY[HEADER.FIELDS  (FROM)]'],
  ['BODY[HEADER.FIELDS (FROM)'],
  ['BODY[HEADER.FIELDS (FROM) ]'],
  ['BODY[HEADER.FIELDS (FROM )]'],
  ['BODY[HEADER.FIELDS ((FROM))]'],
  ['BODY[HEADER.FIELDS.NOT]'],
  ['BODY[HEADER.FIELDS.NOTE (A)]'],
  ['BODY[HEADER.FIELDS ("")]', /not a header field name/],
  ['BODY[HEADER.FIELDS ("a:b")]', /not a header field name/],
  ['BODY[HEADER.FIELDS ("a b")]', /not a header field name/],
  ['BODY[HEADER.FIELDS ("caf\xe9")]', /not a header field name/],
  ['BODY[TEXT]]'],
  ['BODY[]]'],
  ['BODY[[]]'],
  // Partials.
  ['BODY[]<>'],
  ['BODY[]<0>'],
  ['BODY[]<0.>'],
  ['BODY[]<.1>'],
  ['BODY[]<0.1'],
  ['BODY[]<0,1>'],
  ['BODY[]<-1.1>'],
  ['BODY[]<0.1><0.1>'],
  ['BODY[]<9007199254740992.1>', /too large/],
  ['BODY[]<0.9007199254740992>', /too large/],
  ['BODY[] <0.1>'],
  // BINARY sections are part numbers only; BINARY.SIZE has no partial.
  ['BINARY[HEADER]'],
  ['BINARY[1.TEXT]'],
  ['BINARY[1.MIME]'],
  ['BINARY[0]'],
  ['BINARY[1.]'],
  ['BINARY.SIZE[1]<0.1>'],
  ['BINARY.SIZE.PEEK[1]'],
  ['BINARY.PEEK.SIZE[1]'],
  // Modifiers.
  ['FLAGS ()', /at least one FETCH modifier/],
  ['FLAGS (CHANGEDSINCE)'],
  ['FLAGS (CHANGEDSINCE x)'],
  ['FLAGS (CHANGEDSINCE -1)'],
  ['FLAGS (CHANGEDSINCE 9007199254740992)', /too large/],
  ['FLAGS (CHANGEDSINCE  1)'],
  ['FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)', /twice/],
  ['FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)', /twice/],
  ['FLAGS (VANISHED)', /VANISHED needs CHANGEDSINCE/],
  ['FLAGS (CHANGEDSINCE 1 FOO)', /unknown FETCH modifier FOO/],
  ['FLAGS (FOO 1)', /unknown FETCH modifier/],
  ['FLAGS CHANGEDSINCE 1'],
  ['FLAGS (CHANGEDSINCE 1) (VANISHED)'],
  ['FLAGS (CHANGEDSINCE 1)x'],
  ['FLAGS (CHANGEDSINCE 1) '],
  ['FLAGS  (CHANGEDSINCE 1)'],
  ['FLAGS ((CHANGEDSINCE 1))'],
  ['FLAGS (CHANGEDSINCE 1'],
  // Trailing text.
  ['FLAGS '],
  ['(FLAGS) '],
  ['(FLAGS)x'],
  ['BODY[]x'],
  ['ALL x'],
]

test('commands that break the grammar throw ParseError', () => {
  for (const [args, message] of BAD) {
    assert.throws(
      () => parse(args),
      (error: unknown) => {
        assert.ok(error instanceof ParseError, `${args}: ${String(error)}`)
        if (message !== undefined) assert.match(error.message, message, args)
        return true
      },
      args,
    )
  }
})

test('nested lists are neither FETCH items nor header field names', () => {
  assert.throws(() => parse(`${'('.repeat(100)}FLAGS${')'.repeat(100)}`), ParseError)
  const deepFields = `BODY[HEADER.FIELDS ${'('.repeat(100)}A${')'.repeat(100)}]`
  assert.throws(() => parse(deepFields), ParseError)
})

const NAMES: Array<[string, string[]]> = [
  ['FAST', ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']],
  [
    '(uid envelope body bodystructure modseq)',
    ['UID', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ'],
  ],
  [
    '(rfc822 rfc822.header rfc822.text rfc822.size)',
    ['RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'RFC822.SIZE'],
  ],
  ['body[]', ['BODY[]']],
  ['body.peek[]', ['BODY[]']],
  ['BODY.PEEK[1.2.header.fields (From To)]<0.100>', ['BODY[1.2.HEADER.FIELDS (From To)]<0>']],
  ['BODY[header.fields.not ("x\\"y" "a]b" c)]', ['BODY[HEADER.FIELDS.NOT ("x\\"y" "a]b" c)]']],
  [
    'BODY[HEADER.FIELDS ("%" "*" "(" "{" "\\\\")]',
    ['BODY[HEADER.FIELDS ("%" "*" "(" "{" "\\\\")]'],
  ],
  ['BODY[HEADER.FIELDS ("X-}" "#$&\'+[^|~")]', ["BODY[HEADER.FIELDS (X-} #$&'+[^|~)]"]],
  ['BODY[2.MIME]<77.3>', ['BODY[2.MIME]<77>']],
  ['BODY[3.TEXT]', ['BODY[3.TEXT]']],
  ['BODY[4]', ['BODY[4]']],
  ['BODY[HEADER]', ['BODY[HEADER]']],
  ['binary.peek[1]<0.10>', ['BINARY[1]<0>']],
  ['BINARY[]', ['BINARY[]']],
  ['binary.size[2]', ['BINARY.SIZE[2]']],
  ['binary.size[]', ['BINARY.SIZE[]']],
]

test('fetchResponseName: the names a FETCH response gives the items (RFC 9051 §7.5.2)', () => {
  for (const [args, names] of NAMES) {
    assert.deepEqual(items(args).map(fetchResponseName), names, args)
  }
})

test('formatFetchItem writes what parses back to the same item', () => {
  const texts = [
    'FLAGS',
    'BODY',
    'BODY[]',
    'BODY.PEEK[1.2.HEADER.FIELDS.NOT (From "a\\"b" "(x)")]<3.4>',
    'BODY[1.MIME]',
    'BINARY.PEEK[1.2]<0.0>',
    'BINARY[]',
    'BINARY.SIZE[7]',
    'RFC822.HEADER',
  ]
  for (const wire of texts) {
    const [item] = items(wire)
    assert.ok(item !== undefined)
    assert.equal(formatFetchItem(item), wire)
    assert.deepEqual(items(formatFetchItem(item)), [item])
  }
})

const SEEN: Array<[string, boolean[]]> = [
  ['ALL', [false, false, false, false]],
  ['(BODY BODYSTRUCTURE UID MODSEQ)', [false, false, false, false]],
  ['(RFC822 RFC822.TEXT RFC822.HEADER RFC822.SIZE)', [true, true, false, false]],
  ['(BODY[] BODY.PEEK[] BODY[HEADER] BODY.PEEK[1.TEXT]<0.1>)', [true, false, true, false]],
  ['(BINARY[1] BINARY.PEEK[1] BINARY.SIZE[1])', [true, false, false]],
]

test('setsSeen: BODY and BINARY sections without PEEK, RFC822 and RFC822.TEXT', () => {
  for (const [args, seen] of SEEN) {
    assert.deepEqual(items(args).map(setsSeen), seen, args)
  }
})
