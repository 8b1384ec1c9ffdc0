import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import iconv from 'iconv-lite'
import { decodeText, isValidUtf8, normalizeCharset } from './charset.ts'

const KNOWN_LABELS = [
  'utf-8',
  'us-ascii',
  'iso-8859-1',
  'windows-1252',
  'iso-2022-jp',
  'shift_jis',
  'euc-jp',
  'gb18030',
  'gbk',
  'big5',
  'euc-kr',
  'koi8-r',
  'utf-16',
  'utf-16be',
  'utf-32',
  'utf-7',
  'cp437',
  'cp850',
  'x-mac-cyrillic',
]

const label = fc.oneof(fc.constantFrom(...KNOWN_LABELS), fc.string(), fc.constant(null))

// Text a decoder can give back exactly: no leading BOM, which decoding drops on purpose.
const text = fc.string({ unit: 'binary' }).filter((value) => !value.startsWith('\ufeff'))

test('decodeText never throws, whatever the octets and the label', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), label, (octets, charset) => {
      assert.equal(typeof decodeText(octets, charset), 'string')
    }),
    { numRuns: 2000 },
  )
})

test('decodeText without a charset is UTF-8 for valid UTF-8 and one character per octet otherwise', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (octets) => {
      const decoded = decodeText(octets)
      if (isValidUtf8(octets))
        assert.deepEqual(Buffer.from(decoded, 'utf8'), Buffer.from(stripBom(octets)))
      else assert.equal(decoded.length, octets.length)
    }),
  )
})

test('decodeText round-trips UTF-8 text', () => {
  fc.assert(
    fc.property(text, (value) => {
      assert.equal(decodeText(Buffer.from(value, 'utf8'), 'utf-8'), value)
      assert.equal(decodeText(Buffer.from(value, 'utf8')), value)
    }),
  )
})

test('decodeText round-trips what iconv-lite encodes in UTF-7 and UTF-16', () => {
  fc.assert(
    fc.property(text, fc.constantFrom('utf-7', 'utf-16be', 'utf-16le'), (value, charset) => {
      assert.equal(decodeText(iconv.encode(value, charset), charset), value)
    }),
  )
})

test('normalizeCharset never throws and gives names that normalize to themselves', () => {
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...KNOWN_LABELS), fc.string()), (value) => {
      const name = normalizeCharset(value)
      if (name !== null) assert.equal(normalizeCharset(name), name)
    }),
    { numRuns: 2000 },
  )
})

function stripBom(octets: Uint8Array): Uint8Array {
  return octets[0] === 0xef && octets[1] === 0xbb && octets[2] === 0xbf
    ? octets.subarray(3)
    : octets
}
