// The clients of `postern fetch` (src/client/fetch) against a server nobody on the team wrote:
// a private Dovecot (test/support/dovecot.ts) with IMAP and POP3 on one maildir. Each test
// APPENDs awkward messages, then lists, downloads (compared byte for byte) and deletes them.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { ImapClient, Pop3Client } from '../../src/client/fetch/index.ts'
import { type Dovecot, startDovecot } from '../support/dovecot.ts'
import { makeClientHome } from '../support/mail-client.ts'
import { runPostern } from '../support/postern-process.ts'

/** The messages, one character per octet (latin1), CRLF line ends as both protocols send them. */
const MESSAGES = [
  'From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: one\r\n\r\nHello\r\n',
  'Subject: dots\r\n\r\n.starts with a dot\r\n.\r\n..two dots\r\n{5}\r\nend\r\n',
  'Subject: 8bit\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9 cr\xe8me \xff\x80\r\n',
]
const BYTES = MESSAGES.map((message) => Buffer.from(message, 'latin1'))

/** APPENDs the messages to INBOX in order, over Dovecot's own command connection. */
async function append(dovecot: Dovecot, messages: readonly string[]): Promise<void> {
  for (const message of messages) {
    const reply = await dovecot.imapCommand(`APPEND INBOX {${message.length}}\r\n${message}`)
    assert.match(reply, /^P\d+ OK/m, reply)
  }
}

async function pop3(t: TestContext, dovecot: Dovecot): Promise<Pop3Client> {
  const client = await Pop3Client.connect({
    host: '127.0.0.1',
    port: dovecot.pop3Port ?? 0,
    security: 'none',
    timeoutMs: 10_000,
  })
  t.after(() => client.close())
  await client.login(dovecot.user, dovecot.password)
  return client
}

test('Pop3Client against Dovecot: list, uidl, retrieve byte for byte, delete at QUIT', async (t) => {
  const dovecot = await startDovecot(t, { pop3: true })
  await append(dovecot, MESSAGES)
  const client = await pop3(t, dovecot)
  assert.ok(client.capabilities.some((line) => /^SASL .*PLAIN/i.test(line)))
  assert.deepEqual(
    await client.list(),
    BYTES.map((bytes, index) => ({ number: index + 1, size: bytes.length })),
  )
  const uids = await client.uidl()
  assert.deepEqual(
    uids.map((entry) => entry.number),
    [1, 2, 3],
  )
  for (const [index, bytes] of BYTES.entries()) {
    assert.deepEqual(await client.retrieve(index + 1), bytes, `message ${index + 1}`)
  }
  await client.delete(1)
  await client.delete(3)
  await client.quit()

  const again = await pop3(t, dovecot)
  assert.deepEqual(await again.list(), [{ number: 1, size: BYTES[1]?.length }])
  assert.deepEqual(await again.uidl(), [{ number: 1, uid: uids[1]?.uid }])
  assert.deepEqual(await again.retrieve(1), BYTES[1])
  await again.quit()
})

test('ImapClient against Dovecot: select, list, fetch byte for byte, delete, IDLE', async (t) => {
  const dovecot = await startDovecot(t)
  await append(dovecot, MESSAGES)
  const client = await ImapClient.connect({
    host: '127.0.0.1',
    port: dovecot.port,
    security: 'none',
    timeoutMs: 10_000,
  })
  t.after(() => client.close())
  assert.ok(client.capabilities.has('AUTH=PLAIN') && client.capabilities.has('SASL-IR'))
  await client.login(dovecot.user, dovecot.password)
  assert.ok(client.capabilities.has('UIDPLUS') && client.capabilities.has('IDLE'))
  const selected = await client.select('INBOX')
  assert.equal(selected.exists, 3)
  assert.ok(selected.uidValidity > 0)
  const listed = await client.listMessages()
  assert.deepEqual(
    listed.map((entry) => entry.size),
    BYTES.map((bytes) => bytes.length),
  )
  for (const [index, entry] of listed.entries()) {
    assert.deepEqual(await client.fetchMessage(entry.uid), BYTES[index], `UID ${entry.uid}`)
  }
  const [first, second, third] = listed.map((entry) => entry.uid)
  await client.deleteMessages([first ?? 0, third ?? 0])
  assert.deepEqual(
    (await client.listMessages()).map((entry) => entry.uid),
    [second],
  )

  assert.equal(await client.idle(300), 'timeout')
  const woken = client.idle(10_000)
  setTimeout(() => void append(dovecot, [MESSAGES[0] ?? '']), 200)
  assert.equal(await woken, 'exists')
  const now = await client.listMessages()
  assert.equal(now.length, 2)
  assert.deepEqual(await client.fetchMessage(now[1]?.uid ?? 0), BYTES[0])
  await client.logout()
})

/** `postern fetch` itself (the CLI, its own process) against Dovecot, into a Maildir. */
async function fetchCli(
  t: TestContext,
  dovecot: Dovecot,
  protocol: 'imap' | 'pop3',
  keep: boolean,
) {
  const home = makeClientHome(t)
  const maildir = path.join(home.dir, 'Maildir')
  // Dovecot listens without TLS on loopback here, as the helper configures it.
  home.writeConfig(
    [
      '[fetch]',
      `protocol = "${protocol}"`,
      'host = "127.0.0.1"',
      `port = ${protocol === 'imap' ? dovecot.port : dovecot.pop3Port}`,
      'security = "none"',
      `user = "${dovecot.user}"`,
      `password = "${dovecot.password}"`,
      `maildir = "${maildir}"`,
      '',
    ].join('\n'),
  )
  const result = await runPostern(['fetch', ...(keep ? ['--keep'] : [])], {
    env: home.env,
    timeoutMs: 60_000,
  })
  assert.equal(result.code, 0, result.stderr)
  const folder = path.join(maildir, 'new')
  return readdirSync(folder)
    .map((name) => readFileSync(path.join(folder, name)))
    .sort((a, b) => a.toString('latin1').localeCompare(b.toString('latin1')))
}

const AS_LF = BYTES.map((bytes) =>
  Buffer.from(bytes.toString('latin1').replaceAll('\r\n', '\n'), 'latin1'),
).sort((a, b) => a.toString('latin1').localeCompare(b.toString('latin1')))

test('postern fetch over POP3 and over IMAP from Dovecot: the same octets, LF line ends', async (t) => {
  const dovecot = await startDovecot(t, { pop3: true })
  await append(dovecot, MESSAGES)
  assert.deepEqual(await fetchCli(t, dovecot, 'pop3', true), AS_LF)
  assert.deepEqual(await fetchCli(t, dovecot, 'imap', false), AS_LF)
  // The IMAP run deleted them; POP3 now finds an empty maildrop.
  assert.deepEqual(await fetchCli(t, dovecot, 'pop3', false), [])
})
