import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { Received, socketPair } from '../../test/support/socket-pair.ts'
import { testCertificate, testSecureContext } from '../../test/support/tls.ts'
import { silentLogger } from '../util/index.ts'
import { Connection, normalizeAddress } from './connection.ts'

function serverConnection(socket: Socket): Connection {
  return new Connection(socket, {
    id: 'test',
    listenerName: 'test',
    log: silentLogger,
    shutdownSignal: new AbortController().signal,
  })
}

test('STARTTLS discards octets the client sent before the handshake (RFC 3207 §4.2)', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  const context = await testSecureContext()
  const { cert } = await testCertificate()

  // The attack of CVE-2011-0411: a command injected behind STARTTLS in the same packet.
  client.write('STARTTLS\r\nINJECTED COMMAND\r\n')
  const received = new Received(client)
  const line = await connection.reader.readLine(512)
  assert.equal(line?.bytes.toString(), 'STARTTLS')
  await new Promise((resolve) => setTimeout(resolve, 50)) // let the injected line arrive
  const upgrading = connection.startTls(context, '220 2.0.0 Ready to start TLS\r\n')
  await received.waitFor('220 2.0.0 Ready')
  client.removeAllListeners('data')

  const secure = tlsConnect({ socket: client, ca: cert, servername: 'localhost' })
  await once(secure, 'secureConnect')
  assert.equal(await upgrading, 'INJECTED COMMAND\r\n'.length)
  assert.equal(connection.isTls, true)
  assert.match(connection.tlsInfo?.protocol ?? '', /^TLSv1\.[23]$/)

  secure.write('EHLO after\r\n')
  const after = await connection.reader.readLine(512)
  assert.equal(
    after?.bytes.toString(),
    'EHLO after',
    'the first line after TLS is the client’s own',
  )
  const replies = new Received(secure)
  await connection.write('250 ok\r\n')
  await replies.waitFor('250 ok\r\n')
  secure.destroy()
})

test('write waits while the peer does not read, and resolves when it does', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  client.pause()
  const big = Buffer.alloc(1024 * 1024)
  let written = 0
  let isBlocked = false
  for (let i = 0; i < 256 && !isBlocked; i += 1) {
    const writing = connection.write(big)
    const state = await Promise.race([writing.then(() => 'done'), sleep(100).then(() => 'blocked')])
    if (state === 'blocked') isBlocked = true
    else written += big.length
  }
  assert.ok(isBlocked, `256 MB written to a peer that reads nothing`)
  assert.ok(written < 64 * 1024 * 1024)
  client.resume()
})

test('the idle timeout runs the goodbye and closes the connection', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  const received = new Received(client)
  connection.setIdleTimeout(100, () => connection.write('421 idle\r\n'))
  await connection.closed
  await received.waitFor('421 idle\r\n')
})

test('the idle timer restarts with traffic', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  connection.setIdleTimeout(300)
  for (let i = 0; i < 5; i += 1) {
    await sleep(100)
    client.write('NOOP\r\n')
  }
  assert.equal(connection.isClosed, false)
  await connection.closed
})

test('issue #11: a request trickled in one octet at a time is ended at its deadline', async (t) => {
  // Found by test/torture/resources-slowloris.test.ts: each octet restarted the idle timer, so
  // a line that never ended kept its connection for ever.
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  const received = new Received(client)
  connection.setIdleTimeout(10_000, () => connection.write('421 timeout\r\n'))
  const trickle = setInterval(() => client.write('x'), 20)
  t.after(() => clearInterval(trickle))
  const started = Date.now()
  const line = connection.withinDeadline(300, () => connection.reader.readLine(1000))
  assert.equal(await line, null, 'the reader sees the end of the stream')
  await connection.closed
  const took = Date.now() - started
  assert.ok(took >= 290 && took < 2000, `ended after ${took} ms`)
  await received.waitFor('421 timeout\r\n')
})

test('issue #11: data earns time at the minimum rate, a trickle of data does not', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  // 1,000 octets every 50 ms (20 KB/s) outlast a 300 ms deadline: each buys 2 ms (500 B/s).
  const flowing = setInterval(() => client.write(Buffer.alloc(1000, 'a')), 50)
  const body = await connection.withinDeadline(300, () => connection.reader.readExact(20_000), true)
  clearInterval(flowing)
  assert.equal(body.length, 20_000)
  assert.equal(connection.isClosed, false)
  // One octet every 20 ms (50 B/s) earns too little: the deadline passes.
  const trickle = setInterval(() => client.write('a'), 20)
  t.after(() => clearInterval(trickle))
  const started = Date.now()
  await assert.rejects(
    connection.withinDeadline(300, () => connection.reader.readExact(20_000), true),
    /octets short/,
  )
  const took = Date.now() - started
  assert.ok(took >= 290 && took < 2000, `ended after ${took} ms`)
  assert.equal(connection.isClosed, true)
})

test('a request that arrives in time leaves no deadline behind', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  client.write('NOOP\r\n')
  const line = await connection.withinDeadline(100, () => connection.reader.readLine(1000))
  assert.equal(line?.bytes.toString(), 'NOOP')
  await sleep(300)
  assert.equal(connection.isClosed, false)
})

test('end writes the last reply, closes, and later writes are ignored', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  const received = new Received(client)
  client.on('end', () => client.end())
  await connection.end('221 bye\r\n')
  assert.equal(connection.isClosed, true)
  await connection.write('late\r\n')
  await received.waitFor('221 bye\r\n')
  assert.equal(received.text, '221 bye\r\n')
})

test('normalizeAddress unwraps IPv4-mapped IPv6 addresses only', () => {
  assert.equal(normalizeAddress('::ffff:192.0.2.1'), '192.0.2.1')
  assert.equal(normalizeAddress('::ffff:c000:201'), '::ffff:c000:201')
  assert.equal(normalizeAddress('2001:db8::1'), '2001:db8::1')
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

test('a throwing idle goodbye is logged, the socket closed, and the process unharmed', async (t) => {
  const { server } = await socketPair(t)
  const connection = serverConnection(server)
  connection.setIdleTimeout(50, () => {
    throw new Error('goodbye failed')
  })
  await connection.closed
})

test('the idle timeout closes a peer that stopped reading even while the goodbye cannot drain', async (t) => {
  const { server, client } = await socketPair(t)
  client.pause()
  const connection = serverConnection(server)
  // Fill the peer's buffers so that the goodbye's write waits for a drain that never comes.
  const big = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < 64; i += 1) void connection.write(big)
  connection.setIdleTimeout(100, () => connection.write('421 idle\r\n'))
  const started = Date.now()
  await connection.closed
  assert.ok(Date.now() - started < 9000, 'closed within the close timeout')
})

test('end() closes a peer that reads nothing, after the close timeout', async (t) => {
  const { server, client } = await socketPair(t)
  client.pause()
  const connection = serverConnection(server)
  const big = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < 64; i += 1) void connection.write(big)
  await connection.end('221 bye\r\n')
  assert.equal(connection.isClosed, true)
})

test('after a failed STARTTLS handshake, reads end instead of hanging', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  client.write('STARTTLS\r\n')
  await connection.reader.readLine(512)
  const upgrading = connection.startTls(await testSecureContext(), 'OK\r\n')
  client.write('not a TLS handshake\r\n')
  await assert.rejects(upgrading)
  assert.equal(await connection.reader.readLine(512), null)
})

test('STARTTLS: plaintext sent after the ready reply never reaches the reader', async (t) => {
  const { server, client } = await socketPair(t)
  const connection = serverConnection(server)
  const received = new Received(client)
  client.write('STARTTLS\r\n')
  await connection.reader.readLine(512)
  const upgrading = connection.startTls(await testSecureContext(), '220 go ahead\r\n')
  await received.waitFor('220 go ahead\r\n')
  // A client (or a man in the middle) that answers the reply with plaintext commands.
  client.write('MAIL FROM:<evil@example.com>\r\n')
  await assert.rejects(upgrading)
  assert.equal(connection.reader.bufferedOctets, 0)
  assert.equal(
    await connection.reader.readLine(512),
    null,
    'the plaintext was never read as a command',
  )
})
