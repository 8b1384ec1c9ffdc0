import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { startHandlerServer } from '../../../test/support/handler-server.ts'
import { ALICE, Pop3TestClient } from '../../../test/support/pop3.ts'
import { AuthThrottle } from '../../auth/index.ts'
import { DEFAULT_POP3 } from '../../config/index.ts'
import { createPop3Server } from './index.ts'

// The idle timer, with a timeout shorter than the config allows (RFC 1939 §3 asks for at least
// ten minutes, which a test cannot wait): the handler is built here with its own config.

/** A POP3 handler on its own listener over a fresh SQLite store, with a short idle timeout. */
async function startShortTimeoutServer(t: TestContext, timeoutMs: number) {
  return startHandlerServer(t, {
    name: 'pop3',
    users: [ALICE],
    handler: (deps) =>
      createPop3Server({
        hostname: 'pop.example.test',
        config: { ...DEFAULT_POP3, timeoutMs, loginDelayMs: null, expire: null },
        throttle: new AuthThrottle(),
        ...deps,
      }),
  })
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

test('issue #11: a command trickled in one octet at a time is ended by the timeout', async (t) => {
  // Found by test/torture/resources-slowloris.test.ts: every octet restarted the idle timer.
  const { port } = await startShortTimeoutServer(t, 300)
  const client = await Pop3TestClient.connect(t, port)
  await client.read()
  const started = Date.now()
  client.write('USER ')
  const trickle = setInterval(() => client.write('x'), 20)
  t.after(() => clearInterval(trickle))
  assert.equal(
    (await client.read()).raw,
    '-ERR Timeout waiting for a command, closing connection\r\n',
  )
  const took = Date.now() - started
  assert.ok(took >= 250 && took < 2000, `ended after ${took} ms`)
  await client.closed()
})

test('a client that stops reading in the middle of a RETR is cut without a goodbye in the message', async (t) => {
  // Long enough for a login (argon2id) on a loaded machine; the stall below outlasts it.
  const { store, port } = await startShortTimeoutServer(t, 1000)
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
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const received: string[] = []
  client.socket.removeAllListeners('data')
  client.socket.on('data', (chunk: string) => received.push(chunk))
  client.socket.resume()
  await client.closed()
  const tail = received.join('').slice(-200)
  assert.doesNotMatch(tail, /Timeout/)
  assert.ok(!tail.endsWith('\r\n.\r\n'), 'the response was cut, not completed')
})
