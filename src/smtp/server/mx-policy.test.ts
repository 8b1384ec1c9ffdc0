import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mailboxMessages } from '../../../test/support/mailbox.ts'
import { SmtpTestClient, startSmtpServer } from '../../../test/support/smtp.ts'

// The MX listener: mail for local domains from anyone, nothing else (DESIGN.md invariant 6).

async function mxClient(t: Parameters<typeof startSmtpServer>[0], port: number) {
  const client = await SmtpTestClient.connect(t, port)
  await client.read()
  await client.ehlo()
  assert.equal((await client.command('MAIL FROM:<someone@remote.test>')).code, 250)
  return client
}

test('unknown local recipients get 550 5.1.1 at RCPT time', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await mxClient(t, ports.smtp)
  const reply = await client.command('RCPT TO:<nobody@example.test>')
  assert.equal(
    reply.raw,
    '550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown\r\n',
  )
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).raw, '250 2.1.5 Ok\r\n')
})

test('the classic open-relay tricks are all refused', async (t) => {
  const { ports, store } = await startSmtpServer(t, '[smtp]\nmax_errors = 100\n')
  const client = await mxClient(t, ports.smtp)
  const probes: Array<[string, number]> = [
    ['<victim@remote.test>', 554], // plain relay
    ['<victim%remote.test@example.test>', 550], // percent hack
    ['<remote.test!victim@example.test>', 550], // bang path
    ['<"victim@remote.test"@example.test>', 550], // quoted "@" in the local part
    ['<"victim@remote.test">', 501], // quoted local part without a domain
    ['<@example.test:victim@remote.test>', 554], // source route through us
    ['<@example.test,@mx.example.test:victim@remote.test>', 554],
    ['<victim@[127.0.0.1]>', 554], // IP literal (even our own)
    ['<victim@[IPv6:::1]>', 554],
    ['<victim@remote.test.>', 554], // trailing dot
    ['<victim@REMOTE.test>', 554],
    ['<victim@example.test@remote.test>', 501],
    ['<victim@remote.test%example.test>', 501],
    ['<victim@example.test.remote.test>', 554], // our domain as a prefix
    ['victim@remote.test', 501], // no brackets
  ]
  for (const [path, code] of probes) {
    const reply = await client.command(`RCPT TO:${path}`)
    assert.equal(reply.code, code, `${path}: ${reply.raw}`)
    if (code === 554) assert.match(reply.raw, /^554 5\.7\.1 .*Relay access denied/, path)
    if (code === 550) assert.match(reply.raw, /^550 5\.1\.1 /, path)
  }
  // Nothing was accepted, so DATA has no recipients.
  assert.equal((await client.command('DATA')).code, 554)
  assert.deepEqual(await store.listQueue(), [])
})

test('mixed case, a trailing dot and a source route reach the local account', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await mxClient(t, ports.smtp)
  for (const path of [
    '<ALICE@Example.TEST>',
    '<alice@example.test.>',
    '<@relay.remote.test:alice@example.test>',
  ]) {
    assert.equal((await client.command(`RCPT TO:${path}`)).code, 250, path)
  }
  await client.command('DATA')
  client.write('Subject: once\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  // Three spellings of one address: one copy.
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 1)
})

test('<Postmaster> without a domain is accepted when postmaster@hostname exists', async (t) => {
  const { ports, directory } = await startSmtpServer(t)
  await directory.addDomain('mx.example.test')
  await directory.addAlias('postmaster@mx.example.test', ['alice@example.test'])
  const client = await mxClient(t, ports.smtp)
  assert.equal((await client.command('RCPT TO:<Postmaster>')).code, 250)
})

test('aliases: one copy per account, remote targets queued, catch-all, subaddress folders', async (t) => {
  const { ports, store, directory } = await startSmtpServer(t)
  await directory.addAlias('team@example.test', ['alice@example.test', 'bob@example.test'])
  await directory.addAlias('all@example.test', ['team@example.test', 'alice@example.test'])
  await directory.addAlias('fwd@example.test', ['bob@example.test', 'carol@remote.test'])
  const alice = await store.getAccount('alice@example.test')
  await store.createMailbox(alice?.id ?? 0, 'Lists')

  const client = await mxClient(t, ports.smtp)
  for (const to of [
    'team@example.test',
    'all@example.test',
    'alice@example.test',
    'fwd@example.test',
  ]) {
    assert.equal((await client.command(`RCPT TO:<${to}>`)).code, 250, to)
  }
  await client.command('DATA')
  client.write('Subject: fan out\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  const [aliceCopy] = await mailboxMessages(store, 'alice@example.test')
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 1)
  const [bobCopy] = await mailboxMessages(store, 'bob@example.test')
  // Two accounts share one stored copy, so it names neither in Delivered-To.
  assert.match(bobCopy?.toString() ?? '', /^Return-Path: <someone@remote\.test>\r\nReceived: /)
  assert.deepEqual(bobCopy, aliceCopy)
  const bob = await store.getAccount('bob@example.test')
  const aliceInbox = await store.getMailbox(alice?.id ?? 0, 'INBOX')
  const bobInbox = await store.getMailbox(bob?.id ?? 0, 'INBOX')
  const [aliceRecord] = await store.getMessages(aliceInbox?.id ?? 0, [[1, 1]])
  const [bobRecord] = await store.getMessages(bobInbox?.id ?? 0, [[1, 1]])
  assert.equal(aliceRecord?.blobId, bobRecord?.blobId, 'one blob for both (DESIGN.md invariant 5)')
  const [queued] = await store.listQueue()
  assert.deepEqual(
    queued?.recipients.map((r) => [r.address, r.originalRecipient]),
    [['carol@remote.test', 'rfc822;fwd@example.test']],
  )

  // A tag that names a mailbox files into it (case-insensitively); an unknown tag into INBOX.
  assert.equal((await client.command('MAIL FROM:<someone@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice+lists@example.test>')).code, 250)
  await client.command('DATA')
  client.write('Subject: tagged\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  assert.equal((await mailboxMessages(store, 'alice@example.test', 'Lists')).length, 1)
  assert.equal((await client.command('MAIL FROM:<someone@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice+nothing@example.test>')).code, 250)
  await client.command('DATA')
  client.write('Subject: tagged\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 2)

  // A catch-all takes what nothing else does.
  await directory.addAlias('@example.test', ['bob@example.test'])
  assert.equal((await client.command('MAIL FROM:<someone@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<anything@example.test>')).code, 250)
})

test('recipients per message are capped with 452 4.5.3', async (t) => {
  const { ports } = await startSmtpServer(t, '[smtp]\nmax_recipients = 2\n')
  const client = await mxClient(t, ports.smtp)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250)
  const over = await client.command('RCPT TO:<alice+x@example.test>')
  assert.equal(over.raw, '452 4.5.3 Too many recipients, at most 2\r\n')
})

test('a full mailbox gets 452 4.2.2 at RCPT; one that fills during DATA is queued, not lost', async (t) => {
  const { ports, store, directory } = await startSmtpServer(t)
  await store.setQuota('alice@example.test', { messages: 1 })
  await store.setQuota('bob@example.test', { storage: 2000 })
  const client = await mxClient(t, ports.smtp)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  await client.command('DATA')
  client.write('Subject: fills it\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  assert.equal((await client.command('MAIL FROM:<someone@remote.test>')).code, 250)
  const full = await client.command('RCPT TO:<alice@example.test>')
  assert.equal(full.raw, '452 4.2.2 <alice@example.test>: Mailbox full, try again later\r\n')
  // Bob has room for a small message but not this one: accepted, and queued for a retry.
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250)
  await client.command('DATA')
  client.write(`Subject: big\r\n\r\n${'b'.repeat(900)}\r\n${'b'.repeat(900)}\r\n.\r\n`)
  assert.equal((await client.read()).code, 250)
  assert.equal((await mailboxMessages(store, 'bob@example.test')).length, 0)
  const [queued] = await store.listQueue()
  assert.deepEqual(
    queued?.recipients.map((r) => [r.address, r.status, r.lastReply]),
    [['bob@example.test', 'deferred', '452 4.2.2 Mailbox full, delivery will be retried']],
  )
  void directory
})

test('MAIL on the MX listener accepts the null sender and any remote sender', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  assert.equal((await client.command('MAIL FROM:<>')).code, 250)
  assert.equal((await client.command('RSET')).code, 250)
  assert.equal((await client.command('MAIL FROM: <spaced@remote.test>')).code, 250)
  assert.equal((await client.command('RSET')).code, 250)
  assert.equal((await client.command('MAIL FROM:<bad address@remote.test>')).code, 501)
  assert.equal((await client.command('MAIL FROM:<a@b> FROB=1')).code, 555)
  // UTF-8 addresses need SMTPUTF8 (RFC 6531 §3.4).
  assert.equal((await client.command('MAIL FROM:<jürgen@remote.test>')).code, 553)
  assert.equal((await client.command('MAIL FROM:<jürgen@remote.test> SMTPUTF8')).code, 250)
  assert.equal((await client.command('AUTH PLAIN AGFAYg==')).code, 503)
})

test('SMTPUTF8: a UTF-8 local part and an IDN domain reach their account', async (t) => {
  const { ports, store, directory } = await startSmtpServer(t)
  await directory.addDomain('bücher.test')
  await directory.addUser('jürgen@bücher.test', 'jürgen-secret-1')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  assert.equal((await client.command('MAIL FROM:<señor@remote.test> SMTPUTF8')).code, 250)
  // The A-label and the U-label spell one domain; NFC and case are folded.
  assert.equal((await client.command('RCPT TO:<Jürgen@bücher.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<jürgen@xn--bcher-kva.test>')).code, 250)
  await client.command('DATA')
  client.write('Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\nHallo\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  const [message] = await mailboxMessages(store, 'jürgen@xn--bcher-kva.test')
  assert.match(
    message?.toString() ?? '',
    /^Return-Path: <señor@remote\.test>\r\nDelivered-To: jürgen@xn--bcher-kva\.test\r\n/,
  )
  assert.match(message?.toString() ?? '', /with UTF8SMTP id /)
  // Without SMTPUTF8 in MAIL, a UTF-8 recipient is refused (RFC 6531 §3.4).
  assert.equal((await client.command('MAIL FROM:<plain@remote.test>')).code, 250)
  assert.equal(
    (await client.command('RCPT TO:<jürgen@bücher.test>')).raw,
    '553 5.6.7 A non-ASCII recipient address needs SMTPUTF8 in MAIL FROM\r\n',
  )
})

test('quota is checked per account for all its mailboxes: all filed, or all queued once', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const alice = await store.getAccount('alice@example.test')
  await store.createMailbox(alice?.id ?? 0, 'lists')
  await store.setQuota('alice@example.test', { messages: 1 })
  const client = await mxClient(t, ports.smtp)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice+lists@example.test>')).code, 250)
  await client.command('DATA')
  client.write('Subject: two folders\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  // Two copies would pass the quota of one: none is filed, and the account is queued once, so
  // a retry can never give it a second copy.
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 0)
  assert.equal((await mailboxMessages(store, 'alice@example.test', 'lists')).length, 0)
  const queue = await store.listQueue()
  assert.deepEqual(
    queue.flatMap((entry) => entry.recipients.map((r) => [r.address, r.status])),
    [['alice@example.test', 'deferred']],
  )
})

test('remote targets past one queue entry’s bound get 452 4.5.3; a repeated RCPT is not resolved again', async (t) => {
  const { ports, store, directory } = await startSmtpServer(t)
  const targets = (prefix: string) =>
    Array.from({ length: 600 }, (_, i) => `${prefix}${i}@remote.test`)
  await directory.addAlias('list-a@example.test', targets('a'))
  await directory.addAlias('list-b@example.test', targets('b'))
  const client = await mxClient(t, ports.smtp)
  assert.equal((await client.command('RCPT TO:<list-a@example.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<list-a@example.test>')).code, 250)
  const over = await client.command('RCPT TO:<list-b@example.test>')
  assert.equal(over.raw, '452 4.5.3 Too many recipients to relay to, at most 1000\r\n')
  await client.command('DATA')
  client.write('Subject: list\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  const [entry] = await store.listQueue()
  assert.equal(entry?.recipients.length, 600)
})
