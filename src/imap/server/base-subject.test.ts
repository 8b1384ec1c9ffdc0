import assert from 'node:assert/strict'
import { test } from 'node:test'
import { baseSubject, extractBaseSubject, unicodeCasemap } from './base-subject.ts'

/** A Subject value as ENVELOPE holds it: the raw octets (here UTF-8) as a binary string. */
const raw = (text: string) => Buffer.from(text, 'utf8').toString('latin1')

test('RFC 5256 §2.1: subj-refwd, subj-blob, subj-trailer and subj-fwd, table-driven', () => {
  const cases: Array<[subject: string, base: string, isReplyOrForward: boolean]> = [
    ['foo', 'foo', false],
    ['Re: foo', 'foo', true],
    ['re:foo', 'foo', true],
    ['RE: Re: rE: foo', 'foo', true],
    ['Fw: x', 'x', true],
    ['FWD: x', 'x', true],
    ['Fwd : x', 'x', true], // *WSP before the colon
    ['Re[2]: foo', 'foo', true],
    ['Re [2] : foo', 'foo', true], // the blob takes the spaces after it
    ['RE: [list] Re[2]: foo (fwd)', 'foo', true],
    ['[list] Re: foo', 'foo', true],
    ['[a][b] Re: foo', 'foo', true],
    ['[x]Re:foo', 'foo', true],
    ['[list] foo', 'foo', false], // step (4): a blob goes when text is left after it
    ['[a] [b] foo', 'foo', false],
    ['[blob] ', '[blob]', false], // a blob that would leave nothing is kept
    ['[blob]', '[blob]', false],
    ['[a] [b]', '[b]', false], // …only the last one
    ['Re: [blob]', '[blob]', true],
    ['[unclosed foo', '[unclosed foo', false],
    ['[a] [unclosed', '[unclosed', false],
    ['[a [b] foo', '[a [b] foo', false], // "[" is not a BLOBCHAR
    ['foo (fwd)', 'foo', true],
    ['foo(fwd)', 'foo', true],
    ['foo (FWD) (fwd)  ', 'foo', true],
    ['(fwd)', '', true],
    ['[Fwd: Re: bar]', 'bar', true],
    ['[fwd: foo]', 'foo', true],
    ['Fwd: [fwd: Re: x] (fwd)', 'x', true],
    ['[fwd: [fwd: x]]', 'x', true],
    ['[fwd: ]', '', true],
    ['[fwd: foo] bar', 'bar', false], // a blob, not a subj-fwd: something follows it
    ['Re:', '', true],
    ['Re: ', '', true],
    ['  ', '', false],
    ['', '', false],
    ['   Re:   foo   bar   ', 'foo bar', true],
    ['Re:\tfoo\t\tbar', 'foo bar', true],
    ['Re foo', 'Re foo', false], // no colon: not a subj-refwd
    ['Ref: foo', 'Ref: foo', false],
    ['Reply: foo', 'Reply: foo', false],
    ['Fwdx: foo', 'Fwdx: foo', false],
    ['foo Re: bar', 'foo Re: bar', false], // only prefixes count
    ['foo [fwd: bar]', 'foo [fwd: bar]', false],
    ['Sv: foo', 'Sv: foo', false], // only the English abbreviations are in the grammar
  ]
  for (const [subject, base, isReplyOrForward] of cases) {
    const result = extractBaseSubject(subject)
    assert.equal(result.text, base, JSON.stringify(subject))
    assert.equal(result.isReplyOrForward, isReplyOrForward, JSON.stringify(subject))
  }
})

test('baseSubject decodes encoded words and 8-bit octets first, and unfolds', () => {
  const cases: Array<[subject: string | null, base: string, isReplyOrForward: boolean]> = [
    [null, '', false],
    ['=?UTF-8?Q?Re=3A_caf=C3=A9?=', 'café', true],
    ['=?ISO-8859-1?Q?Fwd:_Gr=FC=DFe?=', 'Grüße', true],
    ['=?utf-8?B?W2xpc3RdIFJlOiDwn5iA?=', '😀', true],
    ['Re: =?utf-8?q?Hello?= =?utf-8?q?_World?=', 'Hello World', true],
    [raw('Re: café (fwd)'), 'café', true],
    ['Re: a\r\n b', 'a b', true],
    ['Re:\r\n\tfoo', 'foo', true],
    ['=?utf-8?q?Re:=09=09foo?=', 'foo', true], // whitespace from decoding is collapsed too
  ]
  for (const [subject, base, isReplyOrForward] of cases) {
    const result = baseSubject(subject)
    assert.equal(result.text, base, JSON.stringify(subject))
    assert.equal(result.isReplyOrForward, isReplyOrForward, JSON.stringify(subject))
  }
})

test('the comparison key: case-insensitive and canonically decomposed', () => {
  assert.equal(baseSubject('re: Hello WORLD').key, baseSubject('hello world').key)
  assert.equal(baseSubject('HELLO').key, 'HELLO')
  // Precomposed and decomposed "é" are one subject.
  assert.equal(extractBaseSubject('caf\u00e9').key, extractBaseSubject('cafe\u0301').key)
  assert.equal(extractBaseSubject('Café').key, extractBaseSubject('CAFÉ').key)
  assert.equal(unicodeCasemap('straße'), unicodeCasemap('STRASSE'))
  assert.notEqual(extractBaseSubject('foo').key, extractBaseSubject('foo bar').key)
})

test('base subject extraction stays linear on hostile subjects', () => {
  const n = 200_000
  const started = performance.now()
  assert.equal(extractBaseSubject(`${'[a]'.repeat(n)} x`).text, 'x')
  assert.equal(extractBaseSubject('[a]'.repeat(n)).text, '[a]')
  assert.equal(extractBaseSubject(`${'Re: '.repeat(n)}x`).text, 'x')
  assert.equal(extractBaseSubject(`x${' (fwd)'.repeat(n)}`).text, 'x')
  assert.equal(extractBaseSubject(`${'[fwd: '.repeat(n)}x${']'.repeat(n)}`).text, 'x')
  assert.equal(extractBaseSubject('['.repeat(n)).text, '['.repeat(n))
  assert.equal(extractBaseSubject(`${'[a '.repeat(n)}]`).text.length, 3 * n + 1)
  assert.ok(performance.now() - started < 2000)
})
