import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { MessageSource, SendEnvelope } from './envelope.ts'
import {
  envelope,
  MESSAGE,
  readData,
  ready,
  messageSource as source,
  startFakeServer,
} from './fake-server.ts'

// What goes on the wire for the message and its parameters: BDAT, DATA transparency,
// back-pressure, and the MAIL/RCPT parameters of each extension.

test('with CHUNKING the message goes as one BDAT LAST, octet for octet', async (t) => {
  const body = Buffer.concat([
    Buffer.from('Subject: binary\r\n\r\n.a line starting with a dot\r\n.\r\n'),
    Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]),
    Buffer.from('no final line end'),
  ])
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING', 'CHUNKING', 'BINARYMIME', '8BITMIME'])
    await session.expect('MAIL FROM:<a@example.org> BODY=BINARYMIME')
    await session.expect('RCPT TO:<b@example.test>')
    session.write('250 Ok\r\n250 Ok\r\n')
    await session.expect(`BDAT ${body.length} LAST`)
    assert.deepEqual(await session.readBytes(body.length), body)
    session.write('250 2.0.0 Message accepted\r\n')
    await session.expect('QUIT')
    session.write('221 Bye\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(
    { ...envelope('b@example.test'), body: 'binarymime' },
    source(body.subarray(0, 25), body.subarray(25)),
  )
  assert.equal(result.data?.code, 250)
  await client.quit()
  await server.done()
})

test('DATA is dot-stuffed across chunk boundaries, byte for byte', async (t) => {
  // Chunks that end right before a dot at the start of a line, and one that ends mid-line.
  const chunks = ['Subject: dots\r\n\r\n', '.one\r\n', '..two\r\nmid', '.line\r\n', '.\r\n']
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING'])
    await session.readUntil('DATA\r\n')
    session.write('250 Ok\r\n250 Ok\r\n354 Go ahead\r\n')
    const wire = await session.readUntil('\r\n.\r\n')
    assert.equal(wire.toString(), 'Subject: dots\r\n\r\n..one\r\n...two\r\nmid.line\r\n..\r\n.\r\n')
    session.write('250 Ok\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test'), source(...chunks))
  assert.equal(result.data?.code, 250)
  await server.done()
  client.close()
})

test('a message without a final CRLF gets one before the dot', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet([])
    for (const answer of ['250 Ok', '250 Ok', '354 Go']) {
      await session.readLine()
      session.write(`${answer}\r\n`)
    }
    assert.equal(
      (await session.readUntil('\r\n.\r\n')).toString(),
      'Subject: x\r\n\r\nno end\r\n.\r\n',
    )
    session.write('250 Ok\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test'), source('Subject: x\r\n\r\nno end'))
  assert.equal(result.data?.code, 250)
  await server.done()
  client.close()
})

test('DSN parameters only when DSN is announced', async (t) => {
  const dsnEnvelope: SendEnvelope = {
    sender: 'a@example.org',
    recipients: [
      {
        address: 'b@example.test',
        notify: ['success', 'failure'],
        originalRecipient: 'rfc822;B@example.test',
      },
    ],
    envelopeId: 'QQ314159',
    ret: 'hdrs',
  }
  const lines: string[] = []
  const server = await startFakeServer(t, async (session) => {
    const isDsn = session === server.sessions[0]
    await session.greet(isDsn ? ['DSN'] : [])
    for (const answer of ['250 Ok', '250 Ok', '354 Go']) {
      lines.push(await session.readLine())
      session.write(`${answer}\r\n`)
    }
    await readData(session)
    session.write('250 Ok\r\n')
  })
  for (let i = 0; i < 2; i += 1) {
    const client = await ready(server.port)
    assert.equal((await client.send(dsnEnvelope, source(MESSAGE))).data?.code, 250)
    client.close()
  }
  assert.deepEqual(lines, [
    'MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ314159',
    'RCPT TO:<b@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B@example.test',
    'DATA',
    'MAIL FROM:<a@example.org>',
    'RCPT TO:<b@example.test>',
    'DATA',
  ])
})

test('SMTPUTF8 and BODY=8BITMIME only when announced', async (t) => {
  const utf8Envelope: SendEnvelope = {
    sender: 'jörg@example.org',
    recipients: [{ address: 'b@example.test' }],
    body: '8bitmime',
    smtputf8: true,
  }
  const mails: string[] = []
  const server = await startFakeServer(t, async (session) => {
    const index = server.sessions.indexOf(session)
    await session.greet([['8BITMIME', 'SMTPUTF8'], ['8BITMIME'], []][index] ?? [])
    for (const answer of ['250 Ok', '250 Ok', '354 Go']) {
      const line = await session.readLine()
      if (line.startsWith('MAIL')) mails.push(line)
      session.write(`${answer}\r\n`)
    }
    await readData(session)
    session.write('250 Ok\r\n')
  })
  for (let i = 0; i < 3; i += 1) {
    const client = await ready(server.port)
    await client.send(utf8Envelope, source('Subject: café\r\n\r\nx\r\n'))
    client.close()
  }
  assert.deepEqual(mails, [
    'MAIL FROM:<jörg@example.org> BODY=8BITMIME SMTPUTF8',
    'MAIL FROM:<jörg@example.org> BODY=8BITMIME',
    'MAIL FROM:<jörg@example.org>',
  ])
})

test('a large message waits for the peer to read (back-pressure) and arrives intact', async (t) => {
  const line = `${'x'.repeat(78)}\r\n`
  const chunk = Buffer.from(line.repeat(1000))
  const count = 64 // about 5 MB, far more than the socket buffers hold
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING'])
    await session.readUntil('DATA\r\n')
    session.socket.pause()
    session.write('250 Ok\r\n250 Ok\r\n354 Go\r\n')
    await sleep(200)
    session.socket.resume()
    const wire = await session.readUntil('\r\n.\r\n')
    assert.equal(wire.length, chunk.length * count + 3)
    session.write('250 Ok\r\n')
  })
  const client = await ready(server.port)
  const message: MessageSource = {
    size: chunk.length * count,
    async *chunks() {
      for (let i = 0; i < count; i += 1) yield chunk
    },
  }
  assert.equal((await client.send(envelope('b@example.test'), message)).data?.code, 250)
  await server.done()
  client.close()
})

test('a message source that fails mid-DATA drops the connection without ending the message', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING'])
    await session.readUntil('DATA\r\n')
    session.write('250 Ok\r\n250 Ok\r\n354 Go\r\n')
    await session.closed()
    assert.ok(!session.pending.toString().includes('\r\n.\r\n'), 'the message was ended')
  })
  const client = await ready(server.port)
  const failing: MessageSource = {
    size: 100,
    async *chunks() {
      yield Buffer.from('Subject: x\r\n\r\npartial\r\n')
      throw new Error('disk on fire')
    },
  }
  await assert.rejects(client.send(envelope('b@example.test'), failing), /disk on fire/)
  assert.equal(client.isUsable, false)
  await server.done()
})
