import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mailboxMessages, withoutTrace } from '../../../test/support/mailbox.ts'
import { ALICE, BOB, startSmtpServer } from '../../../test/support/smtp.ts'
import { SmtpClient } from './client.ts'
import type { MessageSource } from './envelope.ts'

// Against Postern's own SMTP server: the client and the server must agree on the wire.

function source(message: Buffer, chunkSize: number): MessageSource {
  return {
    size: message.length,
    async *chunks() {
      for (let at = 0; at < message.length; at += chunkSize) {
        yield message.subarray(at, at + chunkSize)
      }
    },
  }
}

test('a message to bob over the MX port arrives byte for byte', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const message = Buffer.from(
    [
      'From: Someone <someone@remote.test>',
      'To: bob@example.test',
      'Subject: from the client',
      'Message-ID: <client-1@remote.test>',
      'Date: Mon, 1 Jan 2024 00:00:00 +0000',
      '',
      '.a line that starts with a dot',
      '.',
      'the end',
      '',
    ].join('\r\n'),
  )
  const client = await SmtpClient.connect({ host: '127.0.0.1', port: ports.smtp })
  assert.equal(client.greeting.code, 220)
  const capabilities = await client.hello('client.remote.test')
  assert.equal(capabilities.pipelining, true)
  assert.equal(capabilities.startTls, true)
  const result = await client.send(
    {
      sender: 'someone@remote.test',
      recipients: [{ address: BOB.address }, { address: 'nobody@example.test' }],
    },
    source(message, 7),
  )
  assert.equal(result.mail.code, 250)
  assert.deepEqual(
    result.recipients.map((reply) => [reply.code, reply.status]),
    [
      [250, '2.1.5'],
      [550, '5.1.1'],
    ],
  )
  assert.equal(result.data?.code, 250)
  assert.equal(result.data?.status, '2.0.0')
  assert.equal(client.isUsable, true)
  await client.quit()

  const stored = await mailboxMessages(store, BOB.address)
  assert.equal(stored.length, 1)
  assert.deepEqual(withoutTrace(stored[0] as Buffer).toString(), message.toString())
})

test('submission: STARTTLS, AUTH PLAIN, then a message from alice to bob', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: ports.submission,
    tls: { rejectUnauthorized: false },
  })
  const before = await client.hello('laptop.example.test')
  assert.equal(before.startTls, true)
  assert.deepEqual(before.auth, [])
  await client.startTls()
  assert.equal(client.isSecure, true)
  const after = await client.hello('laptop.example.test')
  assert.equal(after.startTls, false)
  assert.ok(after.auth.includes('PLAIN'), after.auth.join(' '))
  await client.authenticate(ALICE.address, ALICE.password)
  const message = Buffer.from(
    `From: Alice <${ALICE.address}>\r\nTo: ${BOB.address}\r\nSubject: submitted\r\n\r\nHi Bob\r\n`,
  )
  const result = await client.send(
    { sender: ALICE.address, recipients: [{ address: BOB.address }] },
    source(message, 1024),
  )
  assert.equal(result.data?.code, 250, JSON.stringify(result))
  await client.quit()
  const stored = await mailboxMessages(store, BOB.address)
  assert.equal(stored.length, 1)
  // Submission adds Date and Message-ID in front (RFC 6409 §8); the rest is ours, unchanged.
  const received = withoutTrace(stored[0] as Buffer).toString()
  assert.ok(received.endsWith(message.toString()), received)
})

test('a wrong password is refused with the reply', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: ports.submission,
    tls: { rejectUnauthorized: false },
  })
  await client.hello('laptop.example.test')
  await client.startTls()
  await client.hello('laptop.example.test')
  await assert.rejects(client.authenticate(ALICE.address, 'wrong'), (error) => {
    assert.equal((error as { kind?: string }).kind, 'reply')
    assert.equal((error as { reply?: { code: number } }).reply?.code, 535)
    return true
  })
  await client.quit()
})
