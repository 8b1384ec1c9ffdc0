import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  decodeBase64,
  decodeQuotedPrintable,
  decodeTransferEncoding,
  encodeBase64,
  encodeQuotedPrintable,
  transferEncodingToken,
} from './index.ts'

const decode = (body: string, encoding: string | null | undefined) =>
  decodeTransferEncoding(Buffer.from(body, 'latin1'), encoding).toString('latin1')

test('decodeTransferEncoding decodes base64 and quoted-printable', () => {
  assert.equal(decode('Zm9vYmFy', 'base64'), 'foobar')
  assert.equal(decode('caf=E9=\r\n!', 'quoted-printable'), 'café!')
})

test('decodeTransferEncoding reads the mechanism in any case, trimmed (RFC 2045 §6.1)', () => {
  assert.equal(decode('Zm9v', ' BASE64 '), 'foo')
  assert.equal(decode('Zm9v', 'Base64'), 'foo')
  assert.equal(decode('=3D', '\tQuoted-Printable\r\n'), '=')
})

test('decodeTransferEncoding sees the mechanism past quotes, comments and stray parameters', () => {
  assert.equal(decode('Zm9v', '"base64"'), 'foo')
  assert.equal(decode('Zm9v', 'base64 (MIME)'), 'foo')
  assert.equal(decode('Zm9v', 'base64(MIME)'), 'foo')
  assert.equal(decode('=3D', 'quoted-printable; x=y'), '=')
})

test('decodeTransferEncoding returns identity, unknown and missing encodings as they are', () => {
  const body = 'Zm9v =3D\r\nbegin 644 x\r\n'
  for (const encoding of ['7bit', '8bit', 'binary', 'x-uuencode', 'base-64', '', null, undefined]) {
    assert.equal(decode(body, encoding), body, String(encoding))
  }
})

test('decodeTransferEncoding returns a view of an identity body, not a copy', () => {
  const body = Buffer.from('unchanged')
  const decoded = decodeTransferEncoding(body, '8bit')
  assert.equal(decoded.buffer, body.buffer)
  assert.equal(decoded.byteOffset, body.byteOffset)
})

test('the transfer-encoding entry re-exports the four codecs', () => {
  assert.equal(decodeBase64(Buffer.from(encodeBase64(Buffer.from('x')))).toString(), 'x')
  const qp = encodeQuotedPrintable(Buffer.from('='))
  assert.equal(decodeQuotedPrintable(Buffer.from(qp)).toString(), '=')
})

test('transferEncodingToken skips nested comments and reports the token as written', () => {
  assert.equal(transferEncodingToken('(a(b)c) Base64'), 'Base64')
  assert.equal(transferEncodingToken('  "quoted-printable" (x)'), 'quoted-printable')
  assert.equal(transferEncodingToken('(unterminated base64'), '')
})
