import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import iconv from 'iconv-lite'
import { decodeMailboxName, encodeMailboxName } from './mutf7.ts'

const iconvEncode = (name: string) => iconv.encode(name, 'utf7imap').toString('latin1')
const iconvDecode = (encoded: string) => iconv.decode(Buffer.from(encoded, 'latin1'), 'utf7imap')

// Names that mix the characters the encoding treats specially ("&", "-", the base64 alphabet)
// with runs of controls, Latin, CJK and astral characters, so sections open and close often.
const nameChar = fc.oneof(
  fc.constantFrom('&', '-', '+', ',', '/', 'A', 'z', '0', ' ', '~', '.'),
  fc.integer({ min: 0, max: 0x7f }).map((code) => String.fromCharCode(code)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom('é', 'ü', '台', '日', '😀', '\u{10ffff}', '\ufffd', '\u0080'),
)
const mailboxName = fc.oneof(
  fc.string({ unit: nameChar, maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
)

// Wire text drawn mostly from the characters modified UTF-7 is made of, so that a fair share of
// it is valid and the rest fails in every way the decoder checks for.
const wireChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('&', '-', 'A', 'O', 'k', '6', 'Q', ',', '+', '2', 'D') },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9+,/=]$/) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)) },
)
const wireText = fc.string({ unit: wireChar, maxLength: 30 })

// A valid encoding with one character replaced, inserted or removed.
const mutatedEncoding = fc
  .tuple(mailboxName, fc.nat(), wireChar, fc.constantFrom('replace', 'insert', 'remove'))
  .map(([name, at, char, how]) => {
    const encoded = encodeMailboxName(name)
    const i = encoded.length === 0 ? 0 : at % encoded.length
    if (how === 'insert') return encoded.slice(0, i) + char + encoded.slice(i)
    if (how === 'remove') return encoded.slice(0, i) + encoded.slice(i + 1)
    return encoded.slice(0, i) + char + encoded.slice(i + 1)
  })

test('decode(encode(name)) is the name for any name without lone surrogates', () => {
  fc.assert(
    fc.property(mailboxName, (name) => {
      const encoded = encodeMailboxName(name)
      assert.match(encoded, /^[\x20-\x7e]*$/)
      assert.equal(decodeMailboxName(encoded), name)
    }),
    { numRuns: 5000 },
  )
})

test('encodeMailboxName agrees with iconv-lite, and iconv-lite decodes it to the same name', () => {
  fc.assert(
    fc.property(mailboxName, (name) => {
      const encoded = encodeMailboxName(name)
      assert.equal(encoded, iconvEncode(name))
      assert.equal(iconvDecode(encoded), name)
      assert.equal(decodeMailboxName(encoded), iconvDecode(encoded))
    }),
    { numRuns: 5000 },
  )
})

test('names with lone surrogates encode as their well-formed form', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.oneof(nameChar, fc.constantFrom('\ud800', '\udbff', '\udc00')) }),
      (name) => {
        assert.equal(decodeMailboxName(encodeMailboxName(name)), name.toWellFormed())
      },
    ),
    { numRuns: 2000 },
  )
})

test('decodeMailboxName never throws, and accepts only the one encoding of a name', () => {
  fc.assert(
    fc.property(fc.oneof(wireText, mutatedEncoding, fc.string({ maxLength: 30 })), (text) => {
      const name = decodeMailboxName(text)
      if (name === null) return
      // Accepted text is canonical: encoding what it decodes to gives it back unchanged, and
      // iconv-lite (which accepts far more) reads it the same way.
      assert.ok(name.isWellFormed())
      assert.equal(encodeMailboxName(name), text)
      assert.equal(iconvDecode(text), name)
    }),
    { numRuns: 20000 },
  )
})

test('decodeMailboxName reads a long name of many sections', () => {
  // Each "&" is looked at once, whether it opens a section, stands for itself or is refused.
  const long = '&AOk-x&-'.repeat(50_000)
  assert.equal(decodeMailboxName(long), 'éx&'.repeat(50_000))
  assert.equal(decodeMailboxName(`${long}&AOk`), null)
})
