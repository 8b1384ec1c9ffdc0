import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatReply, isPositive, reply, sanitizeReplyText } from './reply.ts'

test('reply keeps one entry per line and never none', () => {
  assert.deepEqual(reply(250, '2.0.0', 'Ok'), { code: 250, status: '2.0.0', lines: ['Ok'] })
  assert.deepEqual(reply(250, null, ['a', 'b']), { code: 250, status: null, lines: ['a', 'b'] })
  assert.deepEqual(reply(250, '2.0.0', []), { code: 250, status: '2.0.0', lines: [''] })
  assert.deepEqual(reply(250, '2.0.0', ''), { code: 250, status: '2.0.0', lines: [''] })
})

test('formatReply writes one line, with or without an enhanced status code', () => {
  const cases: [ReturnType<typeof reply>, string][] = [
    [reply(250, '2.0.0', 'Ok'), '250 2.0.0 Ok\r\n'],
    [reply(550, '5.1.1', 'No such user'), '550 5.1.1 No such user\r\n'],
    // The greeting and the EHLO/HELO answer carry no enhanced code (RFC 2034 §3).
    [reply(220, null, 'mx.example ESMTP'), '220 mx.example ESMTP\r\n'],
    [
      reply(354, null, 'End data with <CR><LF>.<CR><LF>'),
      '354 End data with <CR><LF>.<CR><LF>\r\n',
    ],
    [reply(250, '2.0.0', ''), '250 2.0.0 \r\n'],
    [reply(250, null, []), '250 \r\n'],
  ]
  for (const [value, expected] of cases) {
    assert.equal(formatReply(value), expected)
  }
})

test('formatReply repeats the code and the enhanced code on every line of a multi-line reply', () => {
  assert.equal(
    formatReply(reply(250, '2.0.0', ['first', 'second', 'last'])),
    '250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 last\r\n',
  )
  assert.equal(
    formatReply(reply(250, null, ['mx.example', 'PIPELINING', 'SIZE 1000', 'SMTPUTF8'])),
    '250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 SMTPUTF8\r\n',
  )
  assert.equal(formatReply(reply(214, '2.0.0', ['', ''])), '214-2.0.0 \r\n214 2.0.0 \r\n')
})

test('formatReply makes text from the peer unable to end a line or add one', () => {
  assert.equal(
    formatReply(reply(501, '5.1.3', 'Bad x\r\n250 2.0.0 fake')),
    '501 5.1.3 Bad x??250 2.0.0 fake\r\n',
  )
  assert.equal(
    formatReply(reply(250, '2.0.0', ['a\nb', 'c\rd'])),
    '250-2.0.0 a?b\r\n250 2.0.0 c?d\r\n',
  )
  const wire = formatReply(reply(250, '2.0.0', ['x\r\ny', '\n', '\r']))
  assert.equal(wire.split('\r\n').length, 4)
  assert.equal(wire.replace(/\r\n/g, '').search(/[\r\n]/), -1)
})

test('sanitizeReplyText replaces C0 controls and DEL, and keeps everything else', () => {
  const cases: [string, string][] = [
    ['plain text', 'plain text'],
    ['a\r\nb', 'a??b'],
    ['\x00\x01\x1f\x7f', '????'],
    ['tab\there', 'tab?here'],
    ['\x1b[31mred', '?[31mred'],
    ['jörg 😀 <a@b>', 'jörg 😀 <a@b>'],
    [' ~!', ' ~!'],
  ]
  for (const [text, expected] of cases) {
    assert.equal(sanitizeReplyText(text), expected, JSON.stringify(text))
  }
})

test('isPositive is true for 2xx and 3xx only', () => {
  const cases: [number, boolean][] = [
    [199, false],
    [200, true],
    [250, true],
    [354, true],
    [399, true],
    [400, false],
    [421, false],
    [550, false],
  ]
  for (const [code, expected] of cases) {
    assert.equal(isPositive(code), expected, String(code))
  }
})

test('formatReply cuts a line that would pass 512 octets, on a character boundary', () => {
  // Found by test/torture/fuzz-smtp.test.ts: parameters of 2,000 octets came back whole.
  const long = formatReply(
    reply(555, '5.5.4', `MAIL parameter ${'X'.repeat(2000)} is not supported`),
  )
  assert.equal(Buffer.byteLength(long), 512)
  assert.match(long, /^555 5\.5\.4 MAIL parameter X+\.\.\.\r\n$/)
  const utf8 = formatReply(reply(250, null, ['first', `Hello ${'\u00e9'.repeat(600)}`]))
  const [first, second, end] = utf8.split('\r\n')
  assert.equal(first, '250-first')
  assert.equal(end, '')
  assert.ok(Buffer.byteLength(`${second}\r\n`) <= 512)
  assert.match(second ?? '', /^250 Hello \u00e9+\.\.\.$/)
  // A line that fits is left alone, up to exactly 512 octets.
  const fits = formatReply(reply(250, '2.0.0', 'y'.repeat(512 - 12)))
  assert.equal(fits, `250 2.0.0 ${'y'.repeat(500)}\r\n`)
})
