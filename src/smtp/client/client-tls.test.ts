import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { createServer as createTlsServer } from 'node:tls'
import { testCertificate, testSecureContext } from '../../../test/support/tls.ts'
import { SmtpClient } from './client.ts'
import { SmtpClientError } from './errors.ts'
import { startFakeServer, TEST_TIMEOUTS } from './fake-server.ts'

function isClientError(kind: SmtpClientError['kind'], phase: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SmtpClientError, String(error))
    assert.equal(error.kind, kind, error.message)
    assert.equal(error.phase, phase)
    return true
  }
}

test('STARTTLS upgrades the connection, verifying the certificate, and forgets EHLO', async (t) => {
  const { cert } = await testCertificate()
  const secureContext = await testSecureContext()
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx.example.test ESMTP\r\n')
    await session.ehlo(['PIPELINING', 'STARTTLS'])
    await session.expect('STARTTLS')
    session.write('220 2.0.0 Ready to start TLS\r\n')
    await session.upgrade(secureContext)
    await session.ehlo(['PIPELINING', 'AUTH PLAIN'])
    await session.expect(/^AUTH PLAIN /)
    session.write('235 2.7.0 Ok\r\n')
    await session.expect('QUIT')
    session.write('221 Bye\r\n')
  })
  // 127.0.0.1 is in the test certificate's subjectAltName, so verification passes.
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: server.port,
    tls: { ca: cert },
    timeouts: TEST_TIMEOUTS,
  })
  assert.equal((await client.hello('c.example.org')).startTls, true)
  await client.startTls()
  assert.equal(client.isSecure, true)
  assert.equal(client.capabilities.startTls, false)
  assert.equal(client.capabilities.pipelining, false)
  assert.deepEqual((await client.hello('c.example.org')).auth, ['PLAIN'])
  await client.authenticate('user', 'secret')
  await client.quit()
  await server.done()
})

test('a certificate for another name fails the handshake, kind tls', async (t) => {
  const { cert } = await testCertificate()
  const secureContext = await testSecureContext()
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect('STARTTLS')
    session.write('220 Go ahead\r\n')
    await session.upgrade(secureContext).catch(() => {})
  })
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: server.port,
    servername: 'mx.elsewhere.example',
    tls: { ca: cert },
    timeouts: TEST_TIMEOUTS,
  })
  await assert.rejects(client.startTls(), (error) => {
    assert.ok(isClientError('tls', 'STARTTLS')(error))
    assert.match((error as Error).message, /mx\.elsewhere\.example/)
    return true
  })
  assert.equal(client.isUsable, false)
  await server.done()
})

test('STARTTLS refused rejects with the reply and leaves the session usable', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect('STARTTLS')
    session.write('454 4.7.0 TLS not available\r\n')
    await session.expect('QUIT')
    session.write('221 Bye\r\n')
  })
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: server.port,
    timeouts: TEST_TIMEOUTS,
  })
  await assert.rejects(client.startTls(), (error) => {
    assert.ok(isClientError('reply', 'STARTTLS')(error))
    assert.equal((error as SmtpClientError).reply?.code, 454)
    return true
  })
  assert.equal(client.isUsable, true)
  assert.equal(client.isSecure, false)
  await client.quit()
  await server.done()
})

test('octets after the 220, before the handshake, are refused (RFC 3207 §4.2)', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect('STARTTLS')
    // A man in the middle appends a reply the client would read as if it came over TLS.
    session.write('220 Go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n')
    await session.closed()
  })
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: server.port,
    timeouts: TEST_TIMEOUTS,
  })
  await assert.rejects(
    client.startTls({ rejectUnauthorized: false }),
    isClientError('protocol', 'STARTTLS'),
  )
  assert.equal(client.isUsable, false)
  await server.done()
})

test('implicit TLS from the first octet (port 465 style)', async (t) => {
  const { cert, key } = await testCertificate()
  const server = createTlsServer({ cert, key }, (socket) => {
    socket.on('error', () => {})
    socket.write('220 mx.example.test ESMTP over TLS\r\n')
    socket.once('data', () => socket.end('221 Bye\r\n'))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const client = await SmtpClient.connect({
    host: 'localhost',
    port,
    implicitTls: true,
    tls: { ca: cert },
    timeouts: TEST_TIMEOUTS,
  })
  assert.equal(client.isSecure, true)
  assert.equal(client.greeting.code, 220)
  await client.quit()

  // A plain server on the other end fails the handshake, kind tls, phase connect.
  const plain = await startFakeServer(t, async (session) => {
    session.write('220 plain text\r\n')
  })
  await assert.rejects(
    SmtpClient.connect({
      host: '127.0.0.1',
      port: plain.port,
      implicitTls: true,
      timeouts: TEST_TIMEOUTS,
    }),
    isClientError('tls', 'connect'),
  )
})
