import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeBase64, encodeBase64 } from './base64.ts'

const decode = (text: string) => decodeBase64(Buffer.from(text, 'latin1')).toString('latin1')

test('decodeBase64 decodes every padding case', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['Zg==', 'f'],
    ['Zm8=', 'fo'],
    ['Zm9v', 'foo'],
    ['Zm9vYg==', 'foob'],
    ['Zm9vYmE=', 'fooba'],
    ['Zm9vYmFy', 'foobar'],
  ]
  for (const [encoded, decoded] of cases) assert.equal(decode(encoded), decoded, encoded)
})

test('decodeBase64 ignores line breaks and whitespace anywhere (RFC 2045 §6.8)', () => {
  assert.equal(decode('Zm9v\r\nYmFy\r\n'), 'foobar')
  assert.equal(decode('Zm\r\n9v Ym\tFy'), 'foobar')
  assert.equal(decode('  Zm9vYmFy  \n\n'), 'foobar')
  assert.equal(decode('Z\nm\n9\nv'), 'foo')
})

test('decodeBase64 accepts missing and extra padding', () => {
  assert.equal(decode('Zg'), 'f')
  assert.equal(decode('Zm8'), 'fo')
  assert.equal(decode('Zg===='), 'f')
  assert.equal(decode('Zm8=='), 'fo')
})

test('decodeBase64 skips characters outside the alphabet, base64url ones included', () => {
  assert.equal(decode('Zm9v!YmFy'), 'foobar')
  assert.equal(decode('Zm9v*Ym\u00ffFy'), 'foobar')
  assert.equal(decode('Zm9v-YmFy_'), 'foobar')
  assert.equal(decode('--Zm9vYmFy--'), 'foobar')
})

test('decodeBase64 carries on after padding, as pieces encoded one by one need', () => {
  assert.equal(decode('Zg==Zm8=Zm9v'), 'ffofoo')
  assert.equal(decode('Zm8=\r\nZm8=\r\n'), 'fofo')
  assert.equal(decode('Zm9v=YmFy'), 'foobar')
})

test('decodeBase64 drops a group cut down to one character', () => {
  assert.equal(decode('Zm9vY'), 'foo')
  assert.equal(decode('Zm9vY=Zm9v'), 'foofoo')
})

test('decodeBase64 decodes only the view it is given', () => {
  const backing = Buffer.from('!!Zm9v!!', 'latin1')
  assert.equal(decodeBase64(backing.subarray(2, 6)).toString(), 'foo')
  assert.equal(
    decodeBase64(new Uint8Array(backing.buffer, backing.byteOffset + 2, 4)).toString(),
    'foo',
  )
})

test('decodeBase64 finishes on a megabyte of hostile input', () => {
  assert.equal(decode('=a'.repeat(500_000)).length, 0)
  assert.equal(decode('-'.repeat(1_000_000)).length, 0)
  assert.equal(decode('='.repeat(1_000_000)).length, 0)
})

test('encodeBase64 writes 76-character lines joined by CRLF, with none after the last', () => {
  const encoded = encodeBase64(Buffer.alloc(100, 0xff))
  const lines = encoded.split('\r\n')
  assert.deepEqual(
    lines.map((line) => line.length),
    [76, 60],
  )
  assert.ok(!encoded.endsWith('\r\n'))
  assert.equal(encodeBase64(Buffer.alloc(57)), 'A'.repeat(76))
})

test('encodeBase64 takes a line length, or Infinity for one line', () => {
  assert.equal(encodeBase64(Buffer.from('foobar'), 4), 'Zm9v\r\nYmFy')
  assert.equal(encodeBase64(Buffer.alloc(300), Infinity), 'A'.repeat(400))
  assert.equal(encodeBase64(Buffer.from('foobar'), 1), 'Zm9v\r\nYmFy')
})

test('encodeBase64 of nothing is the empty string', () => {
  assert.equal(encodeBase64(new Uint8Array()), '')
})

test('encodeBase64 encodes only the view it is given', () => {
  const backing = Buffer.from('xxfooxx')
  assert.equal(encodeBase64(backing.subarray(2, 5)), 'Zm9v')
})
