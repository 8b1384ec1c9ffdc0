import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  formatParameterizedValue,
  parseContentTypeValue,
  parseParameterizedValue,
} from './params.ts'

// Pieces of parameter syntax, shuffled into near misses.
const soup = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ';',
        '=',
        '"',
        '\\',
        '(',
        ')',
        ' ',
        '\r\n ',
        '*',
        '*0',
        '*1*',
        "'",
        "utf-8''",
        '%',
        '%E2',
        '%82',
        'name',
        'text/plain',
        '/',
        '=?utf-8?q?a?=',
      ),
      fc.string({ maxLength: 3 }),
      fc.string({ unit: 'binary', maxLength: 2 }),
    ),
    { maxLength: 40 },
  )
  .map((pieces) => pieces.join(''))

// An RFC 2045 token, or 8-bit octets, which Dovecot reads as part of one; "" too.
const DOVECOT_TOKEN = /^(?:[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]|[\u0080-\uffff])*$/

test('parseParameterizedValue never throws, on any text or on parameter soup', () => {
  fc.assert(
    fc.property(fc.oneof(soup, fc.string({ unit: 'binary' })), (text) => {
      const { value, params, rawParams } = parseParameterizedValue(text)
      assert.equal(value, value.toLowerCase())
      for (const name of params.keys()) assert.equal(name, name.toLowerCase())
      assert.ok(rawParams.length <= 128)
      for (const [name, rawValue] of rawParams) {
        assert.match(name, DOVECOT_TOKEN)
        assert.ok(!rawValue.includes('\0'))
      }
    }),
    { numRuns: 5000 },
  )
})

test('parseContentTypeValue gives tokens, and rawParams only for a valid type/subtype', () => {
  fc.assert(
    fc.property(fc.oneof(soup, fc.string({ unit: 'binary' })), (text) => {
      const { type, subtype } = parseContentTypeValue(text)
      assert.match(type, DOVECOT_TOKEN)
      assert.match(subtype, DOVECOT_TOKEN)
      if (subtype !== '') assert.notEqual(type, '')
      const asContentType = parseParameterizedValue(text, 'content-type').rawParams
      if (subtype === '') assert.deepEqual(asContentType, [])
      else assert.deepEqual(parseParameterizedValue(text).rawParams, asContentType)
    }),
    { numRuns: 5000 },
  )
})

test('parseParameterizedValue gives value and params the same for a text and its unfolding', () => {
  fc.assert(
    fc.property(soup, (text) => {
      const unfolded = text.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, '')
      const folded = parseParameterizedValue(text)
      const flat = parseParameterizedValue(unfolded)
      assert.equal(folded.value, flat.value)
      assert.deepEqual(folded.params, flat.params)
    }),
    { numRuns: 3000 },
  )
})

// Attribute names as formatParameterizedValue accepts them, lower-case so that they compare.
const attribute = fc.stringMatching(/^[a-z0-9!#$&+\-.^_`{|}~]{1,12}$/)
// Values that survive UTF-8 exactly: no leading BOM, which decoding drops on purpose.
const parameterValue = fc
  .oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), soup)
  .filter((value) => !value.startsWith('\ufeff'))

// A rawParams entry as text: `name*` values are `charset'language'%XX` in UTF-8 here. Dovecot
// names a `name*` that follows a sectioned parameter `name*N*`, N that one's number.
function decodeRawParameter([name, value]: [string, string]): [string, string] {
  if (!name.endsWith('*')) return [name, value]
  const base = name.replace(/(?:\*\d+)?\*$/, '')
  const encoded = value.slice(value.indexOf("'", value.indexOf("'") + 1) + 1)
  const octets: number[] = []
  for (let i = 0; i < encoded.length; i += 1) {
    if (encoded[i] === '%') {
      octets.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      octets.push(encoded.charCodeAt(i))
    }
  }
  return [base, Buffer.from(octets).toString('utf8')]
}

test('parseParameterizedValue inverts formatParameterizedValue', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('text/plain', 'attachment', 'multipart/mixed', 'inline'),
      fc.dictionary(attribute, parameterValue, { maxKeys: 6 }),
      fc.integer({ min: 0, max: 40 }),
      (value, params, firstLineUsed) => {
        const formatted = formatParameterizedValue(value, params, firstLineUsed)
        const parsed = parseParameterizedValue(formatted.replace(/\r\n(?=[ \t])/g, ''))
        assert.equal(parsed.value, value)
        assert.deepEqual(
          Object.fromEntries(parsed.params),
          Object.fromEntries(Object.entries(params)),
        )
        // Dovecot reads it all too, each parameter once, sections merged.
        assert.deepEqual(
          Object.fromEntries(parsed.rawParams.map(decodeRawParameter)),
          Object.fromEntries(Object.entries(params)),
        )
      },
    ),
    { numRuns: 3000 },
  )
})

test('formatParameterizedValue keeps lines within 78 columns and writes only printable ASCII', () => {
  fc.assert(
    fc.property(
      fc.dictionary(attribute, parameterValue, { maxKeys: 6 }),
      fc.integer({ min: 0, max: 40 }),
      (params, firstLineUsed) => {
        const formatted = formatParameterizedValue('attachment', params, firstLineUsed)
        const lines = `${'x'.repeat(firstLineUsed)}${formatted}`.split('\r\n')
        for (const line of lines) {
          assert.ok(line.length <= 78, line)
          assert.match(line, /^[\x20-\x7e]*$/)
        }
      },
    ),
    { numRuns: 3000 },
  )
})
