import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatNString, formatString, formatStringList } from './string.ts'

test('formatString quotes what a quoted string can carry, escaping " and \\', () => {
  assert.equal(formatString('hello world'), '"hello world"')
  assert.equal(formatString('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"')
  assert.equal(formatString(''), '""')
})

test('formatString sends CR, LF, NUL and 8-bit octets as a literal counted in octets', () => {
  assert.equal(formatString('a\r\nb'), '{4}\r\na\r\nb')
  // "é" in UTF-8 is two octets, here as a binary string of two chars.
  const utf8 = Buffer.from('café', 'utf8').toString('latin1')
  assert.equal(formatString(utf8), `{5}\r\n${utf8}`)
  // RFC 9051 §9: a literal carries CHAR8 (%x01-ff), so NUL goes as 0x80.
  assert.equal(formatString('nul\u0000'), '{4}\r\nnul\u0080')
})

test('formatNString and formatStringList use NIL for nothing', () => {
  assert.equal(formatNString(null), 'NIL')
  assert.equal(formatNString('x'), '"x"')
  assert.equal(formatStringList(null), 'NIL')
  assert.equal(formatStringList([]), 'NIL')
  assert.equal(formatStringList(['en', 'de']), '("en" "de")')
})
