import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ChunkCollector, DataDecoder, dotStuff } from './dot-stuffing.ts'
import { MAX_TEXT_LINE_OCTETS } from './limits.ts'

const CR = 0x0d
const LF = 0x0a
const DOT = 0x2e

interface Outcome {
  /** Where the end marker ended in the stream, or null when it did not end. */
  end: number | null
  message: Buffer
  size: number
  isTooBig: boolean
  hasLongLine: boolean
  hasBareLf: boolean
}

/**
 * RFC 5321 §4.5.2 the slow obvious way, on the whole stream: a line starts after CRLF (and at
 * the start), a line that is exactly "." ends the message, any other line starting with "."
 * loses that dot, which does not count toward the line's length (§4.5.3.1.6).
 */
function referenceDecode(stream: Buffer, maxOctets: number): Outcome {
  const out: number[] = []
  let isAtLineStart = true
  let lineOctets = 0
  let hasLongLine = false
  let hasBareLf = false
  let end: number | null = null
  for (let i = 0; i < stream.length; i += 1) {
    if (isAtLineStart) {
      isAtLineStart = false
      if (stream[i] === DOT) {
        if (stream[i + 1] === CR && stream[i + 2] === LF) {
          end = i + 3
          break
        }
        // The stream stops inside what may still be the end marker: nothing more is known.
        if (i + 1 >= stream.length || (stream[i + 1] === CR && i + 2 >= stream.length)) break
        continue
      }
    }
    const octet = stream[i] as number
    out.push(octet)
    lineOctets += 1
    if (lineOctets > MAX_TEXT_LINE_OCTETS) hasLongLine = true
    if (octet === LF) {
      if (i > 0 && stream[i - 1] === CR) isAtLineStart = true
      else hasBareLf = true
      lineOctets = 0
    }
  }
  const message = Buffer.from(out)
  const isTooBig = message.length > maxOctets
  return { end, message, size: message.length, isTooBig, hasLongLine, hasBareLf }
}

function cut(stream: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = []
  for (let offset = 0, i = 0; offset < stream.length; i += 1) {
    const size = sizes[i % sizes.length] ?? 1
    chunks.push(stream.subarray(offset, offset + size))
    offset += size
  }
  return chunks
}

function runDecoder(chunks: readonly Buffer[], maxOctets: number): Outcome & { rest: Buffer } {
  const decoder = new DataDecoder(maxOctets)
  let consumed = 0
  let rest: Buffer | null = null
  let next = 0
  while (rest === null && next < chunks.length) {
    const chunk = chunks[next] as Buffer
    rest = decoder.push(chunk)
    consumed += chunk.length
    next += 1
  }
  return {
    end: rest === null ? null : consumed - rest.length,
    rest: Buffer.concat([rest ?? Buffer.alloc(0), ...chunks.slice(next)]),
    message: decoder.message(),
    size: decoder.size,
    isTooBig: decoder.isTooBig,
    hasLongLine: decoder.hasLongLine,
    hasBareLf: decoder.hasBareLf,
  }
}

// Pieces that make line ends, end markers, stuffing and long lines common.
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 255 }).map((n) => Buffer.from([n])) },
  {
    weight: 6,
    arbitrary: fc
      .constantFrom('\r\n', '\r', '\n', '.', '..', '\r\n.', '.\r', '\r\n.\r', '\n.\n', '\x00')
      .map((text) => Buffer.from(text, 'latin1')),
  },
  { weight: 1, arbitrary: fc.constant(Buffer.from('\r\n.\r\n', 'latin1')) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_TEXT_LINE_OCTETS - 4, max: MAX_TEXT_LINE_OCTETS + 2 })
      .map((n) => Buffer.alloc(n, 'x')),
  },
)
const stream = fc
  .array(piece, { maxLength: 40, size: 'medium' })
  .map((pieces) => Buffer.concat(pieces))
const chunkSizes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 })

test('DataDecoder agrees with the whole-stream reference for any stream and chunking', () => {
  fc.assert(
    fc.property(stream, chunkSizes, fc.integer({ min: 0, max: 2000 }), (input, sizes, max) => {
      const expected = referenceDecode(input, max)
      const actual = runDecoder(cut(input, sizes), max)
      assert.equal(actual.end, expected.end)
      assert.deepEqual(
        actual.rest,
        expected.end === null ? Buffer.alloc(0) : input.subarray(expected.end),
      )
      assert.equal(actual.size, expected.size)
      assert.equal(actual.isTooBig, expected.isTooBig)
      assert.equal(actual.hasLongLine, expected.hasLongLine)
      assert.equal(actual.hasBareLf, expected.hasBareLf)
      if (expected.isTooBig) {
        // Only a prefix within the bound is ever held.
        assert.ok(actual.message.length <= max)
        assert.deepEqual(actual.message, expected.message.subarray(0, actual.message.length))
      } else {
        assert.deepEqual(actual.message, expected.message)
      }
    }),
    { numRuns: 1500 },
  )
})

/** Makes every LF a CRLF's and the message end in CRLF (the empty message stays empty). */
function withCrlfLines(bytes: Buffer): Buffer {
  const out: number[] = []
  for (let i = 0; i < bytes.length; i += 1) {
    const octet = bytes[i] as number
    if (octet === LF && (i === 0 || bytes[i - 1] !== CR)) out.push(CR)
    out.push(octet)
  }
  if (out.length > 0 && !(out.at(-2) === CR && out.at(-1) === LF)) out.push(CR, LF)
  return Buffer.from(out)
}

function hasLongLine(message: Buffer): boolean {
  let start = 0
  for (let lf = message.indexOf(LF); lf >= 0; lf = message.indexOf(LF, lf + 1)) {
    if (lf + 1 - start > MAX_TEXT_LINE_OCTETS) return true
    start = lf + 1
  }
  return message.length - start > MAX_TEXT_LINE_OCTETS
}

test('DataDecoder reads back exactly dotStuff(message) + ".\\r\\n", and the trailer after it', () => {
  fc.assert(
    fc.property(stream, stream, chunkSizes, (raw, trailer, sizes) => {
      const message = withCrlfLines(raw)
      const wire = Buffer.concat([dotStuff(message), Buffer.from('.\r\n'), trailer])
      const actual = runDecoder(cut(wire, sizes), message.length)
      assert.deepEqual(actual.message, message)
      assert.deepEqual(actual.rest, trailer)
      assert.equal(actual.end, wire.length - trailer.length)
      assert.equal(actual.size, message.length)
      assert.equal(actual.isTooBig, false)
      assert.equal(actual.hasBareLf, false)
      assert.equal(actual.hasLongLine, hasLongLine(message))
    }),
    { numRuns: 1000 },
  )
})

test('with bare LFs too, the end is exactly where dotStuff put it', () => {
  // The one difference (see dot-stuffing.test.ts): a dot after a bare LF comes back doubled.
  fc.assert(
    fc.property(stream, stream, chunkSizes, (raw, trailer, sizes) => {
      const message =
        raw.length === 0 || raw.subarray(-2).equals(Buffer.from('\r\n'))
          ? raw
          : Buffer.concat([raw, Buffer.from('\r\n')])
      const wire = Buffer.concat([dotStuff(message), Buffer.from('.\r\n'), trailer])
      const actual = runDecoder(cut(wire, sizes), Number.MAX_SAFE_INTEGER)
      assert.deepEqual(actual.rest, trailer)
      const expected: number[] = []
      for (let i = 0; i < message.length; i += 1) {
        expected.push(message[i] as number)
        const isBareLf = message[i] === LF && (i === 0 || message[i - 1] !== CR)
        if (isBareLf && message[i + 1] === DOT) expected.push(DOT)
      }
      assert.deepEqual(actual.message, Buffer.from(expected))
    }),
    { numRuns: 1000 },
  )
})

test('DataDecoder never reports an end in a stream without CRLF.CRLF', () => {
  const noEnd = stream.filter(
    (input) =>
      !input.subarray(0, 3).equals(Buffer.from('.\r\n')) && !input.includes('\r\n.\r\n', 'latin1'),
  )
  fc.assert(
    fc.property(noEnd, chunkSizes, (input, sizes) => {
      const decoder = new DataDecoder(input.length)
      for (const chunk of cut(input, sizes)) assert.equal(decoder.push(chunk), null)
      assert.equal(decoder.isTooBig, false)
    }),
    { numRuns: 1000 },
  )
})

test('ChunkCollector agrees with a whole-body reference for any chunking', () => {
  fc.assert(
    fc.property(stream, chunkSizes, fc.integer({ min: 0, max: 2000 }), (input, sizes, max) => {
      const collector = new ChunkCollector(max)
      for (const chunk of cut(input, sizes)) collector.push(chunk)
      let lineOctets = 0
      let isLong = false
      let isBare = false
      for (let i = 0; i < input.length; i += 1) {
        lineOctets += 1
        if (lineOctets > MAX_TEXT_LINE_OCTETS) isLong = true
        if (input[i] === LF) {
          if (i === 0 || input[i - 1] !== CR) isBare = true
          lineOctets = 0
        }
      }
      assert.equal(collector.size, input.length)
      assert.equal(collector.isTooBig, input.length > max)
      assert.equal(collector.hasLongLine, isLong)
      assert.equal(collector.hasBareLf, isBare)
      const message = collector.message()
      if (input.length > max) {
        assert.ok(message.length <= max)
        assert.deepEqual(message, input.subarray(0, message.length))
      } else {
        assert.deepEqual(message, input)
      }
    }),
    { numRuns: 800 },
  )
})
