// The IMAP response parser on the responses servers really send (RFC 9051 §7 and its examples),
// on the edges of the grammar, and on its bounds.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  announcedLiteral,
  type ImapResponse,
  itemValue,
  parseResponse,
  tokenNumber,
} from './imap-response.ts'
import { MailClientError } from './mail-socket.ts'

const b = (text: string) => Buffer.from(text, 'latin1')
const parse = (...pieces: string[]) => parseResponse(pieces.map(b))
const untagged = (tokens: ImapResponse['tokens']): ImapResponse => ({
  tag: '*',
  status: null,
  code: null,
  text: '',
  tokens,
})
const isProtocol = (pattern: RegExp) => (error: unknown) =>
  error instanceof MailClientError && error.kind === 'protocol' && pattern.test(error.message)

test('status responses: tag, status, response code kept whole, and text', () => {
  assert.deepEqual(parse('* OK [UIDVALIDITY 3857529045] UIDs valid'), {
    tag: '*',
    status: 'OK',
    code: 'UIDVALIDITY 3857529045',
    text: 'UIDs valid',
    tokens: [],
  })
  assert.deepEqual(parse('A142 ok [READ-WRITE] SELECT completed'), {
    tag: 'A142',
    status: 'OK',
    code: 'READ-WRITE',
    text: 'SELECT completed',
    tokens: [],
  })
  assert.deepEqual(
    parse('* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited').code,
    'PERMANENTFLAGS (\\Deleted \\Seen \\*)',
  )
  assert.deepEqual(parse('* OK [BADCHARSET ("a]b" UTF-8)] no').code, 'BADCHARSET ("a]b" UTF-8)')
  assert.deepEqual(parse('A1 NO'), { tag: 'A1', status: 'NO', code: null, text: '', tokens: [] })
  // Text is text: quotes, parentheses and braces in it mean nothing.
  assert.equal(parse('A2 BAD unbalanced ( and " and {3}').text, 'unbalanced ( and " and {3}')
  assert.equal(parse('* BYE Autologout; idle for too long').status, 'BYE')
  assert.equal(parse('* PREAUTH ready').status, 'PREAUTH')
  assert.equal(parse('* OK caf\xc3\xa9').text, 'café')
})

test('continuation requests, with or without text', () => {
  assert.deepEqual(parse('+ Ready for additional command text'), {
    tag: '+',
    status: null,
    code: null,
    text: 'Ready for additional command text',
    tokens: [],
  })
  assert.equal(parse('+').text, '')
  assert.equal(parse('+ ').text, '')
})

test('data responses: numbers, atoms, flags, NIL, quoted strings and nested lists', () => {
  assert.deepEqual(parse('* 172 EXISTS'), untagged(['172', 'EXISTS']))
  assert.deepEqual(
    parse('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)'),
    untagged([
      'FLAGS',
      ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '$Forwarded'],
    ]),
  )
  assert.deepEqual(
    parse('* LIST (\\Noselect) "/" "a \\"quoted\\" \\\\ name"'),
    untagged(['LIST', ['\\Noselect'], '/', 'a "quoted" \\ name']),
  )
  assert.deepEqual(parse('* LIST () NIL nil'), untagged(['LIST', [], null, null]))
  assert.deepEqual(parse('* LIST () "NIL" ""'), untagged(['LIST', [], 'NIL', '']))
  assert.deepEqual(
    parse('* 12 FETCH (FLAGS (\\Seen) UID 4827313 RFC822.SIZE 44827)'),
    untagged(['12', 'FETCH', ['FLAGS', ['\\Seen'], 'UID', '4827313', 'RFC822.SIZE', '44827']]),
  )
  assert.deepEqual(parse('* CAPABILITY IMAP4rev2 AUTH=PLAIN LITERAL+').tokens, [
    'CAPABILITY',
    'IMAP4rev2',
    'AUTH=PLAIN',
    'LITERAL+',
  ])
  // Extra spaces are tolerated.
  assert.deepEqual(parse('*  3   EXISTS').tokens, ['3', 'EXISTS'])
})

test('a "[" in an atom runs to its "]": BODY[HEADER.FIELDS (A B)]<0> is one token', () => {
  assert.deepEqual(
    parse('* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT "X-A]")]<0> "x" BODY[] NIL)').tokens,
    ['1', 'FETCH', ['BODY[HEADER.FIELDS (SUBJECT "X-A]")]<0>', 'x', 'BODY[]', null]],
  )
})

test('literals: {n}, {n+} and ~{n}, exact octets, anywhere in the response', () => {
  const body = b('Subject: x\r\n\r\n)"{3}\r\n\0\xff')
  assert.deepEqual(
    parseResponse([b(`* 3 FETCH (UID 7 BODY[] {${body.length}}`), body, b(' FLAGS (\\Seen))')])
      .tokens,
    ['3', 'FETCH', ['UID', '7', 'BODY[]', body, 'FLAGS', ['\\Seen']]],
  )
  assert.deepEqual(parseResponse([b('* LIST () "/" {0}'), b(''), b('')]).tokens, [
    'LIST',
    [],
    '/',
    Buffer.alloc(0),
  ])
  assert.deepEqual(
    parseResponse([b('* 1 FETCH (BINARY[] ~{2+}'), b('ab'), b(' X {1}'), b('c'), b(')')]).tokens,
    ['1', 'FETCH', ['BINARY[]', b('ab'), 'X', b('c')]],
  )
})

test('announcedLiteral: only at the end of a line, never in a status response or "+"', () => {
  assert.equal(announcedLiteral(b('* 1 FETCH (BODY[] {12}'), true, 100), 12)
  assert.equal(announcedLiteral(b('* 1 FETCH (BODY[] {12+}'), true, 100), 12)
  assert.equal(announcedLiteral(b(' X {0}'), false, 100), 0)
  assert.equal(announcedLiteral(b('* 1 FETCH (BODY[] {12} '), true, 100), null)
  assert.equal(announcedLiteral(b('* 1 FETCH (X {1a}'), true, 100), null)
  assert.equal(announcedLiteral(b('A1 NO failed {5}'), true, 100), null)
  assert.equal(announcedLiteral(b('* ok failed {5}'), true, 100), null)
  assert.equal(announcedLiteral(b('+ {5}'), true, 100), null)
  // On a later line, the same text is data.
  assert.equal(announcedLiteral(b('A1 NO failed {5}'), false, 100), 5)
  assert.throws(
    () => announcedLiteral(b('* 1 FETCH (BODY[] {101}'), true, 100),
    isProtocol(/literal of 101 octets/),
  )
  assert.throws(
    () => announcedLiteral(b(`* 1 FETCH (BODY[] {${'9'.repeat(30)}}`), true, 100),
    isProtocol(/literal of Infinity octets/),
  )
})

test('garbage is refused with kind protocol', () => {
  const cases: Array<[Buffer[], RegExp]> = [
    [[b('')], /bad tag/],
    [[b(' OK x')], /bad tag/],
    [[b('A+1 OK')], /bad tag/],
    [[b('A1')], /nothing after the tag/],
    [[b('* ')], /no data/],
    [[b('* LIST (a')], /without its "\)"/],
    [[b('* LIST a)')], /without its "\("/],
    [[b('* LIST "abc')], /closing quote/],
    [[b('* LIST "abc\\')], /closing quote/],
    [[b('* OK [ALERT no end')], /without its "\]"/],
    [[b('* 1 FETCH (BODY[TEXT x)')], /without its "\]"/],
    [[b('* LIST {3} x')], /does not announce a literal/],
    [[b('* LIST {3}')], /does not announce a literal/],
    [[b('* LIST {3}'), b('ab'), b('')], /literal of 2 octets announced as 3/],
    [[b('* LIST {1}'), b('a')], /without the line that follows/],
    [[b('* LIST a{1}'), b('a'), b('')], /literal inside a token/],
    [[b('* LIST {1} {1}'), b('a'), b('')], /does not announce/],
    [[b('* OK x {1}'), b('a'), b('')], /literal in a status response/],
    [[b('+ x {1}'), b('a'), b('')], /literal in a continuation request/],
    [[b('* LIST a\x01b')], /control character/],
  ]
  for (const [pieces, pattern] of cases) {
    assert.throws(
      () => parseResponse(pieces),
      isProtocol(pattern),
      JSON.stringify(pieces.map(String)),
    )
  }
})

test('the bounds: text, literal size, nesting depth', () => {
  const limits = { maxTextOctets: 100, maxLiteralOctets: 10, maxDepth: 3 }
  assert.deepEqual(parseResponse([b('* X (((a)))')], limits).tokens, ['X', [[['a']]]])
  assert.throws(() => parseResponse([b('* X ((((a))))')], limits), isProtocol(/deeper than 3/))
  assert.throws(
    () => parseResponse([b(`* X ${'a'.repeat(60)} {1}`), b('a'), b(` ${'a'.repeat(40)}`)], limits),
    isProtocol(/more than 100 octets/),
  )
  assert.throws(
    () => parseResponse([b('* X {11}'), b('a'.repeat(11)), b('')], limits),
    isProtocol(/past the limit/),
  )
  // The default depth holds 32 levels, not 33.
  assert.equal(parse(`* X ${'('.repeat(32)}${')'.repeat(32)}`).tokens.length, 2)
  assert.throws(() => parse(`* X ${'('.repeat(33)}${')'.repeat(33)}`), isProtocol(/deeper/))
})

test('tokenNumber and itemValue', () => {
  assert.equal(tokenNumber('4294967295'), 4294967295)
  assert.equal(tokenNumber('0'), 0)
  for (const token of ['', '-1', '1.5', ' 1', '99999999999999999999', null, [], undefined]) {
    assert.equal(tokenNumber(token as never), null)
  }
  const items = ['UID', '4', 'rfc822.size', '10', 'BODY[]', null]
  assert.equal(itemValue(items, 'RFC822.SIZE'), '10')
  assert.equal(itemValue(items, 'body[]'), null)
  assert.equal(itemValue(items, 'FLAGS'), undefined)
  assert.equal(itemValue(['UID'], 'UID'), undefined)
})
