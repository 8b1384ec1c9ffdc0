import assert from 'node:assert/strict'
import { test } from 'node:test'
import { reply } from '../proto/index.ts'
import { noCapabilities, parseCapabilities } from './capabilities.ts'

test('every extension the client uses is read from the EHLO lines, case-insensitively', () => {
  const capabilities = parseCapabilities(
    reply(250, null, [
      'mx.example.org Hello client.example.net [192.0.2.1]',
      'pipelining',
      'SIZE 35882577',
      '8BITMIME',
      'BINARYMIME',
      'SMTPUTF8',
      'CHUNKING',
      'STARTTLS',
      'DSN',
      'ENHANCEDSTATUSCODES',
      'REQUIRETLS',
      'AUTH PLAIN login SCRAM-SHA-256',
      'AUTH=PLAIN XOAUTH2',
      'X-UNKNOWN whatever',
    ]),
  )
  assert.deepEqual(capabilities, {
    esmtp: true,
    pipelining: true,
    size: 35882577,
    eightBitMime: true,
    binaryMime: true,
    smtputf8: true,
    chunking: true,
    startTls: true,
    dsn: true,
    enhancedStatusCodes: true,
    requireTls: true,
    auth: ['PLAIN', 'LOGIN', 'SCRAM-SHA-256', 'XOAUTH2'],
  })
})

test('the greeting line is not a keyword, and an EHLO with no extensions offers none', () => {
  const capabilities = parseCapabilities(reply(250, null, 'PIPELINING.example.org'))
  assert.deepEqual(capabilities, { ...noCapabilities(), esmtp: true })
})

test('SIZE without a number, or with nonsense, announces no fixed limit', () => {
  for (const line of ['SIZE', 'SIZE 0', 'SIZE lots', 'SIZE -5']) {
    assert.equal(parseCapabilities(reply(250, null, ['mx', line])).size, 0, line)
  }
  assert.equal(parseCapabilities(reply(250, null, ['mx', 'PIPELINING'])).size, null)
})
