import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mailboxMessages } from '../../../test/support/mailbox.ts'
import { clientProof } from '../../../test/support/scram-client.ts'
import { ALICE, BOB, SmtpTestClient, startSmtpServer } from '../../../test/support/smtp.ts'

// The submission listeners: STARTTLS or implicit TLS, AUTH, then mail to anywhere from the
// user's own addresses only.

const b64 = (text: string) => Buffer.from(text).toString('base64')

test('AUTH is offered only after STARTTLS; before it, MAIL and AUTH are refused', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submission)
  await client.read()
  const plainEhlo = await client.ehlo()
  assert.ok(plainEhlo.includes('STARTTLS'))
  assert.ok(!plainEhlo.some((line) => line.startsWith('AUTH')))
  assert.equal(
    (await client.command(`AUTH PLAIN ${b64(`\0${ALICE.address}\0${ALICE.password}`)}`)).raw,
    '538 5.7.11 Encryption required: send STARTTLS first\r\n',
  )
  assert.equal(
    (await client.command('MAIL FROM:<alice@example.test>')).raw,
    '530 5.7.0 Must issue a STARTTLS command first\r\n',
  )
  await client.startTls()
  // STARTTLS forgets the EHLO (RFC 3207 §4.2).
  assert.equal((await client.command('MAIL FROM:<alice@example.test>')).code, 503)
  const tlsEhlo = await client.ehlo()
  assert.ok(!tlsEhlo.includes('STARTTLS'))
  assert.ok(tlsEhlo.includes('AUTH SCRAM-SHA-256 PLAIN LOGIN'))
  assert.equal(
    (await client.command('MAIL FROM:<alice@example.test>')).raw,
    '530 5.7.0 Authentication required\r\n',
  )
  assert.equal((await client.command('STARTTLS')).code, 503)
})

test('commands pipelined behind STARTTLS are discarded, not run after the handshake', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submission)
  await client.read()
  await client.ehlo()
  // The CVE-2011-0411 injection: a man in the middle appends commands to the plaintext STARTTLS.
  client.write('STARTTLS\r\nRSET\r\nNOOP\r\n')
  const ready = await client.read()
  assert.equal(ready.raw, '220 2.0.0 Ready to start TLS\r\n')
  // Redo the upgrade by hand (the client helper would send STARTTLS itself).
  const { connect } = await import('node:tls')
  const plain = client.socket
  plain.removeAllListeners('data')
  const secure = connect({ socket: plain, rejectUnauthorized: false })
  await new Promise((resolve) => secure.once('secureConnect', resolve))
  let received = ''
  secure.on('data', (chunk) => {
    received += chunk.toString()
  })
  secure.write('NOOP\r\n')
  for (let i = 0; i < 50 && !received.includes('\r\n'); i += 1)
    await new Promise((r) => setTimeout(r, 20))
  // Only the NOOP sent over TLS is answered: the injected RSET and NOOP were dropped.
  assert.equal(received, '250 2.0.0 Ok\r\n')
  secure.destroy()
})

test('AUTH PLAIN, LOGIN and SCRAM-SHA-256 log in; wrong passwords get 535 5.7.8', async (t) => {
  const { ports } = await startSmtpServer(t)
  const plain = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await plain.read()
  await plain.ehlo()
  assert.equal(
    (await plain.command(`AUTH PLAIN ${b64(`\0${ALICE.address}\0wrong`)}`)).raw,
    '535 5.7.8 Authentication credentials invalid\r\n',
  )
  // Without an initial response the server asks with an empty 334 (RFC 4954 §4).
  assert.equal((await plain.command('AUTH PLAIN')).raw, '334 \r\n')
  assert.equal(
    (await plain.command(b64(`\0${ALICE.address}\0${ALICE.password}`))).raw,
    '235 2.7.0 Authentication successful\r\n',
  )
  assert.equal((await plain.command('AUTH PLAIN =')).code, 503)

  const login = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await login.read()
  await login.ehlo()
  assert.equal((await login.command('AUTH LOGIN')).raw, `334 ${b64('Username:')}\r\n`)
  assert.equal((await login.command(b64(BOB.address))).raw, `334 ${b64('Password:')}\r\n`)
  assert.equal((await login.command(b64(BOB.password))).code, 235)

  const scram = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await scram.read()
  await scram.ehlo()
  const bare = `n=${ALICE.address},r=smtpclientnonce`
  const first = await scram.command(`AUTH SCRAM-SHA-256 ${b64(`n,,${bare}`)}`)
  assert.equal(first.code, 334)
  const serverFirst = Buffer.from(first.lines[0] ?? '', 'base64').toString()
  const nonce = serverFirst.split(',')[0]?.slice(2)
  const withoutProof = `c=biws,r=${nonce}`
  const final = await scram.command(
    b64(`${withoutProof},p=${clientProof(ALICE.password, serverFirst, bare, withoutProof)}`),
  )
  // The server signature comes as one more challenge, answered with an empty line.
  assert.equal(final.code, 334)
  assert.match(Buffer.from(final.lines[0] ?? '', 'base64').toString(), /^v=/)
  assert.equal((await scram.command('')).code, 235)
})

test('AUTH cancel, bad base64, unknown mechanism, and AUTH on the MX listener', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await client.read()
  await client.ehlo()
  assert.equal(
    (await client.command('AUTH CRAM-MD5')).raw,
    '504 5.5.4 Mechanism CRAM-MD5 is not supported\r\n',
  )
  assert.equal(
    (await client.command('AUTH PLAIN !!!!')).raw,
    '501 5.5.2 The initial response is not valid base64\r\n',
  )
  await client.command('AUTH LOGIN')
  assert.equal((await client.command('*')).raw, '501 5.0.0 Authentication cancelled\r\n')
  const mx = await SmtpTestClient.connect(t, ports.smtp)
  await mx.read()
  await mx.ehlo()
  await mx.startTls()
  const mxEhlo = await mx.ehlo()
  assert.ok(!mxEhlo.some((line) => line.startsWith('AUTH')))
  assert.equal((await mx.command('AUTH PLAIN AGFAYg==')).code, 503)
})

test('repeated AUTH failures are answered later and later (src/auth throttle)', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await client.read()
  await client.ehlo()
  // The default throttle locks an account after 10 failures; the delays before each answer
  // grow from the second failure (0.25 s, 0.5 s, …), so keep the count small here: two
  // failures take about a quarter second more than one.
  const started = Date.now()
  for (let i = 0; i < 2; i += 1) {
    assert.equal(
      (await client.command(`AUTH PLAIN ${b64(`\0${BOB.address}\0guess${i}`)}`)).code,
      535,
    )
  }
  assert.ok(Date.now() - started >= 200, 'the second failure was answered late')
})

test('submission relays anywhere, but only from the user’s own addresses', async (t) => {
  const { ports, store, directory } = await startSmtpServer(t)
  await directory.addAlias('sales@example.test', [ALICE.address])
  await directory.addAlias('@example.test', [ALICE.address])
  const client = await SmtpTestClient.connect(t, ports.submission)
  await client.read()
  await client.login(ALICE)
  for (const sender of ['bob@example.test', 'someone@remote.test', 'catchall-only@example.test']) {
    const refused = await client.command(`MAIL FROM:<${sender}>`)
    assert.equal(refused.code, 550, sender)
    assert.match(
      refused.raw,
      /^550 5\.7\.1 Sender address <.*> is not owned by alice@example\.test/,
    )
  }
  for (const sender of [
    'alice@example.test',
    'ALICE@example.test',
    'alice+tag@example.test',
    'sales@example.test',
    '',
  ]) {
    assert.equal((await client.command(`MAIL FROM:<${sender}>`)).code, 250, sender)
    assert.equal((await client.command('RSET')).code, 250)
  }
  // The From header is checked the same way.
  assert.equal((await client.command('MAIL FROM:<alice@example.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<friend@remote.test>')).code, 250)
  await client.command('DATA')
  client.write('From: Bob <bob@example.test>\r\nSubject: forged\r\n\r\nhi\r\n.\r\n')
  const forged = await client.read()
  assert.match(
    forged.raw,
    /^550 5\.7\.1 From address <bob@example\.test> is not owned by alice@example\.test/,
  )
  assert.equal((await client.command('MAIL FROM:<alice@example.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<friend@remote.test>')).code, 250)
  await client.command('DATA')
  client.write('Subject: no from\r\n\r\nhi\r\n.\r\n')
  assert.match((await client.read()).raw, /^550 5\.6\.0 The message has no From header/)
  assert.deepEqual(await store.listQueue(), [])
})

test('submission adds Date and Message-ID when missing, and queues remote recipients', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await client.read()
  await client.login(ALICE)
  const sent = await client.send(
    ALICE.address,
    ['friend@remote.test', BOB.address],
    'From: Alice <alice@example.test>\r\nTo: friend@remote.test\r\nSubject: hi\r\n\r\nhello\r\n',
  )
  assert.equal(sent.code, 250)
  const [bobCopy] = await mailboxMessages(store, BOB.address)
  const text = bobCopy?.toString() ?? ''
  assert.match(text, /\r\n\tby mx\.example\.test \(Postern\) with ESMTPSA id /)
  assert.match(text, /\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} /)
  assert.match(text, /\r\nMessage-ID: <[0-9a-z]{25}@mx\.example\.test>\r\nFrom: Alice/)
  const [queued] = await store.listQueue()
  assert.equal(queued?.submittedBy, (await store.getAccount(ALICE.address))?.id)
  assert.deepEqual(
    // The queue may have tried already; it cannot reach remote.test from a test (no DNS).
    queued?.recipients.map((r) => [
      r.address,
      r.status === 'pending' || r.status === 'deferred' ? 'waiting' : r.status,
    ]),
    [['friend@remote.test', 'waiting']],
  )
  // A message that has both keeps its own.
  const again = await client.send(
    ALICE.address,
    [BOB.address],
    'From: alice@example.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <own@example.test>\r\n\r\nx\r\n',
  )
  assert.equal(again.code, 250)
  const copies = await mailboxMessages(store, BOB.address)
  const second = copies[1]?.toString() ?? ''
  assert.equal(second.match(/^Date:/gm)?.length, 1)
  assert.equal(second.match(/^Message-ID:/gm)?.length, 1)
})

test('a message with two From fields is refused; an AUTH line may be longer than other commands', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await client.read()
  await client.ehlo()
  // RFC 4954 §4: 12,288 octets for AUTH; a long (wrong) initial response is judged, not cut.
  const long = await client.command(`AUTH PLAIN ${b64(`\0${ALICE.address}\0${'x'.repeat(2400)}`)}`)
  assert.equal(long.code, 535)
  await client.login(ALICE)
  assert.equal((await client.command('MAIL FROM:<alice@example.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<friend@remote.test>')).code, 250)
  await client.command('DATA')
  client.write(
    'From: alice@example.test\r\nFrom: ceo@example.test\r\nSubject: two\r\n\r\nhi\r\n.\r\n',
  )
  assert.match((await client.read()).raw, /^550 5\.6\.0 The message has more than one From header/)
  assert.deepEqual(await store.listQueue(), [])
})

test('a locked account answers the right password exactly as a wrong one', async (t) => {
  const { ports } = await startSmtpServer(t, '[auth]\nmax_account_failures = 2\n')
  const client = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await client.read()
  await client.ehlo()
  const attempt = (password: string) =>
    client.command(`AUTH PLAIN ${b64(`\0${BOB.address}\0${password}`)}`)
  assert.equal((await attempt('guess-1')).code, 535)
  assert.equal((await attempt('guess-2')).code, 535)
  // Locked now: the right password gets the same 535 a wrong one does, so a guesser spread
  // over many addresses cannot tell when it has found it.
  const right = await attempt(BOB.password)
  const wrong = await attempt('guess-3')
  assert.equal(right.raw, '535 5.7.8 Authentication credentials invalid\r\n')
  assert.equal(wrong.raw, right.raw)
  // Another account is not affected.
  const other = await SmtpTestClient.connect(t, ports.submissions, { tls: true })
  await other.read()
  await other.ehlo()
  assert.equal(
    (await other.command(`AUTH PLAIN ${b64(`\0${ALICE.address}\0${ALICE.password}`)}`)).code,
    235,
  )
})
