import assert from 'node:assert/strict'
import { test } from 'node:test'
import { crlfSize } from './crlf-size.ts'

test('crlfSize counts bare LFs as CRLF and a missing final line end', () => {
  const cases: Array<[string, number]> = [
    ['', 0],
    ['a\r\n', 3],
    ['a\n', 3],
    ['a', 3],
    ['a\r', 4],
    ['\n', 2],
    ['a\nb\r\nc\n', 9],
    ['a\r\r\n', 4],
    ['Subject: x\r\n\r\nbody', 20],
  ]
  for (const [text, size] of cases)
    assert.equal(crlfSize(Buffer.from(text, 'latin1')), size, JSON.stringify(text))
})
