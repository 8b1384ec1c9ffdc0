import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DataDecoder } from '../proto/index.ts'
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
    ['a\r', 'a\r\n.\r\n'],
    ['a\n', 'a\r\n.\r\n'],
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

test('bare CRs and bare LFs go out as CRLF, so no next hop can find an end of data in them', () => {
  // The SMTP smuggling variants (2023): each would end the message early at a lenient next hop.
  const cases: Array<[string, string]> = [
    ['a\n.\nMAIL FROM:<x>\n', 'a\r\n..\r\nMAIL FROM:<x>\r\n'],
    ['a\r.\rb', 'a\r\n..\r\nb'],
    ['a\r\n.\nb', 'a\r\n..\r\nb'],
    ['a\n.\r\nb', 'a\r\n..\r\nb'],
    ['a\r.\r\nb', 'a\r\n..\r\nb'],
    ['a\r\r\n', 'a\r\n\r\n'],
    ['a\n\r', 'a\r\n\r\n'],
  ]
  for (const [message, wire] of cases) {
    assert.equal(
      stuffChunks([Buffer.from(message)]).toString(),
      `${wire}${wire.endsWith('\r\n') ? '' : '\r\n'}.\r\n`,
      JSON.stringify(message),
    )
  }
  // A CR at the end of one chunk and a dot at the start of the next.
  assert.equal(
    stuffChunks([Buffer.from('a\r'), Buffer.from('.\r'), Buffer.from('b')]).toString(),
    'a\r\n..\r\nb\r\n.\r\n',
  )
})

const messageBytes = fc
  .array(fc.constantFrom(...Buffer.from('..\r\n\r\nab\n\r')), { maxLength: 200 })
  .map((octets) => Buffer.from(octets))

/** The model: every line end made CRLF, then a dot doubled at the start of every line. */
function expectedWire(message: Buffer): Buffer {
  const crlf = message.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n')
  return Buffer.from(crlf.replace(/(^|\r\n)\./g, '$1..'), 'latin1')
}

test('streamed in any chunks, the result is the model: CRLF line ends, dots stuffed', () => {
  fc.assert(
    fc.property(messageBytes, fc.array(fc.nat(), { maxLength: 8 }), (message, cuts) => {
      const stuffer = new DotStuffer()
      const streamed = Buffer.concat([
        ...splitAt(message, cuts).map((chunk) => stuffer.push(chunk)),
        stuffer.end(),
      ])
      const model = expectedWire(message)
      const ending = model.length === 0 || model.toString('latin1').endsWith('\r\n') ? '' : '\r\n'
      assert.deepEqual(streamed, Buffer.concat([model, Buffer.from(`${ending}.\r\n`)]))
    }),
    { numRuns: 1000 },
  )
})

test("the server's decoder gets the message back with CRLF line ends, however it was chunked", () => {
  fc.assert(
    fc.property(messageBytes, fc.array(fc.nat(), { maxLength: 8 }), (body, cuts) => {
      const message = Buffer.concat([body, Buffer.from('\r\n')])
      const wire = stuffChunks(splitAt(message, cuts))
      const decoder = new DataDecoder(Number.MAX_SAFE_INTEGER)
      assert.deepEqual(decoder.push(wire), Buffer.alloc(0))
      const normalized = message.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n')
      assert.deepEqual(decoder.message(), Buffer.from(normalized, 'latin1'))
      assert.equal(decoder.hasBareLf, false)
    }),
    { numRuns: 1000 },
  )
})
