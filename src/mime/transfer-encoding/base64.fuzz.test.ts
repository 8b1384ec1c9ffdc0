import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeBase64, encodeBase64 } from './base64.ts'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** The decoder written the slow obvious way: skip non-alphabet octets, "=" closes a group. */
function referenceDecode(input: Uint8Array): Buffer {
  const output: number[] = []
  let bits = 0
  let bitCount = 0
  for (const octet of input) {
    const value = ALPHABET.indexOf(String.fromCharCode(octet))
    if (octet < 0x80 && value >= 0) {
      bits = (bits << 6) | value
      bitCount += 6
      if (bitCount >= 8) {
        bitCount -= 8
        output.push((bits >> bitCount) & 0xff)
        bits &= (1 << bitCount) - 1
      }
    } else if (octet === 0x3d) {
      bits = 0
      bitCount = 0
    }
  }
  return Buffer.from(output)
}

// Arbitrary octets, and octets biased towards the ones the decoder treats specially.
const SPECIAL_OCTETS = [...`${ALPHABET}=\r\n \t-_!`].map((char) => char.charCodeAt(0))
const base64ish = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .array(fc.oneof(fc.constantFrom(...SPECIAL_OCTETS), fc.integer({ min: 0, max: 255 })), {
      maxLength: 300,
    })
    .map((octets) => Uint8Array.from(octets)),
)

test('decodeBase64 never throws and matches the reference decoder on any octets', () => {
  fc.assert(
    fc.property(base64ish, (input) => {
      assert.deepEqual(decodeBase64(input), referenceDecode(input))
    }),
    { numRuns: 3000 },
  )
})

test('decodeBase64 inverts encodeBase64 at any line length', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 500 }),
      fc.integer({ min: 1, max: 200 }),
      (data, width) => {
        assert.deepEqual(decodeBase64(Buffer.from(encodeBase64(data, width))), Buffer.from(data))
      },
    ),
  )
})

test('encodeBase64 lines hold at most the line length and only alphabet characters', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 500 }),
      fc.integer({ min: 4, max: 200 }),
      (data, width) => {
        for (const line of encodeBase64(data, width).split('\r\n')) {
          assert.ok(line.length <= width)
          assert.match(line, /^[A-Za-z0-9+/]*={0,2}$/)
        }
      },
    ),
  )
})

test('decodeBase64 is unmoved by whitespace and junk inserted between characters', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '\r\n', '\t', '!', '\u00e9', '*'))),
      (data, insertions) => {
        let encoded = encodeBase64(data)
        for (const [at, junk] of insertions) {
          const position = at % (encoded.length + 1)
          encoded = encoded.slice(0, position) + junk + encoded.slice(position)
        }
        assert.deepEqual(decodeBase64(Buffer.from(encoded, 'latin1')), Buffer.from(data))
      },
    ),
  )
})
