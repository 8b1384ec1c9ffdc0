import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { ALICE, Pop3TestClient } from '../../../test/support/pop3.ts'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { testSecureContext } from '../../../test/support/tls.ts'
import { AuthThrottle } from '../../auth/index.ts'
import { DEFAULT_POP3 } from '../../config/index.ts'
import { createDirectory } from '../../directory/index.ts'
import { ConnectionLimiter, startListener } from '../../net/index.ts'
import { openStore } from '../../server/index.ts'
import { silentLogger } from '../../util/index.ts'
import { createPop3Server } from './index.ts'

// The idle timer, with a timeout shorter than the config allows (RFC 1939 §3 asks for at least
// ten minutes, which a test cannot wait): the handler is built here with its own config.

/** A POP3 handler on its own listener over a fresh SQLite store, with a short idle timeout. */
async function startShortTimeoutServer(t: TestContext, timeoutMs: number) {
  const dataDir = makeTempDir(t, 'postern-pop3-idle-')
  const store = await openStore(
    { store: { backend: 'sqlite' }, dataDir } as Parameters<typeof openStore>[0],
    silentLogger,
  )
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  const secureContext = await testSecureContext()
  const handler = createPop3Server({
    hostname: 'pop.example.test',
    config: { ...DEFAULT_POP3, timeoutMs, loginDelayMs: null, expire: null },
    store,
    directory,
    throttle: new AuthThrottle(),
    secureContext,
  })
  const listener = await startListener({
    name: 'pop3',
    host: '127.0.0.1',
    port: 0,
    tls: 'none',
    secureContext,
    handler,
    limiter: new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 10 }),
    log: silentLogger,
  })
  t.after(() => listener.close(0))
  return { store, port: listener.port }
}

test('an idle session is told -ERR and closed after the timeout', async (t) => {
  const { port } = await startShortTimeoutServer(t, 300)
  const client = await Pop3TestClient.connect(t, port)
  await client.read()
  const started = Date.now()
  assert.equal(
    (await client.read()).raw,
    '-ERR Timeout waiting for a command, closing connection\r\n',
  )
  assert.ok(Date.now() - started >= 250)
  await client.closed()
})

test('a client that stops reading in the middle of a RETR is cut without a goodbye in the message', async (t) => {
  const { store, port } = await startShortTimeoutServer(t, 300)
  const account = await store.getAccount(ALICE.address)
  const inbox = account === null ? null : await store.getMailbox(account.id, 'INBOX')
  assert.ok(inbox !== null)
  const line = `${'z'.repeat(998)}\r\n`
  await store.deliver({ bytes: Buffer.from(`Subject: big\r\n\r\n${line.repeat(30_000)}`) }, [
    { mailboxId: inbox.id },
  ])
  const client = await Pop3TestClient.connect(t, port)
  assert.ok((await client.login()).isOk)
  client.write('RETR 1\r\n')
  // Stop reading: the server's writes back up until its idle timer fires.
  client.socket.pause()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const received: string[] = []
  client.socket.removeAllListeners('data')
  client.socket.on('data', (chunk: string) => received.push(chunk))
  client.socket.resume()
  await client.closed()
  const tail = received.join('').slice(-200)
  assert.doesNotMatch(tail, /Timeout/)
  assert.ok(!tail.endsWith('\r\n.\r\n'), 'the response was cut, not completed')
})
