import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeBase64, decodeQuotedPrintable, decodeTransferEncoding } from './index.ts'

const encoding = fc.oneof(
  fc.constantFrom('base64', 'quoted-printable', '7bit', '8bit', 'binary', 'x-uuencode', null),
  fc.string(),
)

test('decodeTransferEncoding never throws, whatever the body and the encoding', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), encoding, (body, name) => {
      assert.ok(Buffer.isBuffer(decodeTransferEncoding(body, name)))
    }),
    { numRuns: 2000 },
  )
})

test('decodeTransferEncoding picks the codec its mechanism names, in any case and padding', () => {
  const mechanism = fc.tuple(
    fc.constantFrom('base64', 'quoted-printable'),
    fc.constantFrom('', ' ', '\t', '"'),
    fc.boolean(),
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), mechanism, (body, [name, padding, isUpper]) => {
      const written = `${padding}${isUpper ? name.toUpperCase() : name}${padding}`
      const expected = name === 'base64' ? decodeBase64(body) : decodeQuotedPrintable(body)
      assert.deepEqual(decodeTransferEncoding(body, written), expected)
    }),
  )
})
