import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseMessage } from './parse-message.ts'
import { binarySection } from './sections.ts'

const MESSAGE = Buffer.from(
  [
    'Content-Type: multipart/mixed; boundary=x',
    '',
    '--x',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9 au lait',
    '--x',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from([0, 1, 2, 255]).toString('base64'),
    '--x',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: x-uuencode',
    '',
    'begin 644 x',
    '--x--',
    '',
  ].join('\r\n'),
)

test('BINARY undoes quoted-printable and base64 (RFC 3516 §4.2)', () => {
  const message = parseMessage(MESSAGE)
  const text = binarySection(message, [1])
  assert.ok(text.ok)
  assert.equal(text.content.toString('utf8'), 'café au lait')
  const bytes = binarySection(message, [2])
  assert.ok(bytes.ok)
  assert.deepEqual([...bytes.content], [0, 1, 2, 255])
})

test('BINARY reports an unknown transfer encoding and a missing part; a multipart is as is', () => {
  const message = parseMessage(MESSAGE)
  assert.deepEqual(binarySection(message, [3]), { ok: false, reason: 'unknown-cte' })
  assert.deepEqual(binarySection(message, [4]), { ok: false, reason: 'no-such-part' })
  const nested = parseMessage(
    Buffer.from(
      'Content-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\nContent-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\n\r\na\r\n--z--\r\n--y--\r\n',
    ),
  )
  // A multipart's encoding is 7bit, 8bit or binary (RFC 2045 §6.4): nothing to undo.
  assert.deepEqual(binarySection(nested, [1]), {
    ok: true,
    content: Buffer.from('--z\r\n\r\na\r\n--z--\r\n'),
  })
  assert.ok(binarySection(nested, [1, 1]).ok)
})

test('BINARY[] is the whole message, unchanged', () => {
  const message = parseMessage(MESSAGE)
  const whole = binarySection(message, [])
  assert.ok(whole.ok)
  assert.equal(whole.content, MESSAGE)
})
