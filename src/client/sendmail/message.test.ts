import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  cutAtDotLine,
  MessageInputError,
  type PrepareOptions,
  parseRecipientArgs,
  prepareMessage,
  toCrlf,
} from './message.ts'

const OPTIONS: PrepareOptions = {
  sender: 'ann@example.test',
  fullName: null,
  isFromHeaders: false,
  qualifyDomain: 'example.test',
  messageIdDomain: 'example.test',
  now: new Date('2026-11-26T12:00:00Z'),
}

const COMPLETE =
  'From: Ann <ann@example.test>\nTo: bob@example.test\nDate: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <1@example.test>\nSubject: hi\n\nbody line\n.\n..dots\n'

test('a complete message only gets CRLF line ends', () => {
  const { message, added } = prepareMessage(Buffer.from(COMPLETE), OPTIONS)
  assert.deepEqual(added, [])
  assert.equal(message.toString(), COMPLETE.replaceAll('\n', '\r\n'))
})

test('Date, Message-ID and From are added at the end of the header when missing', () => {
  const { message, added } = prepareMessage(Buffer.from('Subject: x\n\nbody\n'), {
    ...OPTIONS,
    fullName: 'Ann Example',
  })
  assert.deepEqual(added, ['From', 'Date', 'Message-ID'])
  const text = message.toString()
  assert.match(
    text,
    /^Subject: x\r\nFrom: Ann Example <ann@example\.test>\r\nDate: Thu, 26 Nov 2026 \d\d:00:00 [+-]\d{4}\r\nMessage-ID: <[0-9a-z]{25}@example\.test>\r\n\r\nbody\r\n$/,
  )
})

test('input without a header gets one, and the body is left as it was', () => {
  const { message } = prepareMessage(Buffer.from('just text: not a header line\n'), OPTIONS)
  const text = message.toString()
  const [head = '', body] = text.split('\r\n\r\n')
  assert.match(head, /^From: ann@example\.test\r\nDate: .*\r\nMessage-ID: <.*>$/)
  // "just text: not..." has a space in its name, so it is not a header field.
  assert.equal(body, 'just text: not a header line\r\n')
  const header = prepareMessage(Buffer.from('Subject: only a header'), OPTIONS).message.toString()
  assert.match(header, /^Subject: only a header\r\nFrom: .*\r\nDate: .*\r\nMessage-ID: .*\r\n\r\n$/)
})

test('-t reads To, Cc and Bcc, removes Bcc (folded too), and keeps everything else', () => {
  const input =
    'To: Bob <bob@example.test>, carol@example.test\nCc: team: dan@example.test, erin@other.test;\nBcc: secret@example.test,\n hidden@example.test\nSubject: s\nDate: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <2@example.test>\nFrom: ann@example.test\n\nBcc: this is body text\n'
  const { message, headerRecipients } = prepareMessage(Buffer.from(input), {
    ...OPTIONS,
    isFromHeaders: true,
  })
  assert.deepEqual(headerRecipients, [
    'bob@example.test',
    'carol@example.test',
    'dan@example.test',
    'erin@other.test',
    'secret@example.test',
    'hidden@example.test',
  ])
  const text = message.toString()
  assert.doesNotMatch(text.split('\r\n\r\n')[0] ?? '', /Bcc|secret|hidden/)
  assert.match(text, /\r\n\r\nBcc: this is body text\r\n$/)
})

test('-t with Resent- fields uses only those; local parts are qualified', () => {
  const input =
    'To: old@example.test\nResent-To: new\nResent-Bcc: other@example.test\nFrom: a@example.test\nDate: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <3@x.test>\n\nb\n'
  const { headerRecipients, message } = prepareMessage(Buffer.from(input), {
    ...OPTIONS,
    isFromHeaders: true,
  })
  assert.deepEqual(headerRecipients, ['new@example.test', 'other@example.test'])
  assert.doesNotMatch(message.toString(), /Resent-Bcc/)
})

test('without -t the header is not touched, Bcc included', () => {
  const input =
    'Bcc: x@example.test\nFrom: a@example.test\nDate: Thu, 26 Nov 2026 12:00:00 +0000\nMessage-ID: <4@x.test>\n\nb\n'
  assert.equal(
    prepareMessage(Buffer.from(input), OPTIONS).message.toString(),
    input.replaceAll('\n', '\r\n'),
  )
})

test('the dot line ends input unless -i; CRLF input stays; 8-bit octets pass', () => {
  assert.equal(cutAtDotLine(Buffer.from('a\n.\nb\n'), false).toString(), 'a\n')
  assert.equal(cutAtDotLine(Buffer.from('a\r\n.\r\nb\r\n'), false).toString(), 'a\r\n')
  assert.equal(cutAtDotLine(Buffer.from('a\n.\nb\n'), true).toString(), 'a\n.\nb\n')
  assert.equal(cutAtDotLine(Buffer.from('a\n..\n.x\n'), false).toString(), 'a\n..\n.x\n')
  assert.equal(toCrlf(Buffer.from('a\r\nb\nc')).toString(), 'a\r\nb\r\nc\r\n')
  const latin = Buffer.from([0x53, 0x3a, 0x20, 0xe9, 0x0a, 0x0a, 0xff, 0x0a])
  assert.deepEqual(
    toCrlf(latin),
    Buffer.from([0x53, 0x3a, 0x20, 0xe9, 0x0d, 0x0a, 0x0d, 0x0a, 0xff, 0x0d, 0x0a]),
  )
})

test('command-line recipients: comma lists, qualification, duplicates, garbage refused', () => {
  assert.deepEqual(
    parseRecipientArgs(['a@x.test, b@x.test', 'root', 'Bob <a@x.test>'], 'example.test'),
    ['a@x.test', 'b@x.test', 'root@example.test'],
  )
  for (const bad of ['a@', '@x.test', 'just words', 'a@b@c.test']) {
    assert.throws(() => parseRecipientArgs([bad], 'example.test'), MessageInputError, bad)
  }
})
