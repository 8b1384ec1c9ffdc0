import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeQuotedPrintable, encodeQuotedPrintable } from './quoted-printable.ts'

// Arbitrary octets, and octets biased towards the ones quoted-printable treats specially.
const SPECIAL_OCTETS = [...'=\r\n \t.From 0aF'].map((char) => char.charCodeAt(0))
const qpish = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc
    .array(fc.oneof(fc.constantFrom(...SPECIAL_OCTETS), fc.integer({ min: 0, max: 255 })), {
      maxLength: 400,
    })
    .map((octets) => Uint8Array.from(octets)),
)

test('decodeQuotedPrintable never throws and never grows its input', () => {
  fc.assert(
    fc.property(qpish, (input) => {
      assert.ok(decodeQuotedPrintable(input).length <= input.length)
    }),
    { numRuns: 3000 },
  )
})

test('decodeQuotedPrintable inverts encodeQuotedPrintable at any line length', () => {
  fc.assert(
    fc.property(qpish, fc.integer({ min: 4, max: 120 }), (data, width) => {
      const encoded = Buffer.from(encodeQuotedPrintable(data, width), 'latin1')
      assert.deepEqual(decodeQuotedPrintable(encoded), Buffer.from(data))
    }),
    { numRuns: 3000 },
  )
})

test('encodeQuotedPrintable writes safe lines: short, printable, no trailing space, no lone "." or "From "', () => {
  fc.assert(
    fc.property(qpish, fc.integer({ min: 4, max: 120 }), (data, width) => {
      const encoded = encodeQuotedPrintable(data, width)
      assert.doesNotMatch(encoded, /\r(?!\n)|(?<!\r)\n/)
      for (const line of encoded.split('\r\n')) {
        assert.ok(line.length <= width, line)
        assert.match(line, /^[\t\x20-\x7e]*$/)
        assert.doesNotMatch(line, /[ \t]$/)
        assert.doesNotMatch(line, /^\.|^From /)
      }
    }),
    { numRuns: 3000 },
  )
})
