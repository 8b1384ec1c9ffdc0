import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  decodeEncodedWords,
  decodeHeaderBytes,
  encodeHeaderText,
  encodePhrase,
} from './encoded-word.ts'

const unfold = (text: string) => text.replace(/\r\n(?=[ \t])/g, '')
const decodeHeader = (folded: string) => decodeEncodedWords(unfold(folded))

test('decodeHeaderBytes reads valid UTF-8 as UTF-8 (RFC 6532 §3.2)', () => {
  assert.equal(decodeHeaderBytes(Buffer.from('Grüße 😀', 'utf8')), 'Grüße 😀')
})

test('decodeHeaderBytes reads other 8-bit octets as windows-1252', () => {
  assert.equal(decodeHeaderBytes(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65, 0x80])), 'Grüße€')
})

test('decodeHeaderBytes leaves encoded-words alone', () => {
  assert.equal(decodeHeaderBytes(Buffer.from('=?utf-8?q?a?=')), '=?utf-8?q?a?=')
  assert.equal(decodeHeaderBytes(new Uint8Array()), '')
})

test('decodeEncodedWords decodes the examples of RFC 2047 §8', () => {
  const cases: Array<[string, string]> = [
    ['=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>', 'Keith Moore <moore@cs.utk.edu>'],
    ['=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>', 'Keld Jørn Simonsen <keld@dkuug.dk>'],
    [
      '=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
      'André Pirard <PIRARD@vm1.ulg.ac.be>',
    ],
    [
      '=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=',
      'If you can read this you understand the example.',
    ],
    ['(=?ISO-8859-1?Q?a?=)', '(a)'],
    ['(=?ISO-8859-1?Q?a?= b)', '(a b)'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)', '(ab)'],
    ['(=?ISO-8859-1?Q?a_b?=)', '(a b)'],
    ['(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)', '(a b)'],
  ]
  for (const [encoded, decoded] of cases) assert.equal(decodeEncodedWords(encoded), decoded)
})

test('decodeEncodedWords reads B and Q in either case', () => {
  assert.equal(decodeEncodedWords('=?utf-8?b?Zm9v?= =?UTF-8?q?_bar?='), 'foo bar')
})

test('decodeEncodedWords joins the octets of adjacent words before decoding the charset', () => {
  // "€" is E2 82 AC in UTF-8, split here between two words.
  assert.equal(decodeEncodedWords('=?utf-8?q?=E2=82?= =?utf-8?q?=AC?='), '€')
  assert.equal(decodeEncodedWords('=?utf-8?b?4oI=?= =?UTF8?b?rA==?='), '€')
  assert.equal(decodeEncodedWords('=?utf-8?b?4oI=?=\t=?utf-8?q?=AC?='), '€')
})

test('decodeEncodedWords mends a base64 group split between two words', () => {
  assert.equal(decodeEncodedWords('=?utf-8?B?SGVsbG?= =?utf-8?B?8=?='), 'Hello')
})

test('decodeEncodedWords decodes words in different charsets apart, dropping the space', () => {
  assert.equal(decodeEncodedWords('=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?='), 'éé')
  // Decoded together as UTF-8, the octets E9 C3 A9 would give U+FFFD and "é".
  assert.equal(decodeEncodedWords('=?iso-8859-1?q?=E9?==?utf-8?q?=C3=A9?='), 'éé')
})

test('decodeEncodedWords keeps whitespace between a word and plain text', () => {
  assert.equal(decodeEncodedWords('Re: =?utf-8?q?caf=C3=A9?= au lait'), 'Re: café au lait')
  assert.equal(decodeEncodedWords(' =?utf-8?q?a?= '), ' a ')
})

test('decodeEncodedWords decodes words glued to the text around them', () => {
  assert.equal(decodeEncodedWords('foo=?utf-8?q?bar?=baz'), 'foobarbaz')
  assert.equal(
    decodeEncodedWords('"=?utf-8?q?J=C3=B6rg?=" <j@example.com>'),
    '"Jörg" <j@example.com>',
  )
})

test('decodeEncodedWords ignores the RFC 2231 §5 language', () => {
  assert.equal(decodeEncodedWords('=?US-ASCII*EN?Q?Keith_Moore?='), 'Keith Moore')
  assert.equal(decodeEncodedWords('=?utf-8*de?q?a?= =?utf-8?q?b?='), 'ab')
})

test('decodeEncodedWords keeps malformed words exactly as written', () => {
  const cases = [
    '=?utf-8?x?abc?=',
    '=?utf-8?qq?abc?=',
    '=?utf-8?q?abc',
    '=?utf-8?q?abc?',
    '=??q?abc?=',
    '=?utf 8?q?abc?=',
    '=?utf-8?b?!!!?=',
    '=?utf-8?b?Zm9v-?=',
    '=?utf-8?q?a\r\nb?=',
    '=?utf-8?q',
    '=?',
    '=?=?',
    '=?é?q?a?=',
  ]
  for (const text of cases) assert.equal(decodeEncodedWords(text), text, JSON.stringify(text))
})

test('decodeEncodedWords keeps the whitespace around a malformed word', () => {
  assert.equal(decodeEncodedWords('=?utf-8?q?a?= =?utf-8?x?b?= =?utf-8?q?c?='), 'a =?utf-8?x?b?= c')
})

test('decodeEncodedWords decodes an unknown charset by best effort', () => {
  assert.equal(decodeEncodedWords('=?x-unknown?q?caf=C3=A9?='), 'café')
  assert.equal(decodeEncodedWords('=?x-unknown?q?caf=E9?='), 'café')
  assert.equal(decodeEncodedWords('=?unknown-8bit?b?Y2Fm6Q==?='), 'café')
})

test('decodeEncodedWords tolerates what broken encoders write inside encoded-text', () => {
  assert.equal(decodeEncodedWords('=?utf-8?q??='), '')
  assert.equal(decodeEncodedWords('=?utf-8?q?100=?='), '100=')
  assert.equal(decodeEncodedWords('=?utf-8?q?50=ZZ?='), '50=ZZ')
  assert.equal(decodeEncodedWords('=?utf-8?q?hello world?='), 'hello world')
  assert.equal(decodeEncodedWords('=?utf-8?b?Zm9v YmFy?='), 'foobar')
  assert.equal(decodeEncodedWords('=?utf-8?b?Zm9vYmFy?='), 'foobar')
  assert.equal(decodeEncodedWords('=?utf-8?b?Zm9vYg?='), 'foob')
  assert.equal(decodeEncodedWords('=?utf-8?q?caf\u00e9?='), 'café')
})

test('decodeEncodedWords returns text without encoded-words unchanged', () => {
  for (const text of ['', 'plain', 'a = b ? c', '?= =? ?', 'a=?']) {
    assert.equal(decodeEncodedWords(text), text)
  }
})

test('decodeEncodedWords finishes on a megabyte of hostile fragments', () => {
  const fragments = [
    '=?',
    '=?a',
    '=?a?',
    '=?a?q',
    '=?a?q?',
    '=?a?q?b',
    '=?a?q?b?',
    '=?a?b?!',
    '?=',
    '=?a?q?=?=',
    '=?a?q?a?= ',
  ]
  for (const fragment of fragments) {
    const text = fragment.repeat(Math.ceil(1_000_000 / fragment.length))
    assert.equal(typeof decodeEncodedWords(text), 'string', fragment)
  }
  const mixed = Array.from({ length: 100_000 }, (_, i) => fragments[i % fragments.length]).join('')
  assert.equal(typeof decodeEncodedWords(mixed), 'string')
  const long = `=?utf-8?q?${'a'.repeat(1_000_000)}`
  assert.equal(decodeEncodedWords(long), long)
})

test('encodeHeaderText leaves short printable ASCII as it is', () => {
  assert.equal(encodeHeaderText('Hello, world!', 9), 'Hello, world!')
  assert.equal(encodeHeaderText(''), '')
  assert.equal(encodeHeaderText('  spaced\tout  '), '  spaced\tout  ')
})

test('encodeHeaderText folds ASCII before whitespace to keep lines within 78 columns', () => {
  const text = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ')
  const folded = encodeHeaderText(text, 'Subject: '.length)
  const lines = `Subject: ${folded}`.split('\r\n')
  assert.ok(lines.length > 1)
  for (const line of lines) assert.ok(line.length <= 78, line)
  for (const line of lines.slice(1)) assert.match(line, /^ \S/)
  assert.equal(unfold(folded), text)
})

test('encodeHeaderText folds only before the first of a run of whitespace', () => {
  const text = `${'a'.repeat(70)}      ${'b'.repeat(20)}   `
  const folded = encodeHeaderText(text)
  assert.equal(folded, `${'a'.repeat(70)}\r\n      ${'b'.repeat(20)}   `)
})

test('encodeHeaderText never folds trailing whitespace onto a line of its own', () => {
  const text = `${'a'.repeat(76)}    `
  assert.equal(encodeHeaderText(text), text)
})

test('encodeHeaderText keeps an unbreakable ASCII run whole while the line stays legal', () => {
  const run = 'x'.repeat(500)
  assert.equal(encodeHeaderText(`a ${run} b`), `a\r\n ${run}\r\n b`)
})

test('encodeHeaderText encodes a run too long for any line (RFC 5322 §2.1.1: 998)', () => {
  const run = 'x'.repeat(1000)
  const encoded = encodeHeaderText(run)
  assert.match(encoded, /^=\?UTF-8\?Q\?x+\?=\r\n/)
  assert.equal(decodeHeader(encoded), run)
})

test('encodeHeaderText encodes non-ASCII text as UTF-8 words within RFC 2047 §2 limits', () => {
  const text = 'Grüße aus Köln, mit einer recht langen Betreffzeile über mehrere Zeilen hinweg — ✓'
  const encoded = encodeHeaderText(text, 'Subject: '.length)
  const lines = `Subject: ${encoded}`.split('\r\n')
  assert.ok(lines.length > 1)
  for (const line of lines) assert.ok(line.length <= 76, line)
  for (const word of unfold(encoded).split(' ')) {
    assert.ok(word.length <= 75)
    assert.match(word, /^=\?UTF-8\?[QB]\?[^?]*\?=$/)
  }
  assert.equal(decodeHeader(encoded), text)
})

test('encodeHeaderText picks whichever of Q and B is shorter', () => {
  assert.equal(
    encodeHeaderText('Meeting notes for Monday é'),
    '=?UTF-8?Q?Meeting_notes_for_Monday_=C3=A9?=',
  )
  assert.equal(encodeHeaderText('café'), '=?UTF-8?B?Y2Fmw6k=?=')
  assert.equal(encodeHeaderText('日本語'), '=?UTF-8?B?5pel5pys6Kqe?=')
})

test('encodeHeaderText never splits a character or a surrogate pair between words', () => {
  for (const text of ['€'.repeat(60), '😀'.repeat(40), `a${'日本'.repeat(40)}`, 'é😀'.repeat(30)]) {
    const words = unfold(encodeHeaderText(text)).split(' ')
    assert.ok(words.length > 1)
    for (const word of words) assert.doesNotMatch(decodeEncodedWords(word), /\ufffd/, word)
    assert.equal(decodeHeader(encodeHeaderText(text)), text)
  }
})

test('encodeHeaderText writes a lone surrogate as U+FFFD, all UTF-8 can say', () => {
  assert.equal(decodeHeader(encodeHeaderText('a\ud800b')), 'a\ufffdb')
})

test('encodeHeaderText encodes text that would read back as an encoded-word', () => {
  const text = 'see =?utf-8?q?x?= here'
  const encoded = encodeHeaderText(text)
  assert.ok(encoded.startsWith('=?UTF-8?'))
  assert.equal(decodeHeader(encoded), text)
})

test('encodeHeaderText encodes line breaks and controls, so none reach the header', () => {
  const encoded = encodeHeaderText('line one\r\nBcc: victim@example.com')
  assert.doesNotMatch(encoded.replace(/\r\n /g, ''), /[\r\n]/)
  assert.equal(decodeHeader(encoded), 'line one\r\nBcc: victim@example.com')
})

test('encodeHeaderText still writes a word after a very long field name', () => {
  const encoded = encodeHeaderText('é', 70)
  assert.equal(encoded, '=?UTF-8?B?w6k=?=')
})

test('encodePhrase leaves a run of atoms as it is', () => {
  assert.equal(encodePhrase('John Smith'), 'John Smith')
  assert.equal(encodePhrase("O'Brien-Smith #1"), "O'Brien-Smith #1")
})

test('encodePhrase quotes ASCII with specials, escaping quotes and backslashes', () => {
  assert.equal(encodePhrase('Smith, John'), '"Smith, John"')
  assert.equal(encodePhrase('John Q. Public'), '"John Q. Public"')
  assert.equal(encodePhrase('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"')
  assert.equal(encodePhrase(' padded'), '" padded"')
  assert.equal(encodePhrase('two  spaces'), '"two  spaces"')
})

test('encodePhrase encodes non-ASCII with the phrase alphabet of RFC 2047 §5(3)', () => {
  const encoded = encodePhrase('Jörg Müller (Sales), Köln')
  for (const word of encoded.split(' ')) {
    assert.match(word, /^=\?UTF-8\?Q\?[A-Za-z0-9!*+\-/=_]*\?=$/)
  }
  assert.equal(decodeEncodedWords(encoded), 'Jörg Müller (Sales), Köln')
})

test('encodePhrase encodes text that would read back as an encoded-word', () => {
  const encoded = encodePhrase('=?utf-8?q?x?=')
  assert.ok(encoded.startsWith('=?UTF-8?'))
  assert.equal(decodeEncodedWords(encoded), '=?utf-8?q?x?=')
})

test('encodePhrase uses Q even where B would be shorter', () => {
  assert.equal(encodePhrase('山田'), '=?UTF-8?Q?=E5=B1=B1=E7=94=B0?=')
})

test('encodePhrase splits a long name into words of at most 75 characters', () => {
  const name = 'Ünïcödé '.repeat(20)
  const words = encodePhrase(name).split(' ')
  assert.ok(words.length > 1)
  for (const word of words) assert.ok(word.length <= 75)
  assert.equal(decodeEncodedWords(encodePhrase(name)), name)
})

test('encodePhrase writes an empty name as an empty quoted-string', () => {
  assert.equal(encodePhrase(''), '""')
})

test('adjacent base64 words: a word without padding is decoded alone, a split group is joined', () => {
  // From review: joining "QUI" (missing its "=") with the next word garbled both.
  assert.equal(decodeEncodedWords('=?utf-8?b?QUI?= =?utf-8?b?QUJD?='), 'ABABC')
  assert.equal(decodeEncodedWords('=?utf-8?b?QU?= =?utf-8?b?JD?='), 'ABC')
})
