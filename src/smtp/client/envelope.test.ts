import assert from 'node:assert/strict'
import { test } from 'node:test'
import { noCapabilities, type SmtpCapabilities } from './capabilities.ts'
import { mailCommand, rcptCommand, type SendEnvelope } from './envelope.ts'

const everything: SmtpCapabilities = {
  ...noCapabilities(),
  esmtp: true,
  size: 1000,
  eightBitMime: true,
  binaryMime: true,
  chunking: true,
  smtputf8: true,
  dsn: true,
}

const envelope: SendEnvelope = {
  sender: 'a@example.org',
  recipients: [],
  body: '8bitmime',
  smtputf8: true,
  envelopeId: 'id+1=x y',
  ret: 'hdrs',
}

test('MAIL carries every parameter the peer announced', () => {
  assert.equal(
    mailCommand(envelope, 123, everything),
    'MAIL FROM:<a@example.org> SIZE=123 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3Dx+20y\r\n',
  )
})

test('MAIL carries none of them to a peer that announced nothing', () => {
  assert.equal(
    mailCommand(envelope, 123, { ...noCapabilities(), esmtp: true }),
    'MAIL FROM:<a@example.org>\r\n',
  )
  assert.equal(mailCommand({ ...envelope, sender: '' }, 1, noCapabilities()), 'MAIL FROM:<>\r\n')
})

test('BODY=BINARYMIME needs both BINARYMIME and CHUNKING (RFC 3030 §3)', () => {
  const binary = { ...envelope, body: 'binarymime' as const, smtputf8: false, envelopeId: null }
  const plain = { ...noCapabilities(), esmtp: true, dsn: false }
  assert.equal(
    mailCommand(binary, 5, { ...plain, binaryMime: true, chunking: true }),
    'MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n',
  )
  assert.equal(
    mailCommand(binary, 5, { ...plain, binaryMime: true }),
    'MAIL FROM:<a@example.org>\r\n',
  )
  assert.equal(
    mailCommand(binary, 5, { ...plain, eightBitMime: true }),
    'MAIL FROM:<a@example.org>\r\n',
  )
})

test('RCPT carries NOTIFY and ORCPT only with DSN', () => {
  const recipient = {
    address: 'b@example.org',
    notify: ['failure' as const, 'delay' as const],
    originalRecipient: 'rfc822;B+tag@example.org',
  }
  assert.equal(
    rcptCommand(recipient, everything),
    'RCPT TO:<b@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;B+2Btag@example.org\r\n',
  )
  assert.equal(rcptCommand({ ...recipient, notify: [] }, everything).includes('NOTIFY=NEVER'), true)
  assert.equal(
    rcptCommand({ address: 'b@example.org', notify: null, originalRecipient: null }, everything),
    'RCPT TO:<b@example.org>\r\n',
  )
  assert.equal(rcptCommand(recipient, { ...everything, dsn: false }), 'RCPT TO:<b@example.org>\r\n')
})

test('an address that could break the command line is refused before anything is sent', () => {
  for (const address of ['a@b\r\nRSET', 'a@b> SIZE=1', 'a\0@b']) {
    assert.throws(() => rcptCommand({ address }, everything), TypeError)
    assert.throws(() => mailCommand({ ...envelope, sender: address }, 1, everything), TypeError)
  }
})
