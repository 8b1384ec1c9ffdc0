// ImapClient against a real Postern IMAP server on loopback: implicit TLS and STARTTLS with the
// certificate verified, logins, SELECT, listing, downloads compared byte for byte with what was
// delivered, deletion, and IDLE woken by a delivery.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { type TestContext, test } from 'node:test'
import { ALICE, type ImapServe, startImapServe } from '../../../test/support/imap-serve.ts'
import { ImapClient, type ImapConnectOptions } from './imap-client.ts'
import { MailClientError } from './index.ts'

/** The messages as delivered, one character per octet (latin1). */
const MESSAGES = [
  'From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: one\r\n\r\nHello Alice\r\n',
  'Subject: dots\r\n\r\n.starts with a dot\r\n.\r\n..two dots\r\n{5}\r\nend\r\n',
  'Subject: 8bit\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9 cr\xe8me \xff\x80\r\n',
].map((text) => Buffer.from(text, 'latin1'))

async function connect(t: TestContext, options: ImapConnectOptions): Promise<ImapClient> {
  const client = await ImapClient.connect({ timeoutMs: 10_000, ...options })
  t.after(() => client.close())
  return client
}

async function loggedIn(t: TestContext, serve: ImapServe): Promise<ImapClient> {
  const client = await connect(t, {
    host: '127.0.0.1',
    port: serve.ports.imaps,
    security: 'tls',
    tls: { ca: readFileSync(serve.certPath) },
  })
  await client.login(ALICE.address, ALICE.password)
  return client
}

test('implicit TLS with the CA: select, listMessages and fetchMessage give what was delivered', async (t) => {
  const serve = await startImapServe(t)
  const uids = await serve.deliver(MESSAGES)
  const client = await loggedIn(t, serve)
  assert.ok(client.capabilities.has('IDLE'), 'capabilities are asked again after login')
  const selected = await client.select('INBOX')
  assert.equal(selected.exists, 3)
  assert.ok(selected.uidValidity > 0)
  assert.equal(selected.uidNext, (uids.at(-1) ?? 0) + 1)
  assert.deepEqual(
    await client.listMessages(),
    MESSAGES.map((message, index) => ({ uid: uids[index], size: message.length })),
  )
  for (const [index, message] of MESSAGES.entries()) {
    assert.deepEqual(await client.fetchMessage(uids[index] ?? 0), message)
  }
  // BODY.PEEK[] sets no \Seen.
  assert.deepEqual(
    (await serve.contents()).map((stored) => stored.flags),
    [[], [], []],
  )
  await client.logout()
})

test('STARTTLS upgrades and asks CAPABILITY again; an empty mailbox lists nothing', async (t) => {
  const serve = await startImapServe(t)
  const client = await connect(t, {
    host: '127.0.0.1',
    port: serve.ports.imap,
    security: 'starttls',
    tls: { rejectUnauthorized: false },
  })
  assert.ok(!client.capabilities.has('STARTTLS'))
  assert.ok(client.capabilities.has('AUTH=PLAIN'))
  await client.login(ALICE.address, ALICE.password)
  assert.deepEqual(await client.select('INBOX'), {
    uidValidity: (await client.select('INBOX')).uidValidity,
    uidNext: 1,
    exists: 0,
  })
  assert.deepEqual(await client.listMessages(), [])
  await client.logout()
})

test('the certificate is verified by default: a self-signed one fails with kind tls', async (t) => {
  const serve = await startImapServe(t)
  for (const [port, security] of [
    [serve.ports.imaps, 'tls'],
    [serve.ports.imap, 'starttls'],
  ] as const) {
    await assert.rejects(
      ImapClient.connect({ host: '127.0.0.1', port, security, timeoutMs: 10_000 }),
      (error: MailClientError) =>
        error instanceof MailClientError &&
        error.kind === 'tls' &&
        /certificate/.test(error.message),
    )
  }
})

test('a wrong password fails with kind auth; a missing mailbox with kind no', async (t) => {
  const serve = await startImapServe(t)
  const client = await connect(t, {
    host: '127.0.0.1',
    port: serve.ports.imaps,
    security: 'tls',
    tls: { rejectUnauthorized: false },
  })
  await assert.rejects(
    client.login(ALICE.address, 'wrong'),
    (error: MailClientError) => error.kind === 'auth' && /NO/.test(error.message),
  )
  await client.login(ALICE.address, ALICE.password)
  await assert.rejects(
    client.select('Nowhere'),
    (error: MailClientError) => error.kind === 'no' && /SELECT failed: NO/.test(error.message),
  )
})

test('a non-ASCII mailbox name goes in modified UTF-7', async (t) => {
  const serve = await startImapServe(t)
  const client = await loggedIn(t, serve)
  const account = await serve.store.getAccount(ALICE.address)
  assert.ok(account !== null)
  await serve.store.createMailbox(account.id, 'Entwürfe')
  await serve.deliver([MESSAGES[0] as Buffer], { mailbox: 'Entwürfe' })
  assert.equal((await client.select('Entwürfe')).exists, 1)
  assert.deepEqual(
    await client.fetchMessage((await client.listMessages())[0]?.uid ?? 0),
    MESSAGES[0],
  )
})

test('deleteMessages removes exactly the UIDs given', async (t) => {
  const serve = await startImapServe(t)
  const uids = await serve.deliver([...MESSAGES, ...MESSAGES])
  const client = await loggedIn(t, serve)
  await client.select('INBOX')
  const gone = [uids[0], uids[1], uids[3]].map((uid) => uid ?? 0)
  await client.deleteMessages(gone)
  assert.equal(client.exists, 3)
  assert.deepEqual(
    (await client.listMessages()).map((entry) => entry.uid),
    [uids[2], uids[4], uids[5]],
  )
  assert.deepEqual(
    (await serve.contents()).map((stored) => stored.uid),
    [uids[2], uids[4], uids[5]],
  )
  await client.deleteMessages([])
  await client.logout()
})

test('idle returns exists when a message arrives, timeout when none does, aborted', async (t) => {
  const serve = await startImapServe(t)
  await serve.deliver([MESSAGES[0] as Buffer])
  const client = await loggedIn(t, serve)
  await client.select('INBOX')
  assert.equal(await client.idle(300), 'timeout')
  const woken = client.idle(10_000)
  setTimeout(() => void serve.deliver([MESSAGES[1] as Buffer]), 200)
  assert.equal(await woken, 'exists')
  assert.equal(client.exists, 2)
  assert.equal((await client.listMessages()).length, 2, 'the connection is usable after IDLE')
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 100)
  assert.equal(await client.idle(10_000, controller.signal), 'aborted')
  assert.equal(await client.idle(10_000, AbortSignal.abort()), 'aborted')
  await client.logout()
})
