import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  formatParameterizedValue,
  type ParameterizedField,
  parseContentTypeValue,
  parseParameterizedValue,
} from './params.ts'

const parse = (text: string, field?: ParameterizedField) => {
  const { value, params, rawParams } = parseParameterizedValue(text, field)
  return { value, params: Object.fromEntries(params), rawParams }
}

// rawParams as Dovecot 2.3 reports them in BODYSTRUCTURE's body-fld-param (each case checked
// with FETCH BODYSTRUCTURE against Dovecot 2.3.19). Values are binary strings, one char per
// octet. `params` lists the decoded parameters a case also checks.
const DOVECOT_PARAMETER_CASES: Array<{
  name: string
  text: string
  rawParams: Array<[string, string]>
  params?: Record<string, string>
}> = [
  {
    name: 'parameter names keep their case as written',
    text: 'TEXT/PLAIN; CHARSET=UTF-8; FORMAT=Flowed',
    rawParams: [
      ['CHARSET', 'UTF-8'],
      ['FORMAT', 'Flowed'],
    ],
    params: { charset: 'UTF-8', format: 'Flowed' },
  },
  {
    name: 'duplicates are all kept, in order',
    text: 'text/plain; charset=us-ascii; charset=utf-8; CHARSET="iso-8859-1"',
    rawParams: [
      ['charset', 'us-ascii'],
      ['charset', 'utf-8'],
      ['CHARSET', 'iso-8859-1'],
    ],
    params: { charset: 'us-ascii' },
  },
  {
    name: 'an unquoted value is a token, the rest up to ";" skipped',
    text: 'application/octet-stream; name=My Document Final (2).pdf',
    rawParams: [['name', 'My']],
    params: { name: 'My Document Final (2).pdf' },
  },
  {
    name: 'invalid pieces are skipped',
    text: 'text/plain; ; novalue; empty=; quoted=""; trailing=semicolon;',
    rawParams: [
      ['empty', ''],
      ['quoted', ''],
      ['trailing', 'semicolon'],
    ],
  },
  {
    name: 'CFWS around "=" and comments are fine',
    text: 'text/plain (comment) ; charset = "us-ascii" (another comment) ; format= flowed',
    rawParams: [
      ['charset', 'us-ascii'],
      ['format', 'flowed'],
    ],
  },
  {
    name: 'an unterminated quoted-string drops its parameter and all after it',
    text: 'text/plain; name="unterminated quote; charset=utf-8',
    rawParams: [],
  },
  {
    name: 'quoted-pairs are unescaped',
    text: 'application/octet-stream; name="esc\\"aped\\\\"',
    rawParams: [['name', 'esc"aped\\']],
  },
  {
    name: '8-bit octets are kept as they are',
    text: 'application/octet-stream; name="\xc3\xa9t\xc3\xa9.txt"; x=caf\xe9',
    rawParams: [
      ['name', '\xc3\xa9t\xc3\xa9.txt'],
      ['x', 'caf\xe9'],
    ],
  },
  {
    name: 'RFC 2231 extended sections merge, still encoded',
    text: "application/pdf; name*0*=UTF-8''%D0%94%D0%BE%D0%BA%D1; name*1*=%83%D0%BC%D0%B5%D0%BD%D1%82; name*2*=.pdf",
    rawParams: [['name*', "UTF-8''%D0%94%D0%BE%D0%BA%D1%83%D0%BC%D0%B5%D0%BD%D1%82.pdf"]],
    params: { name: 'Документ.pdf' },
  },
  {
    name: 'RFC 2231 quoted plain sections merge',
    text: 'text/plain; name*0="a rather long file name that was split "; name*1="into two quoted sections.txt"',
    rawParams: [['name', 'a rather long file name that was split into two quoted sections.txt']],
  },
  {
    name: 'a plain and an RFC 2231 form of one name are both kept, in order',
    text: 'text/csv; filename="EUR rates.csv"; filename*=UTF-8\'en\'%E2%82%AC%20rates.csv',
    rawParams: [
      ['filename', 'EUR rates.csv'],
      ['filename*', "UTF-8'en'%E2%82%AC%20rates.csv"],
    ],
    params: { filename: '€ rates.csv' },
  },
  {
    name: 'an extended section 0 takes plain sections after it as they are (RFC 2231 §4.1)',
    text: "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
    rawParams: [
      ['title*', "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!"],
    ],
    params: { title: "This is even more ***fun*** isn't it!" },
  },
  {
    name: "a plain section 0 before an extended one gets '' and its % escaped",
    text: 'application/octet-stream; name*0="50% of"; name*1*=%20%E2%82%AC',
    rawParams: [['name*', "''50%25 of%20%E2%82%AC"]],
    params: { name: '50% of €' },
  },
  {
    name: 'a merged name keeps the case of its section 0',
    text: 'application/octet-stream; name*1=b; Name*0=a',
    rawParams: [['Name', 'ab']],
  },
  {
    name: 'an unquoted boundary is a token',
    text: 'multipart/mixed; boundary=unquoted boundary with spaces',
    rawParams: [['boundary', 'unquoted']],
    params: { boundary: 'unquoted' },
  },
]

for (const { name, text, rawParams, params } of DOVECOT_PARAMETER_CASES) {
  test(`parseParameterizedValue reads rawParams as Dovecot does: ${name}`, () => {
    const parsed = parse(text, 'content-type')
    assert.deepEqual(parsed.rawParams, rawParams)
    if (params !== undefined) assert.deepEqual(parsed.params, params)
    // A value with a subtype is read as a Content-Type without being told.
    assert.deepEqual(parse(text).rawParams, rawParams)
  })
}

// More of Dovecot 2.3's reading, each checked against it as above.
const DOVECOT_QUIRK_CASES: Array<{
  name: string
  text: string
  field?: ParameterizedField
  rawParams: Array<[string, string]>
}> = [
  {
    name: 'a Content-Type with junk after its subtype has no parameters',
    text: 'text/plain charset=utf-8',
    rawParams: [],
  },
  { name: 'nor one with two slashes', text: 'text/plain/extra; a=b', rawParams: [] },
  {
    name: 'a Content-Disposition has parameters after any token',
    text: 'attachment; filename=My Document.pdf; size=3',
    field: 'content-disposition',
    rawParams: [
      ['filename', 'My'],
      ['size', '3'],
    ],
  },
  {
    name: 'unless an unclosed comment follows it',
    text: 'attachment (unclosed; a=b',
    field: 'content-disposition',
    rawParams: [],
  },
  {
    name: 'a value without "/" is read as a Content-Disposition when not told',
    text: 'inline;FileName=x.txt',
    rawParams: [['FileName', 'x.txt']],
  },
  {
    name: 'but not when told it is a Content-Type',
    text: 'inline;FileName=x.txt',
    field: 'content-type',
    rawParams: [],
  },
  {
    name: 'a failure stopping on ";" skips that ";" and the parameter after it',
    text: 'application/x; novalue; lost=1; kept=2',
    rawParams: [['kept', '2']],
  },
  {
    name: 'an unclosed comment ends the list, with the parameter before it',
    text: 'application/x; a=b; c=d (unclosed',
    rawParams: [['a', 'b']],
  },
  {
    name: 'a quoted-string ends a value, the rest is junk',
    text: 'application/x; a="b"c ; d=e',
    rawParams: [
      ['a', 'b'],
      ['d', 'e'],
    ],
  },
  {
    name: 'an empty name is a name',
    text: 'application/x; =x; b=c',
    rawParams: [
      ['', 'x'],
      ['b', 'c'],
    ],
  },
  {
    name: 'a value starting with "=" runs to whitespace',
    text: 'application/x; a==?utf-8?q?x?= b; c=d',
    rawParams: [
      ['a', '=?utf-8?q?x?='],
      ['c', 'd'],
    ],
  },
  {
    name: 'a NUL in a quoted-string becomes U+FFFD, one elsewhere ends the token',
    text: 'application/x; a="x\0y"; b=x\0y; c=d',
    rawParams: [
      ['a', 'x\xef\xbf\xbdy'],
      ['b', 'x'],
      ['c', 'd'],
    ],
  },
  {
    name: 'a backslash before a line break stays',
    text: 'application/x; a="x\\\r\n y"',
    rawParams: [['a', 'x\\ y']],
  },
  {
    name: 'unsectioned names come before sections, which are sorted by name',
    text: 'application/x; z=1; b*0=1; a=2; a*0=3',
    rawParams: [
      ['z', '1'],
      ['a', '2'],
      ['a', '3'],
      ['b', '1'],
    ],
  },
  {
    name: 'sections sort case-sensitively, so names of mixed case may not merge',
    text: 'application/x; b*0=1; a*0=2; B*1=3',
    rawParams: [
      ['B*1', '3'],
      ['a', '2'],
      ['b', '1'],
    ],
  },
  {
    name: 'an unmerged section is named by its number as read',
    text: 'application/x; n*01=x; m*4294967297*=y',
    rawParams: [
      ['m*1*', 'y'],
      ['n*1', 'x'],
    ],
  },
  {
    name: 'section numbers wrap at 2^32',
    text: 'application/x; n*4294967297=x; n*0=y',
    rawParams: [['n', 'yx']],
  },
  {
    name: '"name*" takes the section number of an earlier parameter',
    text: 'application/x; a*1=x; b*=y',
    rawParams: [
      ['a*1', 'x'],
      ['b*1*', 'y'],
    ],
  },
  {
    name: 'a name with anything else after its "*" is no section',
    text: 'application/x; a*x=1; a**1=2; a*0**=3',
    rawParams: [
      ['a*x', '1'],
      ['a**1', '2'],
      ['a*0**', '3'],
    ],
  },
]

for (const { name, text, field, rawParams } of DOVECOT_QUIRK_CASES) {
  test(`parseParameterizedValue reads rawParams as Dovecot does: ${name}`, () => {
    assert.deepEqual(parse(text, field).rawParams, rawParams)
  })
}

test('parseParameterizedValue gives up on rawParams after 128 tries, as Dovecot does', () => {
  const many = parse(`application/x${'; a=1'.repeat(130)}`).rawParams
  assert.equal(many.length, 128)
  // Each failure counts one: here a parameter that has no "=".
  assert.deepEqual(parse(`application/x${'; a b'.repeat(127)}; z=1`).rawParams, [['z', '1']])
  assert.deepEqual(parse(`application/x${'; a b'.repeat(128)}; z=1`).rawParams, [])
  // And so does each character of junk skipped.
  assert.deepEqual(parse(`application/x; ,${'z'.repeat(126)}; a=b`).rawParams, [['a', 'b']])
  assert.deepEqual(parse(`application/x; ,${'z'.repeat(127)}; a=b`).rawParams, [])
})

test('parseParameterizedValue unfolds the text for value and params, not for rawParams', () => {
  const folded = parse('text/plain;\r\n name="a\r\n b";\n charset=x\r\n (c)')
  assert.deepEqual(folded, {
    value: 'text/plain',
    params: { name: 'a b', charset: 'x' },
    rawParams: [
      ['name', 'a b'],
      ['charset', 'x'],
    ],
  })
  // Only a backslash before the break tells them apart.
  assert.deepEqual(parse('a/b; x="1\\\n 2"'), {
    value: 'a/b',
    params: { x: '1\\ 2' },
    rawParams: [['x', '1\\ 2']],
  })
  assert.deepEqual(parse('a/b; x="1\\ 2"').rawParams, [['x', '1 2']])
})

// The type and subtype Dovecot 2.3 reports in BODYSTRUCTURE; it reads no parameters where the
// subtype is "".
const CONTENT_TYPE_CASES: Array<{ text: string; type: string; subtype: string }> = [
  { text: 'TEXT/PLAIN', type: 'TEXT', subtype: 'PLAIN' },
  { text: 'image', type: 'image', subtype: '' },
  { text: 'text; charset=utf-8', type: '', subtype: '' },
  { text: '/plain', type: '', subtype: '' },
  { text: 'text/', type: '', subtype: '' },
  { text: '', type: '', subtype: '' },
]

for (const { text, type, subtype } of CONTENT_TYPE_CASES) {
  test(`parseContentTypeValue reads ${JSON.stringify(text)} as Dovecot does`, () => {
    assert.deepEqual(parseContentTypeValue(text), { type, subtype })
    if (subtype === '') assert.deepEqual(parse(text, 'content-type').rawParams, [])
  })
}

test('parseParameterizedValue lower-cases the value and the names, not the values', () => {
  assert.deepEqual(parse('Text/HTML; Charset="UTF-8"'), {
    value: 'text/html',
    params: { charset: 'UTF-8' },
    rawParams: [['Charset', 'UTF-8']],
  })
})

test('parseParameterizedValue drops the comment in the RFC 2045 §5.1 example', () => {
  assert.deepEqual(parse('text/plain; charset=us-ascii (Plain text)'), {
    value: 'text/plain',
    params: { charset: 'us-ascii' },
    rawParams: [['charset', 'us-ascii']],
  })
})

test('parseParameterizedValue reads a disposition with a quoted modification-date (RFC 2183 §2.5)', () => {
  const parsed = parse(
    'attachment; filename=genome.jpeg;\r\n modification-date="Wed, 12 Feb 1997 16:29:51 -0500";',
  )
  assert.equal(parsed.value, 'attachment')
  assert.deepEqual(parsed.params, {
    filename: 'genome.jpeg',
    'modification-date': 'Wed, 12 Feb 1997 16:29:51 -0500',
  })
})

test('parseParameterizedValue joins the RFC 2231 §3 continuations', () => {
  const parsed = parse(
    'message/external-body; access-type=URL;\r\n URL*0="ftp://";\r\n URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
  )
  const url = 'ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar'
  assert.deepEqual(parsed.params, { 'access-type': 'URL', url })
  assert.deepEqual(parsed.rawParams, [
    ['access-type', 'URL'],
    ['URL', url],
  ])
})

test('parseParameterizedValue decodes the RFC 2231 §4 example, keeping it encoded in rawParams', () => {
  const parsed = parse(
    "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
  )
  assert.deepEqual(parsed.params, { title: 'This is ***fun***' })
  assert.deepEqual(parsed.rawParams, [
    ['title*', "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"],
  ])
})

test('parseParameterizedValue merges the mixed sections of the RFC 2231 §4.1 example', () => {
  const parsed = parse(
    "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
  )
  assert.deepEqual(parsed.params, { title: "This is even more ***fun*** isn't it!" })
  // Dovecot appends the plain section as it is.
  assert.deepEqual(parsed.rawParams, [
    ['title*', "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!"],
  ])
})

test('parseParameterizedValue gives a merged value an empty charset when section 0 is plain', () => {
  const parsed = parse('attachment; name*0="a b"; name*1*=%E2%82%AC')
  assert.deepEqual(parsed.params, { name: 'a b€' })
  assert.deepEqual(parsed.rawParams, [['name*', "''a b%E2%82%AC"]])
})

test('parseParameterizedValue joins sections in numeric order, across gaps', () => {
  const parsed = parse('x/y; name*2=c; name*10=d; name*0=a; name*1=b; name*4=e')
  assert.deepEqual(parsed.params, { name: 'abced' })
  // Dovecot merges only sections numbered 0, 1, 2… without a gap; it sorts the others.
  assert.deepEqual(parsed.rawParams, [
    ['name*0', 'a'],
    ['name*1', 'b'],
    ['name*2', 'c'],
    ['name*4', 'e'],
    ['name*10', 'd'],
  ])
  assert.deepEqual(parse('x/y; name*2=c; name*0=a; name*1=b').rawParams, [['name', 'abc']])
})

test('parseParameterizedValue decodes a character split across extended sections', () => {
  const parsed = parse("attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.txt")
  assert.deepEqual(parsed.params, { filename: '€.txt' })
  assert.deepEqual(parsed.rawParams, [['filename*', "utf-8''%E2%82%AC.txt"]])
})

test('parseParameterizedValue decodes extended values in their charset, or by best effort', () => {
  assert.deepEqual(parse("a; f*=iso-8859-1'de'Gr%FC%DFe").params, { f: 'Grüße' })
  assert.deepEqual(parse("a; f*=''caf%C3%A9").params, { f: 'café' })
  assert.deepEqual(parse("a; f*=x-unknown''caf%E9").params, { f: 'café' })
  assert.deepEqual(parse('a; f*=caf%C3%A9').params, { f: 'café' })
  assert.deepEqual(parse("a; f*=utf-8''%e2%82%ac%zz%4").params, { f: '€%zz%4' })
  assert.deepEqual(parse('a; f*="utf-8\'\'a%20b"').params, { f: 'a b' })
})

test('parseParameterizedValue decodes RFC 2047 words in values, but not in rawParams', () => {
  const parsed = parse('attachment; filename="=?utf-8?B?w6lsw6k=?=.txt"')
  assert.deepEqual(parsed.params, { filename: 'élé.txt' })
  assert.deepEqual(parsed.rawParams, [['filename', '=?utf-8?B?w6lsw6k=?=.txt']])
  const split = parse('attachment; name*0="=?utf-8?q?caf?="; name*1="=?utf-8?q?=C3=A9?="')
  assert.deepEqual(split.params, { name: 'café' })
})

test('parseParameterizedValue leaves RFC 2047 look-alikes in extended values alone', () => {
  assert.deepEqual(parse("a; f*=utf-8''=?utf-8?q?x?=").params, { f: '=?utf-8?q?x?=' })
})

test('parseParameterizedValue prefers the RFC 2231 form of a name, whatever the order', () => {
  for (const text of [
    'attachment; filename="fallback.txt"; filename*=UTF-8\'\'%E2%82%AC.txt',
    'attachment; filename*=UTF-8\'\'%E2%82%AC.txt; filename="fallback.txt"',
  ]) {
    const parsed = parse(text)
    assert.deepEqual(parsed.params, { filename: '€.txt' })
    assert.equal(parsed.rawParams.length, 2)
  }
})

test('parseParameterizedValue keeps the first of duplicate parameters, rawParams all of them', () => {
  assert.deepEqual(parse('text/plain; charset=utf-8; Charset=latin1'), {
    value: 'text/plain',
    params: { charset: 'utf-8' },
    rawParams: [
      ['charset', 'utf-8'],
      ['Charset', 'latin1'],
    ],
  })
  const sections = parse('a; n*0=a; n*0=b; n*1=c; n=plain')
  assert.deepEqual(sections.params, { n: 'ac' })
  // A repeated section number keeps Dovecot from merging; unsectioned names come first.
  assert.deepEqual(sections.rawParams, [
    ['n', 'plain'],
    ['n*0', 'a'],
    ['n*0', 'b'],
    ['n*1', 'c'],
  ])
})

test('parseParameterizedValue skips comments anywhere', () => {
  assert.deepEqual(
    parse('(lead) text (a) / (b) plain (c) ; (d) charset (e) = (f) "utf-8" (g) ; (h(nested)) x=y'),
    {
      value: 'text/plain',
      params: { charset: 'utf-8', x: 'y' },
      rawParams: [
        ['charset', 'utf-8'],
        ['x', 'y'],
      ],
    },
  )
})

test('parseParameterizedValue finds parameters whose ";" is missing', () => {
  assert.deepEqual(parse('text/plain charset=utf-8 format=flowed').params, {
    charset: 'utf-8',
    format: 'flowed',
  })
  assert.deepEqual(parse('multipart/mixed; boundary="b" charset=x').params, {
    boundary: 'b',
    charset: 'x',
  })
  assert.deepEqual(parse('text/plain; charset = utf-8 delsp = yes').params, {
    charset: 'utf-8',
    delsp: 'yes',
  })
})

test('parseParameterizedValue reads unquoted values with spaces and specials to the next ";"', () => {
  assert.deepEqual(parse('attachment; filename=My Document.pdf; size=3').params, {
    filename: 'My Document.pdf',
    size: '3',
  })
  assert.deepEqual(parse('attachment; filename=a@b[1],c:d.txt').params, {
    filename: 'a@b[1],c:d.txt',
  })
  assert.deepEqual(parse('attachment; filename=report (1).pdf').params, {
    filename: 'report (1).pdf',
  })
  assert.deepEqual(parse('text/plain; charset=us-ascii(Plain text); x=1').params, {
    charset: 'us-ascii',
    x: '1',
  })
})

test('parseParameterizedValue reads an unquoted boundary as a token, as Dovecot splits on it', () => {
  assert.deepEqual(parse('multipart/mixed; BOUNDARY=abc def; charset=x').params, {
    boundary: 'abc',
    charset: 'x',
  })
  assert.deepEqual(parse('multipart/mixed; boundary=a(comment)b').params, { boundary: 'a' })
  assert.deepEqual(parse('multipart/mixed; boundary=a/b').params, { boundary: 'a' })
  // Dovecot reads a value starting with "=" up to whitespace.
  assert.deepEqual(parse('multipart/mixed; boundary==_Part_1=; x=y').params, {
    boundary: '=_Part_1=',
    x: 'y',
  })
  assert.deepEqual(parse('multipart/mixed; boundary="a b"').params, { boundary: 'a b' })
})

test('parseParameterizedValue ends an unterminated quoted-string or comment with the text', () => {
  assert.deepEqual(parse('multipart/mixed; boundary="abc; charset=x').params, {
    boundary: 'abc; charset=x',
  })
  assert.deepEqual(parse('text/plain; charset=utf-8 (unclosed; x=y').params, { charset: 'utf-8' })
})

test('parseParameterizedValue accepts empty values and stray semicolons', () => {
  assert.deepEqual(parse('text/plain;; name=; other=""; ;').params, { name: '', other: '' })
  assert.deepEqual(parse('text/plain;').params, {})
})

test('parseParameterizedValue ignores names without "=" and quoted-strings without names', () => {
  assert.deepEqual(parse('text/plain; junk; "quoted"; =orphan; charset=x').params, { charset: 'x' })
})

test('parseParameterizedValue keeps 8-bit text in values', () => {
  assert.deepEqual(parse('attachment; filename="Grüße.txt"; b=日本').params, {
    filename: 'Grüße.txt',
    b: '日本',
  })
})

test('parseParameterizedValue unescapes only \\" and \\\\ in quoted-strings, rawParams all', () => {
  assert.deepEqual(parse('a; x="say \\"hi\\" \\\\o/"').params, { x: 'say "hi" \\o/' })
  const path = parse('a; filename="C:\\temp\\a.txt"')
  assert.deepEqual(path.params, { filename: 'C:\\temp\\a.txt' })
  assert.deepEqual(path.rawParams, [['filename', 'C:tempa.txt']])
})

test('parseParameterizedValue gives "" for a missing value', () => {
  assert.deepEqual(parse(''), { value: '', params: {}, rawParams: [] })
  assert.deepEqual(parse('; charset=utf-8').value, '')
  assert.deepEqual(parse('charset=utf-8'), {
    value: '',
    params: { charset: 'utf-8' },
    rawParams: [],
  })
  assert.equal(parse('attachment').value, 'attachment')
  assert.equal(parse('  INLINE  ').value, 'inline')
})

test('parseParameterizedValue treats a malformed section number as part of the name', () => {
  assert.deepEqual(parse('a; n*x=1; n*01234567890=2; *=3').params, {
    'n*x': '1',
    'n*01234567890': '2',
    '*': '3',
  })
})

test('parseParameterizedValue finishes on a megabyte of hostile input', () => {
  const fragments = [
    '(',
    ')',
    '"',
    ';',
    'a ',
    ' (a',
    'a=b ',
    '\\',
    'n*1*=',
    '=',
    "a*=''%",
    'x (y) ',
  ]
  for (const fragment of fragments) {
    const text = `text/plain; a=${fragment.repeat(Math.ceil(1_000_000 / fragment.length))}`
    assert.equal(typeof parseParameterizedValue(text).value, 'string', fragment)
  }
  const sections = Array.from({ length: 50_000 }, (_, i) => `n*${50_000 - i}*=%41`).join(';')
  assert.equal(parseParameterizedValue(`a; ${sections}`).params.get('n')?.length, 50_000)
})

test('formatParameterizedValue writes tokens as they are and quotes the rest', () => {
  assert.equal(
    formatParameterizedValue('text/plain', { charset: 'utf-8' }),
    'text/plain; charset=utf-8',
  )
  assert.equal(
    formatParameterizedValue('attachment', { filename: 'a b.txt', x: '', y: 'say "hi" \\o/' }),
    'attachment; filename="a b.txt"; x=""; y="say \\"hi\\" \\\\o/"',
  )
  assert.equal(formatParameterizedValue('inline', {}), 'inline')
})

test('formatParameterizedValue writes non-ASCII values in the RFC 2231 §4 form', () => {
  assert.equal(
    formatParameterizedValue('attachment', { filename: 'Grüße €.txt' }),
    "attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe%20%E2%82%AC.txt",
  )
  assert.equal(formatParameterizedValue('a', { x: 'tab\there' }), "a; x*=utf-8''tab%09here")
})

test('formatParameterizedValue encodes values that would read back as RFC 2047 words', () => {
  const formatted = formatParameterizedValue('a', { name: '=?utf-8?q?x?=' })
  assert.equal(formatted, "a; name*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D")
  assert.equal(parseParameterizedValue(formatted).params.get('name'), '=?utf-8?q?x?=')
})

test('formatParameterizedValue folds between parameters to keep lines within 78 columns', () => {
  const params = {
    charset: 'utf-8',
    format: 'flowed',
    delsp: 'yes',
    name: 'a-rather-long-file-name.txt',
  }
  const formatted = formatParameterizedValue('text/plain', params, 'Content-Type: '.length)
  const lines = `Content-Type: ${formatted}`.split('\r\n')
  assert.equal(lines.length, 2)
  for (const line of lines) assert.ok(line.length <= 78, line)
  assert.deepEqual(Object.fromEntries(parseParameterizedValue(formatted).params), params)
})

test('formatParameterizedValue splits long values into RFC 2231 §3 sections', () => {
  const filename = `${'Grüße '.repeat(30)}.txt`
  const formatted = formatParameterizedValue(
    'attachment',
    { filename },
    'Content-Disposition: '.length,
  )
  const lines = `Content-Disposition: ${formatted}`.split('\r\n')
  assert.ok(lines.length > 3)
  for (const line of lines) assert.ok(line.length <= 78, line)
  assert.match(lines[1] ?? '', /^ filename\*0\*=utf-8''/)
  assert.match(lines[2] ?? '', /^ filename\*1\*=/)
  // Each section decodes alone: no character and no %XX is split.
  for (const line of lines.slice(1)) {
    const section = line.replace(/^ filename\*\d+\*=(utf-8'')?/, '').replace(/;$/, '')
    assert.doesNotMatch(decodeURIComponent(section), /\ufffd/)
  }
  assert.equal(parseParameterizedValue(formatted).params.get('filename'), filename)

  const ascii = 'x'.repeat(150)
  const quoted = formatParameterizedValue('a', { long: ascii })
  assert.match(quoted, /^a;\r\n long\*0="x+";\r\n long\*1="x+";\r\n long\*2="x+"$/)
  assert.equal(parseParameterizedValue(quoted).params.get('long'), ascii)
})

test('formatParameterizedValue refuses a parameter name that is not an attribute', () => {
  for (const name of ['', 'a b', 'name*', "x'y", 'a%', 'é', 'a=b', 'a;b']) {
    assert.throws(() => formatParameterizedValue('a', { [name]: 'v' }), TypeError, name)
  }
})

test('formatParameterizedValue handles a value of a million characters', () => {
  const formatted = formatParameterizedValue('attachment', { filename: '中'.repeat(1_000_000) })
  assert.ok(formatted.startsWith('attachment;'))
})
