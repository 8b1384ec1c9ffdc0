import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { echoProtocol } from '../../test/support/echo-protocol.ts'
import { Received } from '../../test/support/socket-pair.ts'
import { testCertificate, testSecureContext } from '../../test/support/tls.ts'
import { silentLogger } from '../util/index.ts'
import { ConnectionLimiter } from './ip-limits.ts'
import { startListener } from './listener.ts'

async function listen(
  t: TestContext,
  options: {
    tls?: 'none' | 'implicit'
    limits?: { maxConnections: number; maxConnectionsPerIp: number }
  } = {},
) {
  const secureContext = await testSecureContext()
  const listener = await startListener({
    name: 'echo',
    host: '127.0.0.1',
    port: 0,
    tls: options.tls ?? 'none',
    secureContext,
    handler: echoProtocol(secureContext),
    limiter: new ConnectionLimiter(
      options.limits ?? { maxConnections: 100, maxConnectionsPerIp: 100 },
    ),
    log: silentLogger,
  })
  t.after(() => listener.close(0))
  return listener
}

function client(t: TestContext, port: number) {
  const socket = connect(port, '127.0.0.1')
  t.after(() => socket.destroy())
  return { socket, received: new Received(socket) }
}

test('the listener runs a session per connection, each with its own id', async (t) => {
  const listener = await listen(t)
  const a = client(t, listener.port)
  const b = client(t, listener.port)
  const greetingA = (await a.received.waitFor(/HELLO \S+\r\n/)).trim()
  const greetingB = (await b.received.waitFor(/HELLO \S+\r\n/)).trim()
  assert.notEqual(greetingA, greetingB)
  a.socket.write('ping\r\n')
  await a.received.waitFor('ECHO ping\r\n')
  assert.equal(listener.connectionCount, 2)
})

test('connections past the per-IP limit get the protocol refusal and are closed', async (t) => {
  const listener = await listen(t, { limits: { maxConnections: 100, maxConnectionsPerIp: 2 } })
  const first = client(t, listener.port)
  const second = client(t, listener.port)
  await first.received.waitFor('HELLO')
  await second.received.waitFor('HELLO')
  const third = client(t, listener.port)
  await third.received.waitFor(/BUSY 127\.0\.0\.1 has 2 connections/)
  await once(third.socket, 'close')
  // A slot frees when a session ends.
  first.socket.write('QUIT\r\n')
  await once(first.socket, 'close')
  await waitUntil(() => listener.connectionCount === 1)
  const fourth = client(t, listener.port)
  await fourth.received.waitFor('HELLO')
})

test('connections past the total limit are refused', async (t) => {
  const listener = await listen(t, { limits: { maxConnections: 1, maxConnectionsPerIp: 10 } })
  const first = client(t, listener.port)
  await first.received.waitFor('HELLO')
  const second = client(t, listener.port)
  await second.received.waitFor(/BUSY server has 1 connections/)
})

test('an exception in one session closes only that session', async (t) => {
  const listener = await listen(t)
  const healthy = client(t, listener.port)
  const failing = client(t, listener.port)
  await healthy.received.waitFor('HELLO')
  await failing.received.waitFor('HELLO')
  failing.socket.write('CRASH\r\n')
  await once(failing.socket, 'close')
  healthy.socket.write('still here\r\n')
  await healthy.received.waitFor('ECHO still here\r\n')
})

test('an implicit-TLS listener handshakes before the protocol speaks', async (t) => {
  const listener = await listen(t, { tls: 'implicit' })
  const { cert } = await testCertificate()
  const socket = tlsConnect({
    port: listener.port,
    host: '127.0.0.1',
    ca: cert,
    servername: 'localhost',
  })
  t.after(() => socket.destroy())
  const received = new Received(socket)
  await received.waitFor('HELLO')
  socket.write('secret\r\n')
  await received.waitFor('ECHO secret\r\n')
})

test('a plaintext client on an implicit-TLS listener is dropped without a session', async (t) => {
  const listener = await listen(t, { tls: 'implicit' })
  const plain = client(t, listener.port)
  plain.socket.write('EHLO plain\r\n')
  await once(plain.socket, 'close')
  assert.doesNotMatch(plain.received.text, /HELLO/)
})

test('STARTTLS through the listener keeps the session and its limits', async (t) => {
  const listener = await listen(t, { limits: { maxConnections: 10, maxConnectionsPerIp: 1 } })
  const { cert } = await testCertificate()
  const plain = client(t, listener.port)
  await plain.received.waitFor('HELLO')
  plain.socket.write('STARTTLS\r\n')
  await plain.received.waitFor('GO\r\n')
  plain.socket.removeAllListeners('data')
  const secure = tlsConnect({ socket: plain.socket, ca: cert, servername: 'localhost' })
  await once(secure, 'secureConnect')
  const received = new Received(secure)
  secure.write('inside\r\n')
  await received.waitFor('ECHO inside\r\n')
  // The upgraded connection still counts against the per-IP limit.
  const second = client(t, listener.port)
  await second.received.waitFor('BUSY')
})

test('close asks sessions to finish, then cuts those still open after the grace', async (t) => {
  const listener = await listen(t)
  const polite = client(t, listener.port)
  const stubborn = client(t, listener.port)
  await polite.received.waitFor('HELLO')
  await stubborn.received.waitFor('HELLO')
  stubborn.socket.write('WAIT\r\n')
  await stubborn.received.waitFor('ECHO WAIT')
  polite.socket.on('end', () => polite.socket.end())

  const started = Date.now()
  await listener.close(300)
  const took = Date.now() - started
  await polite.received.waitFor('BYE shutting down\r\n')
  assert.doesNotMatch(stubborn.received.text, /BYE/)
  assert.ok(took >= 250 && took < 3000, `close took ${took} ms`)
  assert.equal(listener.connectionCount, 0)
  // No new connections once closed.
  const late = connect(listener.port, '127.0.0.1')
  const [error] = await once(late, 'error')
  assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED')
})

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

test('replies to commands pipelined before the client half-closes are all delivered', async (t) => {
  const listener = await listen(t)
  const { socket, received } = client(t, listener.port)
  await received.waitFor('HELLO')
  socket.end('A\r\nB\r\nC\r\n')
  await once(socket, 'close')
  assert.match(received.text, /ECHO A\r\nECHO B\r\nECHO C\r\n$/)
})
