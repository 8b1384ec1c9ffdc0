import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateMessageId, parseMessageIds } from './message-id.ts'

function check(cases: readonly (readonly [string, string, string[]])[]): void {
  for (const [why, input, expected] of cases) {
    assert.deepEqual(parseMessageIds(input), expected, `${why}: ${JSON.stringify(input)}`)
  }
}

test('parseMessageIds reads Message-ID, In-Reply-To and References values', () => {
  check([
    ['RFC 5322 A.1.3', '<1234@local.machine.example>', ['<1234@local.machine.example>']],
    [
      'RFC 5322 A.2 References',
      '<1234@local.machine.example> <3456@example.net>',
      ['<1234@local.machine.example>', '<3456@example.net>'],
    ],
    ['no space between ids', '<a@x><b@y>', ['<a@x>', '<b@y>']],
    ['unfolded long References', '<a@x>\t<b@y>  <c@z>', ['<a@x>', '<b@y>', '<c@z>']],
    ['commas between ids', '<a@x>, <b@y>,<c@z>', ['<a@x>', '<b@y>', '<c@z>']],
    ['duplicates are kept', '<a@x> <a@x>', ['<a@x>', '<a@x>']],
    ['case is kept', '<ABC.def@Example.COM>', ['<ABC.def@Example.COM>']],
    ['surrounding whitespace', '  <a@x>  ', ['<a@x>']],
    ['UTF-8 (RFC 6532)', '<jöhn.1@bücher.example>', ['<jöhn.1@bücher.example>']],
    [
      'typical generated ids',
      '<CAKx=5Tq+abc_DEF-123@mail.gmail.com> <20240301100000.ABC123@mx.example.org>',
      ['<CAKx=5Tq+abc_DEF-123@mail.gmail.com>', '<20240301100000.ABC123@mx.example.org>'],
    ],
  ])
})

test('parseMessageIds removes CFWS inside an id and keeps quoted strings and literals', () => {
  check([
    ['comments around', '(first) <a@x> (second)', ['<a@x>']],
    ['whitespace around "@"', '<abc @ example.com>', ['<abc@example.com>']],
    ['comment inside', '<abc(comment)@example.com>', ['<abc@example.com>']],
    ['nested comment inside', '<abc(a (b) \\) c)@example.com>', ['<abc@example.com>']],
    ['CFWS around dots', '<a . b @ c . d>', ['<a.b@c.d>']],
    ['quoted local part', '<"a b"@example.com>', ['<"a b"@example.com>']],
    ['quoted local part with an escaped quote', '<"a\\"b"@example.com>', ['<"a\\"b"@example.com>']],
    ['domain literal', '<abc@[192.0.2.1]>', ['<abc@[192.0.2.1]>']],
    ['commented-out id', '(<a@x>) <b@y>', ['<b@y>']],
  ])
})

test('parseMessageIds skips the phrases of the obsolete In-Reply-To (RFC 5322 §4.5.4)', () => {
  check([
    [
      'phrase with a quoted date',
      'Your message of "Mon, 1 Jan 2024 10:00:00 +0000" <123@example.com>',
      ['<123@example.com>'],
    ],
    [
      'phrase after the id',
      "<123@example.com> (John Doe's message of Monday)",
      ['<123@example.com>'],
    ],
    [
      'an address in the phrase is not an id',
      'Message from john@example.com of Mon, 1 Jan 2024 <123@example.com>',
      ['<123@example.com>'],
    ],
    ['"<" inside a quoted phrase', '"re: <draft>" <123@example.com>', ['<123@example.com>']],
  ])
})

test('parseMessageIds tolerates broken ids', () => {
  check([
    ['no brackets', 'abc@def', ['<abc@def>']],
    ['several without brackets', 'a@x b@y, c@z', ['<a@x>', '<b@y>', '<c@z>']],
    ['a domain literal without brackets', 'abc@[192.0.2.1]', ['<abc@[192.0.2.1]>']],
    ['no brackets, with a comment', 'abc@def (the id)', ['<abc@def>']],
    ['missing ">" at the end', '<abc@def', ['<abc@def>']],
    ['missing ">" before the next id', '<a@x <b@y>', ['<a@x>', '<b@y>']],
    ['missing ">" before a comma', '<a@x, <b@y>', ['<a@x>', '<b@y>']],
    ['stray ">"', 'a@x> <b@y>', ['<b@y>']],
    ['doubled brackets', '<<a@x>>', ['<a@x>']],
    ['bracketed id without "@"', '<1234.5678>', ['<1234.5678>']],
    ['unclosed quote in an id', '<"abc@def>', ['<"abc@def>']],
    ['unclosed quote in a phrase', '"unterminated <a@x>', ['<a@x>']],
    ['unclosed comment hides the rest', '<a@x> (oops <b@y>', ['<a@x>']],
  ])
})

test('parseMessageIds returns nothing when there is no id', () => {
  check([
    ['empty', '', []],
    ['spaces', ' \t ', []],
    ['empty brackets', '<>', []],
    ['only CFWS in brackets', '< (x) >', []],
    ['a word without "@"', 'abcdef', []],
    ['"@" at an edge', 'at@ @home', []],
    ['two "@" without brackets', 'a@b@c', []],
    ['a stray bracket without brackets', 'id@host[ [1.2]id@host', []],
    // The quoted-string reads as a phrase word, and "@c" alone is no id.
    ['a quoted local part without brackets', '"a b"@c', []],
    ['only a comment', '(none)', []],
  ])
})

test('generateMessageId makes 128-bit ids in base 36 at the given domain', () => {
  const id = generateMessageId('mail.example.com')
  assert.match(id, /^<[0-9a-z]{25}@mail\.example\.com>$/)
  assert.deepEqual(parseMessageIds(id), [id])
  const ids = new Set(Array.from({ length: 1000 }, () => generateMessageId('x.example')))
  assert.equal(ids.size, 1000)
})

test('generateMessageId writes the domain in ASCII and refuses what is not a domain', () => {
  assert.match(generateMessageId('Bücher.Example'), /^<[0-9a-z]{25}@xn--bcher-kva\.example>$/)
  assert.match(generateMessageId('[192.0.2.1]'), /^<[0-9a-z]{25}@\[192\.0\.2\.1\]>$/)
  for (const domain of ['', 'a b', 'a>b', 'x@y', 'example.com.', '123']) {
    assert.throws(
      () => generateMessageId(domain),
      /Cannot generate a Message-ID for ".*", it is not a domain name/,
      domain,
    )
  }
})
