import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  decodeEncodedWords,
  decodeHeaderBytes,
  encodeHeaderText,
  encodePhrase,
} from './encoded-word.ts'

const unfold = (text: string) => text.replace(/\r\n(?=[ \t])/g, '')

// Text that survives UTF-8 exactly: no lone surrogates (fast-check makes none), and no leading
// BOM, which decoding drops on purpose.
const text = fc
  .oneof(fc.string({ unit: 'binary' }), fc.string(), fc.string({ unit: 'grapheme' }))
  .filter((value) => !value.startsWith('\ufeff'))

// Pieces of encoded-words and the characters around them, shuffled into near misses.
const soup = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '=?',
        '?=',
        '?',
        '=',
        ' ',
        '\t',
        '\r\n ',
        '_',
        'utf-8',
        'iso-8859-1',
        'x-unknown',
        '*en',
        '?q?',
        '?B?',
        '=C3',
        '=A9',
        'Zm9v',
        '4oI=',
        'rA==',
        '=?utf-8?q?a?=',
        '=?utf-8?b?w6k=?=',
      ),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 40 },
  )
  .map((pieces) => pieces.join(''))

test('decodeEncodedWords never throws, on any text or on encoded-word soup', () => {
  fc.assert(
    fc.property(fc.oneof(text, soup), (value) => {
      assert.equal(typeof decodeEncodedWords(value), 'string')
    }),
    { numRuns: 5000 },
  )
})

test('decodeEncodedWords returns text without "=?" unchanged', () => {
  fc.assert(
    fc.property(text, (value) => {
      if (!value.includes('=?')) assert.equal(decodeEncodedWords(value), value)
    }),
  )
})

test('decodeHeaderBytes never throws, and reads valid UTF-8 as UTF-8', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (octets) => {
      assert.equal(typeof decodeHeaderBytes(octets), 'string')
    }),
  )
  fc.assert(
    fc.property(text, (value) => {
      assert.equal(decodeHeaderBytes(Buffer.from(value, 'utf8')), value)
    }),
  )
})

test('decodeEncodedWords inverts encodeHeaderText after unfolding', () => {
  fc.assert(
    fc.property(text, fc.integer({ min: 0, max: 80 }), (value, firstLineUsed) => {
      const encoded = encodeHeaderText(value, firstLineUsed)
      assert.equal(decodeEncodedWords(unfold(encoded)), value)
    }),
    { numRuns: 3000 },
  )
})

test('encodeHeaderText keeps to the line limits and writes no bare line breaks', () => {
  fc.assert(
    fc.property(text, fc.integer({ min: 0, max: 52 }), (value, firstLineUsed) => {
      const encoded = encodeHeaderText(value, firstLineUsed)
      const lines = `${'x'.repeat(firstLineUsed)}${encoded}`.split('\r\n')
      assert.doesNotMatch(lines.join(''), /[\r\n]/)
      for (const [index, line] of lines.entries()) {
        if (index > 0) assert.match(line, /^[ \t]/)
        if (encoded.startsWith('=?UTF-8?')) assert.ok(line.length <= 76, line)
        // Folded ASCII: only a run without whitespace may overflow, and never past 998.
        else assert.ok(line.length <= 78 || !/\S[ \t]/.test(line.slice(1)), line)
        assert.ok(line.length <= 998)
      }
    }),
    { numRuns: 3000 },
  )
})

/** Reads back a phrase the way an address parser would: unquote, or decode the words. */
function readPhrase(phrase: string): string {
  if (phrase.startsWith('"')) return phrase.slice(1, -1).replace(/\\(.)/g, '$1')
  return decodeEncodedWords(phrase)
}

test('encodePhrase gives a phrase that reads back as the name', () => {
  fc.assert(
    fc.property(text, (name) => {
      const phrase = encodePhrase(name)
      assert.equal(readPhrase(phrase), name)
      assert.match(phrase, /^[\t\x20-\x7e]*$/)
    }),
    { numRuns: 3000 },
  )
})
