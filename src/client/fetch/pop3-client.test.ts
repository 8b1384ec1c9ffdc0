// Pop3Client against a real Postern POP3 server on loopback: implicit TLS and STLS with the
// certificate verified, logins, and downloads compared byte for byte with what was delivered.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { ALICE, type Pop3TestServer, startPop3Server } from '../../../test/support/pop3.ts'
import { MailClientError, type Pop3ConnectOptions } from './index.ts'
import { Pop3Client } from './pop3-client.ts'

/** The messages as delivered, one character per octet (latin1). */
const MESSAGES = [
  'From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: one\r\n\r\nHello Alice\r\n',
  'Subject: dots\r\n\r\n.starts with a dot\r\n.\r\n..two dots\r\n. a dot and a space\r\nend\r\n',
  'Subject: 8bit\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9 cr\xe8me \xff\x80\r\n',
].map((text) => Buffer.from(text, 'latin1'))

function certificateOf(server: Pop3TestServer): Buffer {
  return readFileSync(path.join(server.config.dataDir, 'tls', 'self-signed.crt'))
}

async function connect(t: TestContext, options: Pop3ConnectOptions): Promise<Pop3Client> {
  const client = await Pop3Client.connect({ timeoutMs: 10_000, ...options })
  t.after(() => client.close())
  return client
}

test('implicit TLS with the CA: list, uidl and retrieve give exactly what was delivered', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver(MESSAGES)
  const client = await connect(t, {
    host: '127.0.0.1',
    port: server.ports.pop3s,
    security: 'tls',
    tls: { ca: certificateOf(server) },
  })
  await client.login(ALICE.address, ALICE.password)
  assert.deepEqual(
    await client.list(),
    MESSAGES.map((message, index) => ({ number: index + 1, size: message.length })),
  )
  const uids = await client.uidl()
  assert.deepEqual(
    uids.map((entry) => entry.number),
    [1, 2, 3],
  )
  assert.equal(new Set(uids.map((entry) => entry.uid)).size, 3)
  for (const [index, message] of MESSAGES.entries()) {
    assert.deepEqual(await client.retrieve(index + 1), message)
  }
  await client.quit()
})

test('the certificate is checked against servername when it is given', async (t) => {
  const server = await startPop3Server(t)
  const client = await connect(t, {
    host: '127.0.0.1',
    port: server.ports.pop3s,
    security: 'tls',
    tls: { ca: certificateOf(server) },
    servername: 'pop.example.test',
  })
  await client.login(ALICE.address, ALICE.password)
  await assert.rejects(
    connect(t, {
      host: '127.0.0.1',
      port: server.ports.pop3s,
      security: 'tls',
      tls: { ca: certificateOf(server) },
      servername: 'other.example.test',
    }),
    (error: MailClientError) => error.kind === 'tls' && /other\.example\.test/.test(error.message),
  )
})

test('STLS upgrades, asks CAPA again, and logs in with AUTH PLAIN', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([MESSAGES[0] as Buffer])
  const client = await connect(t, {
    host: '127.0.0.1',
    port: server.ports.pop3,
    security: 'starttls',
    tls: { rejectUnauthorized: false },
  })
  assert.ok(!client.capabilities.includes('STLS'), 'STLS is not offered after the upgrade')
  assert.ok(client.capabilities.some((line) => /^SASL .*PLAIN/.test(line)))
  await client.login(ALICE.address, ALICE.password)
  assert.deepEqual(await client.retrieve(1), MESSAGES[0])
  await client.quit()
})

test('the certificate is verified by default: a self-signed one fails with kind tls', async (t) => {
  const server = await startPop3Server(t)
  for (const [port, security] of [
    [server.ports.pop3s, 'tls'],
    [server.ports.pop3, 'starttls'],
  ] as const) {
    await assert.rejects(
      Pop3Client.connect({ host: '127.0.0.1', port, security, timeoutMs: 10_000 }),
      (error: MailClientError) =>
        error instanceof MailClientError &&
        error.kind === 'tls' &&
        /certificate/.test(error.message),
    )
  }
})

test('a wrong password fails with kind auth and the server text', async (t) => {
  const server = await startPop3Server(t)
  const client = await connect(t, {
    host: '127.0.0.1',
    port: server.ports.pop3s,
    security: 'tls',
    tls: { rejectUnauthorized: false },
  })
  await assert.rejects(
    client.login(ALICE.address, 'wrong'),
    (error: MailClientError) => error.kind === 'auth' && /\[AUTH\]/.test(error.message),
  )
})

test('delete then quit removes the message; close without quit keeps it', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver(MESSAGES)
  const options: Pop3ConnectOptions = {
    host: '127.0.0.1',
    port: server.ports.pop3s,
    security: 'tls',
    tls: { rejectUnauthorized: false },
  }
  const first = await connect(t, options)
  await first.login(ALICE.address, ALICE.password)
  await first.delete(3)
  first.close() // no QUIT: the server keeps it (RFC 1939 §6)
  const second = await connect(t, options)
  await second.login(ALICE.address, ALICE.password)
  assert.equal((await second.list()).length, 3)
  await second.delete(1)
  await assert.rejects(second.retrieve(1), (error: MailClientError) => error.kind === 'no')
  await second.quit()
  const third = await connect(t, options)
  await third.login(ALICE.address, ALICE.password)
  assert.deepEqual(
    (await third.list()).map((entry) => entry.size),
    [MESSAGES[1]?.length, MESSAGES[2]?.length],
  )
  assert.deepEqual(await third.retrieve(1), MESSAGES[1])
  await third.quit()
})

test('security none logs in over plain text (loopback), and a closed port is kind connect', async (t) => {
  const server = await startPop3Server(t)
  const client = await connect(t, { host: '127.0.0.1', port: server.ports.pop3, security: 'none' })
  await client.login(ALICE.address, ALICE.password)
  assert.deepEqual(await client.list(), [])
  await client.quit()
  await server.server.stop()
  await assert.rejects(
    Pop3Client.connect({ host: '127.0.0.1', port: server.ports.pop3, security: 'none' }),
    (error: MailClientError) => error.kind === 'connect' && /127\.0\.0\.1:\d+/.test(error.message),
  )
})
