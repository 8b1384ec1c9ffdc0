import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CommandReader, ParseError } from './command-reader.ts'
import {
  BadCharsetError,
  MAX_SEARCH_KEY_DEPTH,
  parseSearchRequest,
  type SearchKey,
  type SearchRequest,
} from './search-keys.ts'

/** What follows "SEARCH": the arguments with their leading space, and any literals. */
function parse(
  lines: string | string[],
  literals: Array<string | Buffer> = [],
  options = { utf8Enabled: false },
): SearchRequest {
  const all = typeof lines === 'string' ? [lines] : lines
  const reader = new CommandReader(
    all.map((line) => Buffer.from(line, 'latin1')),
    literals.map((literal) => (typeof literal === 'string' ? Buffer.from(literal) : literal)),
  )
  return parseSearchRequest(reader, options)
}

const key = (args: string): SearchKey => parse(` ${args}`).key
const flag = (name: string, isSet: boolean): SearchKey => ({ kind: 'flag', flag: name, isSet })
const text = (field: string, value: string): SearchKey => ({
  kind: 'text',
  query: { field, value },
})

test('every key without arguments, in any case', () => {
  const table: Array<[string, SearchKey]> = [
    ['ALL', { kind: 'all' }],
    ['ANSWERED', flag('\\Answered', true)],
    ['UNANSWERED', flag('\\Answered', false)],
    ['DELETED', flag('\\Deleted', true)],
    ['UNDELETED', flag('\\Deleted', false)],
    ['DRAFT', flag('\\Draft', true)],
    ['UNDRAFT', flag('\\Draft', false)],
    ['FLAGGED', flag('\\Flagged', true)],
    ['UNFLAGGED', flag('\\Flagged', false)],
    ['SEEN', flag('\\Seen', true)],
    ['UNSEEN', flag('\\Seen', false)],
    ['RECENT', flag('\\Recent', true)],
    ['OLD', flag('\\Recent', false)],
    ['NEW', { kind: 'and', keys: [flag('\\Recent', true), flag('\\Seen', false)] }],
  ]
  for (const [name, expected] of table) {
    assert.deepEqual(key(name), expected, name)
    assert.deepEqual(key(name.toLowerCase()), expected, name.toLowerCase())
    const mixed = name.charAt(0).toLowerCase() + name.slice(1)
    assert.deepEqual(key(mixed), expected, mixed)
  }
})

test('keys with arguments: keywords, strings, headers, dates, sizes, sets, MODSEQ, WITHIN', () => {
  const table: Array<[string, SearchKey]> = [
    ['KEYWORD $Forwarded', flag('$Forwarded', true)],
    ['unkeyword NonJunk', flag('NonJunk', false)],
    ['BCC boss', text('bcc', 'boss')],
    ['CC "Ann Smith"', text('cc', 'Ann Smith')],
    ['FROM smith', text('from', 'smith')],
    ['Subject "a \\"quoted\\" word"', text('subject', 'a "quoted" word')],
    ['TO x]y', text('to', 'x]y')],
    ['BODY ""', text('body', '')],
    ['text "caf\xc3\xa9"', text('text', 'café')],
    ['HEADER Message-ID "<a@b>"', text('message-id', '<a@b>')],
    ['header X-Spam-Flag ""', text('x-spam-flag', '')],
    ['BEFORE 1-Feb-1994', { kind: 'date', field: 'internal', op: 'before', date: '1994-02-01' }],
    ['on 29-feb-2024', { kind: 'date', field: 'internal', op: 'on', date: '2024-02-29' }],
    ['SINCE "01-DEC-2006"', { kind: 'date', field: 'internal', op: 'since', date: '2006-12-01' }],
    ['SENTBEFORE 31-Jan-2020', { kind: 'date', field: 'sent', op: 'before', date: '2020-01-31' }],
    ['SENTON 5-Jul-1999', { kind: 'date', field: 'sent', op: 'on', date: '1999-07-05' }],
    ['sentsince 10-Oct-2010', { kind: 'date', field: 'sent', op: 'since', date: '2010-10-10' }],
    ['LARGER 4096', { kind: 'size', op: 'larger', size: 4096 }],
    ['SMALLER 0', { kind: 'size', op: 'smaller', size: 0 }],
    ['LARGER 9007199254740991', { kind: 'size', op: 'larger', size: Number.MAX_SAFE_INTEGER }],
    ['UID 1:5,7', { kind: 'uid', set: { kind: 'ranges', ranges: range([1, 5], [7, 7]) } }],
    ['uid $', { kind: 'uid', set: { kind: 'saved' } }],
    ['2:4', { kind: 'sequence', set: { kind: 'ranges', ranges: range([2, 4]) } }],
    ['*', { kind: 'sequence', set: { kind: 'ranges', ranges: [{ from: '*', to: '*' }] } }],
    ['$', { kind: 'sequence', set: { kind: 'saved' } }],
    ['MODSEQ 620162338', { kind: 'modseq', modseq: 620162338 }],
    ['MODSEQ 0', { kind: 'modseq', modseq: 0 }],
    ['modseq "/flags/\\\\draft" all 620162338', { kind: 'modseq', modseq: 620162338 }],
    ['MODSEQ "/flags/$Junk" PRIV 5', { kind: 'modseq', modseq: 5 }],
    ['MODSEQ "/flags/\\\\Seen" shared 7', { kind: 'modseq', modseq: 7 }],
    ['OLDER 3600', { kind: 'older', seconds: 3600 }],
    ['younger 60', { kind: 'younger', seconds: 60 }],
  ]
  for (const [args, expected] of table) assert.deepEqual(key(args), expected, args)
})

function range(...pairs: Array<[number, number]>) {
  return pairs.map(([from, to]) => ({ from, to }))
}

test('NOT, OR, parenthesized lists and the top level as one AND', () => {
  assert.deepEqual(key('NOT SEEN'), { kind: 'not', key: flag('\\Seen', true) })
  assert.deepEqual(key('OR SEEN FLAGGED'), {
    kind: 'or',
    left: flag('\\Seen', true),
    right: flag('\\Flagged', true),
  })
  // RFC 9051 §6.4.4's example: DELETED FROM "SMITH" SINCE 1-Feb-1994.
  assert.deepEqual(key('DELETED FROM "SMITH" SINCE 1-Feb-1994'), {
    kind: 'and',
    keys: [
      flag('\\Deleted', true),
      text('from', 'SMITH'),
      { kind: 'date', field: 'internal', op: 'since', date: '1994-02-01' },
    ],
  })
  assert.deepEqual(key('(SEEN)'), flag('\\Seen', true))
  assert.deepEqual(key('OR (SEEN FLAGGED) NOT (OR 1 UID 9)'), {
    kind: 'or',
    left: { kind: 'and', keys: [flag('\\Seen', true), flag('\\Flagged', true)] },
    right: {
      kind: 'not',
      key: {
        kind: 'or',
        left: { kind: 'sequence', set: { kind: 'ranges', ranges: range([1, 1]) } },
        right: { kind: 'uid', set: { kind: 'ranges', ranges: range([9, 9]) } },
      },
    },
  })
  assert.deepEqual(key('((((ALL))))'), { kind: 'all' })
  // RFC 5182 §2.2 example 4: "$" combined with other numbers.
  assert.deepEqual(key('(OR $ 1,3000:3021) TEXT x').kind, 'and')
})

test('RETURN options and CHARSET', () => {
  const request = parse(' RETURN (MIN count) FLAGGED')
  assert.deepEqual(request.returnOptions, new Set(['MIN', 'COUNT']))
  assert.equal(request.charset, null)
  assert.deepEqual(request.key, flag('\\Flagged', true))
  // RFC 4731 §3.1: RETURN () is RETURN (ALL).
  assert.deepEqual(parse(' RETURN () ALL').returnOptions, new Set(['ALL']))
  assert.deepEqual(
    parse(' return (SAVE MIN MAX ALL COUNT) 1').returnOptions,
    new Set(['SAVE', 'MIN', 'MAX', 'ALL', 'COUNT']),
  )
  assert.equal(parse(' ALL').returnOptions, null)
  assert.deepEqual(parse(' RETURN (ALL) (SEEN)').key, flag('\\Seen', true))

  // RFC 9051 §6.4.4.4 example 4.
  const withCharset = parse(
    [' RETURN (SAVE) CHARSET UTF-8 (OR $ 1,3000:3021) TEXT {8+}', ''],
    ['мать'],
  )
  assert.equal(withCharset.charset, 'UTF-8')
  assert.deepEqual(withCharset.returnOptions, new Set(['SAVE']))
  assert.deepEqual((withCharset.key as { keys: SearchKey[] }).keys[1], text('text', 'мать'))
  assert.deepEqual(parse(' charset "us-ascii" TO "x"').key, text('to', 'x'))
})

test('strings in literals and in other charsets', () => {
  // RFC 9051 §6.4.4: a literal, in UTF-8.
  const utf8 = parse([' CHARSET UTF-8 TEXT {12}', ''], ['отпуск'])
  assert.deepEqual(utf8.key, text('text', 'отпуск'))
  // No CHARSET: UTF-8 (RFC 9051 §6.4.4).
  assert.deepEqual(parse([' SUBJECT {5}', ''], ['café']).key, text('subject', 'café'))
  // KOI8-R "отпуск".
  const koi8 = Buffer.from([0xcf, 0xd4, 0xd0, 0xd5, 0xd3, 0xcb])
  assert.deepEqual(parse([' CHARSET KOI8-R BODY {6}', ''], [koi8]).key, text('body', 'отпуск'))
  // ISO-8859-1 in a quoted string and in HEADER's field name.
  assert.deepEqual(parse(' CHARSET ISO-8859-1 HEADER X-Note "caf\xe9"').key, text('x-note', 'café'))
  assert.deepEqual(parse([' FROM {3}', ' TO {3+}', ''], ['a b', 'c d']).key, {
    kind: 'and',
    keys: [text('from', 'a b'), text('to', 'c d')],
  })
})

test('an unknown charset is BADCHARSET, once the command is known to be well formed', () => {
  assert.throws(() => parse(' CHARSET KOI8-Q TEXT x'), BadCharsetError)
  assert.throws(
    () => parse([' RETURN (SAVE) CHARSET X-UNKNOWN (OR $ 1) TEXT {4}', ''], ['XXXX']),
    (error: unknown) => error instanceof BadCharsetError && /X-UNKNOWN/.test(error.message),
  )
  // Off the grammar after the charset: BAD, not NO.
  assert.throws(() => parse(' CHARSET KOI8-Q TEXT'), ParseError)
})

test('after ENABLE UTF8=ACCEPT only CHARSET UTF-8 is let through (RFC 6855 §3)', () => {
  const utf8Enabled = { utf8Enabled: true }
  assert.deepEqual(parse(' CHARSET utf-8 SEEN', [], utf8Enabled).key, flag('\\Seen', true))
  assert.deepEqual(parse(' SUBJECT "\xc3\xa9"', [], utf8Enabled).key, text('subject', 'é'))
  assert.throws(() => parse(' CHARSET US-ASCII SEEN', [], utf8Enabled), /RFC 6855/)
  assert.throws(() => parse(' CHARSET KOI8-R SEEN', [], utf8Enabled), ParseError)
  assert.throws(() => parse(' CHARSET X-NONE SEEN', [], utf8Enabled), ParseError)
})

test('bad input is BAD with a message that says what is wrong', () => {
  const table: Array<[string, RegExp]> = [
    ['', /expected a space/],
    [' ', /expected a search key/],
    ['  ALL', /expected a search key/],
    [' ALL ', /expected a search key/],
    [' ALL  SEEN', /expected a search key/],
    [' BOGUS', /unknown search key "BOGUS"/],
    [' SEEN)', /expected a space/],
    [' (SEEN', /expected a space/],
    [' ()', /not "\(\)"/],
    [' ( SEEN)', /expected a search key/],
    [' NOT', /expected a space/],
    [' OR SEEN', /expected a space/],
    [' FROM', /expected a space/],
    [' FROM "open', /unterminated/],
    [' KEYWORD \\Seen', /expected an atom/],
    [' BEFORE 1-Foo-1994', /expected a date like 1-Feb-1994, not "1-Foo-1994"/],
    [' BEFORE 1994-02-01', /expected a date/],
    [' ON 123-Feb-1994', /expected a date/],
    [' ON 1-Feb-94', /expected a date/],
    [' SINCE 30-Feb-2024', /"30-Feb-2024" is not a date/],
    [' SINCE 0-Jan-2024', /is not a date/],
    [' SENTON "1-Feb-1994', /unterminated/],
    [' LARGER x', /expected a number/],
    [' SMALLER 9007199254740992', /too large/],
    [' SMALLER -1', /expected a number/],
    [' UID x', /"x" is not a sequence set/],
    [' UID 0', /"0" is not a sequence set/],
    [' UID 1,$', /is not a sequence set/],
    [' 0', /unknown search key "0"/],
    [' 1:', /unknown search key/],
    [' HEADER "" x', /is not a header field name/],
    [' HEADER "a:b" x', /is not a header field name/],
    [' HEADER "a b" x', /is not a header field name/],
    [' HEADER Subject', /expected a space/],
    [' MODSEQ', /expected a space/],
    [' MODSEQ x', /expected a number/],
    [' MODSEQ "/flags/\\\\Seen" 5', /expected a space|not a MODSEQ entry type/],
    [' MODSEQ "/flags/\\\\Seen" mine 5', /"MINE" is not a MODSEQ entry type/],
    [' MODSEQ "/other/x" all 5', /is not a MODSEQ entry name/],
    [' OLDER 0', /non-zero/],
    [' RETURN', /expected a space/],
    [' RETURN MIN ALL', /expected "\("/],
    [' RETURN (MIN PARTIAL) ALL', /unknown SEARCH return option "PARTIAL"/],
    [' RETURN (MIN)', /expected a space/],
    [' RETURN (MIN) ', /expected a search key/],
    [' CHARSET', /expected a space/],
    [' CHARSET UTF-8', /expected a space/],
    [' CHARSET UTF-8 RETURN (MIN) ALL', /unknown search key "RETURN"/],
    [' CHARSET (x) ALL', /expected an atom/],
    [' NOT(SEEN)', /unknown search key "NOT\(SEEN"/],
    [` ${'x'.repeat(100)}`, /unknown search key "x{40}\.\.\."/],
    [' SUBJECT "a\\b"', /escapes only/],
  ]
  for (const [args, message] of table) {
    assert.throws(() => parse(args), ParseError, JSON.stringify(args))
    assert.throws(() => parse(args), message, JSON.stringify(args))
  }
  // 8-bit octets in a token come back as "?".
  assert.throws(() => parse(' B\xe9GUS'), /unknown search key "B"|expected/)
})

test('nesting is bounded: lists by the reader, NOT and OR by MAX_SEARCH_KEY_DEPTH', () => {
  assert.throws(() => key(`${'('.repeat(40)}ALL${')'.repeat(40)}`), /nested deeper/)
  const nots = (n: number) => `${'NOT '.repeat(n)}ALL`
  assert.equal(key(nots(MAX_SEARCH_KEY_DEPTH - 1)).kind, 'not')
  assert.throws(() => key(nots(MAX_SEARCH_KEY_DEPTH)), /nested deeper than 1000/)
  // A whole 64 KiB line of NOT is refused, not a stack overflow.
  assert.throws(() => key(nots(16 * 1024)), ParseError)
  // Long OR chains, as clients looking for many Message-IDs write them, are fine.
  const chain = Array.from({ length: 300 }, (_, i) => `OR HEADER Message-ID <${i}@x>`).join(' ')
  assert.equal(key(`${chain} ALL`).kind, 'or')
  assert.throws(() => key(`${'OR ALL '.repeat(MAX_SEARCH_KEY_DEPTH)}ALL`), /nested deeper/)
})
