import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DataDecoder, dotStuff } from '../proto/index.ts'
import { DotStuffer } from './dot-stuffer.ts'

function stuffChunks(chunks: Buffer[]): Buffer {
  const stuffer = new DotStuffer()
  return Buffer.concat([...chunks.map((chunk) => stuffer.push(chunk)), stuffer.end()])
}

function splitAt(message: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (message.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let start = 0
  for (const point of points) {
    chunks.push(message.subarray(start, point))
    start = point
  }
  chunks.push(message.subarray(start))
  return chunks
}

test('a dot at the start of a chunk is stuffed only when it starts a line', () => {
  const chunks = ['Subject: x\r\n\r\n', '.starts a line\r\n', 'mid', '.line\r\n.', '.\r\n'].map(
    (text) => Buffer.from(text),
  )
  assert.equal(
    stuffChunks(chunks).toString(),
    'Subject: x\r\n\r\n..starts a line\r\nmid.line\r\n...\r\n.\r\n',
  )
})

test('the first octet of the message starts a line', () => {
  assert.equal(stuffChunks([Buffer.from('.\r\n')]).toString(), '..\r\n.\r\n')
})

test('a CRLF is added when the message lacks its last one, and only then', () => {
  const cases: Array<[string, string]> = [
    ['a\r\n', 'a\r\n.\r\n'],
    ['a', 'a\r\n.\r\n'],
    ['a\r', 'a\r\r\n.\r\n'],
    ['a\n', 'a\n\r\n.\r\n'],
    ['', '.\r\n'],
  ]
  for (const [message, wire] of cases) {
    assert.equal(stuffChunks([Buffer.from(message)]).toString(), wire, JSON.stringify(message))
  }
  // The CR and the LF in different chunks still count as the last CRLF.
  assert.equal(stuffChunks([Buffer.from('a\r'), Buffer.from('\n')]).toString(), 'a\r\n.\r\n')
  assert.equal(
    stuffChunks([Buffer.from('a\r'), Buffer.from('\n'), Buffer.alloc(0)]).toString(),
    'a\r\n.\r\n',
  )
})

const messageBytes = fc
  .array(fc.constantFrom(...Buffer.from('..\r\n\r\nab\n\r')), { maxLength: 200 })
  .map((octets) => Buffer.from(octets))

test('streamed in any chunks, the result is dotStuff of the whole message', () => {
  fc.assert(
    fc.property(messageBytes, fc.array(fc.nat(), { maxLength: 8 }), (message, cuts) => {
      const stuffer = new DotStuffer()
      const streamed = Buffer.concat(splitAt(message, cuts).map((chunk) => stuffer.push(chunk)))
      assert.deepEqual(streamed, dotStuff(message))
    }),
    { numRuns: 1000 },
  )
})

test("the server's decoder gets the message back, exactly, however it was chunked", () => {
  fc.assert(
    fc.property(messageBytes, fc.array(fc.nat(), { maxLength: 8 }), (body, cuts) => {
      // Messages end with CRLF and have no bare line ends, as the queue stores them.
      const message = Buffer.from(
        `${body.toString('latin1').replace(/\r|\n/g, '\r\n')}\r\n`,
        'latin1',
      )
      const wire = stuffChunks(splitAt(message, cuts))
      const decoder = new DataDecoder(Number.MAX_SAFE_INTEGER)
      assert.deepEqual(decoder.push(wire), Buffer.alloc(0))
      assert.deepEqual(decoder.message(), message)
    }),
    { numRuns: 1000 },
  )
})
