import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CommandReader, ParseError } from './command-reader.ts'
import { literalAtLineEnd } from './literal.ts'

const reader = (lines: string[], literals: string[] = []) =>
  new CommandReader(
    lines.map((line) => Buffer.from(line, 'latin1')),
    literals.map((literal) => Buffer.from(literal, 'latin1')),
  )
const text = (buffer: Buffer | null) => (buffer === null ? null : buffer.toString('latin1'))

test('literal announcements at the end of a line: sync, non-sync, binary, and not one', () => {
  const at = (line: string) => literalAtLineEnd(Buffer.from(line, 'latin1'))
  assert.deepEqual(at('a APPEND INBOX {310}'), { size: 310, isNonSync: false, isBinary: false })
  assert.deepEqual(at('a APPEND INBOX {310+}'), { size: 310, isNonSync: true, isBinary: false })
  assert.deepEqual(at('a APPEND INBOX ~{0}'), { size: 0, isNonSync: false, isBinary: true })
  assert.equal(at('a LOGIN foo}'), null)
  assert.equal(at('a SELECT {x}'), null)
  assert.equal(at('a NOOP'), null)
  assert.equal(at(`a APPEND INBOX {${'9'.repeat(16)}}`), 'malformed')
})

test('tags, keywords, spaces and the end of the command', () => {
  const r = reader(['A01 select INBOX'])
  assert.equal(r.tag(), 'A01')
  r.space()
  assert.equal(r.keyword(), 'SELECT')
  r.space()
  assert.equal(text(r.astring()), 'INBOX')
  r.end()
  assert.throws(() => reader(['+tag']).tag(), ParseError)
  const two = reader(['a  NOOP'])
  two.tag()
  two.space()
  assert.throws(() => two.keyword(), /expected an atom/)
  assert.throws(() => reader(['a NOOP x']).end(), /unexpected text/)
})

test('astring: atoms with "]", quoted strings with escapes, literals; NIL as nstring', () => {
  const r = reader(['a LOGIN "al\\"ice" {5}', ' x]y {3+}', ''], ['p w d', 'abc'])
  r.tag()
  r.space()
  r.keyword()
  r.space()
  assert.equal(text(r.astring()), 'al"ice')
  r.space()
  assert.equal(text(r.astring()), 'p w d')
  r.space()
  assert.equal(text(r.astring()), 'x]y')
  r.space()
  assert.equal(text(r.astring()), 'abc')
  r.end()
  assert.equal(reader(['NIL']).nstring(), null)
  assert.equal(text(reader(['"NIL"']).nstring()), 'NIL')
  assert.throws(() => reader(['"a\\b"']).string(), /escapes only/)
  assert.throws(() => reader(['"open']).string(), /unterminated/)
  assert.throws(() => reader(['{4}', ''], ['abc']).string(), /malformed literal/)
  // 8-bit octets are fine in a quoted string (RFC 9051 UTF8-quoted), NUL is not.
  assert.equal(reader(['"caf\xc3\xa9"']).string().toString('utf8'), 'café')
  assert.throws(() => reader(['"a\x00"']).string(), /NUL/)
})

test('numbers: 32-bit, non-zero, 64-bit within safe integers', () => {
  assert.equal(reader(['4294967295']).number(), 4294967295)
  assert.throws(() => reader(['4294967296']).number(), /too large/)
  assert.throws(() => reader(['0']).nzNumber(), ParseError)
  assert.equal(reader(['9007199254740991']).number64(), Number.MAX_SAFE_INTEGER)
  assert.throws(() => reader(['9007199254740992']).number64(), /too large/)
  assert.throws(() => reader(['x']).number(), /expected a number/)
})

test('lists: empty, nested, bare items where allowed, bounded depth', () => {
  assert.deepEqual(
    reader(['()']).list((r) => r.atom()),
    [],
  )
  assert.deepEqual(
    reader(['(\\Seen $Work)']).list((r) => (r.take('\\') ? `\\${r.atom()}` : r.atom())),
    ['\\Seen', '$Work'],
  )
  assert.deepEqual(
    reader(['FLAGS']).list((r) => r.atom(), { allowBare: true }),
    ['FLAGS'],
  )
  assert.throws(() => reader(['FLAGS']).list((r) => r.atom()), /expected "\("/)
  const deep = `${'('.repeat(40)}x${')'.repeat(40)}`
  const nested = (r: CommandReader): unknown => (r.peek() === 0x28 ? r.list(nested) : r.atom())
  assert.throws(() => reader([deep]).list(nested), /nested deeper than 32/)
})

test('a literal at the end of APPEND, and literal8', () => {
  const r = reader(['a APPEND INBOX (\\Seen) ~{4}', ''], ['a\x00bc'])
  r.tag()
  r.space()
  r.keyword()
  r.space()
  r.astring()
  r.space()
  r.list((item) => (item.take('\\') ? item.atom() : item.atom()))
  r.space()
  assert.deepEqual(r.literalData(), { data: Buffer.from('a\x00bc', 'latin1'), isBinary: true })
  r.end()
})
