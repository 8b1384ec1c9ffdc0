import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { ReplyReader, SmtpReplyError } from './reply-reader.ts'

/** A reader over `parts` as consecutive chunks of one stream. */
function readerOf(...parts: Array<string | Buffer>): ReplyReader {
  return new ReplyReader(Readable.from(parts.map((part) => Buffer.from(part))))
}

async function readAll(reader: ReplyReader) {
  const replies = []
  for (let next = await reader.read(); next !== null; next = await reader.read()) replies.push(next)
  return replies
}

test('a single-line reply', async () => {
  const reader = readerOf('220 mx.example.org ESMTP ready\r\n')
  assert.deepEqual(await reader.read(), {
    code: 220,
    status: null,
    lines: ['mx.example.org ESMTP ready'],
  })
  assert.equal(await reader.read(), null)
})

test('a multi-line reply is one reply, whatever the chunking', async () => {
  const wire = '250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n'
  const expected = {
    code: 250,
    status: null,
    lines: ['mx.example.org Hello', 'PIPELINING', 'SIZE 1000', '8BITMIME'],
  }
  for (let split = 1; split < wire.length; split += 1) {
    const reader = readerOf(wire.slice(0, split), wire.slice(split), '221 bye\r\n')
    assert.deepEqual(await reader.read(), expected, `split at ${split}`)
    assert.deepEqual(await reader.read(), { code: 221, status: null, lines: ['bye'] })
  }
})

test('bare LF ends a line too', async () => {
  assert.deepEqual(await readAll(readerOf('250-a\n250 b\n354 go\r\n')), [
    { code: 250, status: null, lines: ['a', 'b'] },
    { code: 354, status: null, lines: ['go'] },
  ])
})

test('the text is optional, and "250-" continues with empty text', async () => {
  assert.deepEqual(await readAll(readerOf('250\r\n250-\r\n250 \r\n')), [
    { code: 250, status: null, lines: [''] },
    { code: 250, status: null, lines: ['', ''] },
  ])
})

test('an enhanced status code is parsed and stripped from each line (RFC 2034)', async () => {
  const replies = await readAll(
    readerOf(
      '550-5.1.1 <x@example.org>: no such user\r\n550 5.1.1 see the postmaster\r\n',
      '250 2.0.0 Ok: queued as 12345\r\n',
      '451 4.7.1\r\n',
      '550-5.7.1 first\r\n550 only the first line carries it\r\n',
    ),
  )
  assert.deepEqual(replies, [
    {
      code: 550,
      status: '5.1.1',
      lines: ['<x@example.org>: no such user', 'see the postmaster'],
    },
    { code: 250, status: '2.0.0', lines: ['Ok: queued as 12345'] },
    { code: 451, status: '4.7.1', lines: [''] },
    { code: 550, status: '5.7.1', lines: ['first', 'only the first line carries it'] },
  ])
})

test('text that only looks like a status code stays text', async () => {
  const replies = await readAll(
    readerOf(
      '250 5.1.1 class disagrees with the code\r\n',
      '250 2.0.0ok no space after it\r\n',
      '220 2.0 too short\r\n',
      '250 2.1234.5 subject too long\r\n',
      '354 2.0.0 3xx replies carry none (RFC 2034 §4)\r\n',
    ),
  )
  for (const reply of replies) assert.equal(reply.status, null, reply.lines[0])
  assert.equal(replies[0]?.lines[0], '5.1.1 class disagrees with the code')
})

test('UTF-8 text is decoded (RFC 6531 servers may send it)', async () => {
  const [reply] = await readAll(readerOf('550 5.1.1 Boîte inconnue\r\n'))
  assert.deepEqual(reply?.lines, ['Boîte inconnue'])
})

test('malformed lines are protocol errors', async () => {
  const cases = [
    'hello\r\n',
    '25\r\n',
    '2x0 no\r\n',
    '250x no separator\r\n',
    '250\tTab\r\n',
    '099 out of range\r\n',
    '600 out of range\r\n',
    '250-first\r\n251 second code\r\n',
    '\r\n',
  ]
  for (const wire of cases) {
    await assert.rejects(readerOf(wire).read(), SmtpReplyError, JSON.stringify(wire))
  }
})

test('a line over 4096 octets is a protocol error, one within it is not', async () => {
  const fits = `250 ${'a'.repeat(4096 - 6)}\r\n`
  assert.equal((await readerOf(fits).read())?.lines[0]?.length, 4090)
  const tooLong = `250 ${'a'.repeat(4096 - 5)}\r\n`
  await assert.rejects(readerOf(tooLong).read(), SmtpReplyError)
  // Also when the line never ends: the bound holds without waiting for an LF.
  await assert.rejects(readerOf(`250 ${'a'.repeat(10_000)}`).read(), SmtpReplyError)
})

test('a reply of 200 lines is read, one of 201 is a protocol error', async () => {
  const reply = (count: number) => `${'250-x\r\n'.repeat(count - 1)}250 x\r\n`
  assert.equal((await readerOf(reply(200)).read())?.lines.length, 200)
  await assert.rejects(readerOf(reply(201)).read(), SmtpReplyError)
})

test('the end of the stream mid-reply gives null, not a partial reply', async () => {
  assert.equal(await readerOf('250-first\r\n250-second\r\n').read(), null)
  assert.equal(await readerOf('250 no line end').read(), null)
  assert.equal(await readerOf().read(), null)
})
