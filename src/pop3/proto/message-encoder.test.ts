import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MessageEncoder } from './message-encoder.ts'

function encode(text: string, bodyLines: number | null = null, chunkSize = 1 << 20): string {
  const encoder = new MessageEncoder({ bodyLines })
  const bytes = Buffer.from(text, 'latin1')
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length && !encoder.isDone; at += chunkSize) {
    out.push(encoder.push(bytes.subarray(at, at + chunkSize)))
  }
  out.push(encoder.end())
  return Buffer.concat(out).toString('latin1')
}

test('RETR: CRLF kept, bare LF completed, dots doubled at line starts, terminator added', () => {
  assert.equal(encode('a\r\nb\r\n'), 'a\r\nb\r\n.\r\n')
  assert.equal(encode('a\nb\n'), 'a\r\nb\r\n.\r\n')
  assert.equal(encode('.a\r\n..b\r\nc.\r\n.\r\n'), '..a\r\n...b\r\nc.\r\n..\r\n.\r\n')
  assert.equal(encode('no final line end'), 'no final line end\r\n.\r\n')
  assert.equal(encode(''), '.\r\n')
  assert.equal(encode('.'), '..\r\n.\r\n')
  assert.equal(encode('a\rb\r\n'), 'a\rb\r\n.\r\n')
  assert.equal(encode('ends in CR\r'), 'ends in CR\r\r\n.\r\n')
})

test('RETR: the same output whatever the chunk boundaries', () => {
  const text = 'H: v\r\n.dot\n\r\n.\r\nbody\r\n.\nlast'
  const whole = encode(text)
  for (let size = 1; size <= text.length; size += 1) assert.equal(encode(text, null, size), whole)
})

test('a chunk with nothing to change goes out as the same Buffer', () => {
  const encoder = new MessageEncoder()
  const chunk = Buffer.from('Subject: x\r\n\r\nplain body\r\n')
  assert.equal(encoder.push(chunk), chunk)
})

test('TOP: the header, the empty line, then n body lines', () => {
  const message = 'A: 1\r\nB: 2\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n'
  assert.equal(encode(message, 0), 'A: 1\r\nB: 2\r\n\r\n.\r\n')
  assert.equal(encode(message, 2), 'A: 1\r\nB: 2\r\n\r\nline 1\r\n..line 2\r\n.\r\n')
  assert.equal(encode(message, 99), `${message.replace('.line', '..line')}.\r\n`)
  // A header without the empty line is all header; bare LFs count as line ends here too.
  assert.equal(encode('A: 1\r\nB: 2', 0), 'A: 1\r\nB: 2\r\n.\r\n')
  assert.equal(encode('A: 1\n\nx\ny\n', 1), 'A: 1\r\n\r\nx\r\n.\r\n')
  for (let size = 1; size < message.length; size += 1) {
    assert.equal(encode(message, 2, size), 'A: 1\r\nB: 2\r\n\r\nline 1\r\n..line 2\r\n.\r\n')
  }
})
