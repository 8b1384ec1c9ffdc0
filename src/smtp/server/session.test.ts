import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SmtpTestClient, startSmtpServer } from '../../../test/support/smtp.ts'
import { Connection } from '../../net/index.ts'

// Transcript tests over real sockets: the greeting, each command outside a mail transaction,
// ordering errors, limits, pipelining and the way a session ends.

test('greets with 220, answers EHLO with the extensions and HELO with none', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  const greeting = await client.read()
  assert.equal(greeting.raw, '220 mx.example.test ESMTP Postern\r\n')
  const ehlo = await client.command('EHLO client.example.org')
  assert.equal(ehlo.code, 250)
  assert.equal(ehlo.lines[0], 'mx.example.test Hello client.example.org [127.0.0.1]')
  assert.deepEqual(ehlo.lines.slice(1), [
    'PIPELINING',
    'SIZE 26214400',
    '8BITMIME',
    'SMTPUTF8',
    'ENHANCEDSTATUSCODES',
    'CHUNKING',
    'DSN',
    'STARTTLS',
    'HELP',
  ])
  // Every line but the last uses "250-" (RFC 5321 §4.2.1).
  assert.match(ehlo.raw, /^(250-.*\r\n)+250 HELP\r\n$/)
  const helo = await client.command('HELO client.example.org')
  assert.equal(helo.raw, '250 mx.example.test Hello client.example.org [127.0.0.1]\r\n')
  assert.equal((await client.command('EHLO')).raw, '501 5.5.4 EHLO needs your domain name\r\n')
})

test('NOOP, RSET, HELP, VRFY, EXPN and QUIT; unknown verbs get 500 5.5.2', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  assert.equal((await client.command('NOOP')).raw, '250 2.0.0 Ok\r\n')
  assert.equal((await client.command('noop anything at all')).raw, '250 2.0.0 Ok\r\n')
  assert.equal((await client.command('RSET')).raw, '250 2.0.0 Ok\r\n')
  assert.equal((await client.command('RSET now')).code, 501)
  const help = await client.command('HELP')
  assert.equal(help.code, 214)
  assert.match(help.raw, /^214-2\.0\.0 Commands: .*\r\n214 2\.0\.0 See RFC 5321/)
  // VRFY is off by default: 252 neither confirms nor denies (RFC 5321 §3.5.3).
  assert.equal((await client.command('VRFY alice@example.test')).code, 252)
  assert.equal((await client.command('VRFY nobody@example.test')).code, 252)
  assert.equal(
    (await client.command('EXPN staff@example.test')).raw,
    '502 5.5.1 EXPN is not available\r\n',
  )
  assert.equal((await client.command('FROB')).raw, '500 5.5.2 Command not recognized\r\n')
  assert.equal((await client.command('')).code, 500)
  assert.equal((await client.command('QUIT')).raw, '221 2.0.0 mx.example.test Bye\r\n')
  await client.closed()
})

test('VRFY with vrfy = true looks the address up', async (t) => {
  const { ports } = await startSmtpServer(t, '[smtp]\nvrfy = true\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  assert.equal(
    (await client.command('VRFY <alice@example.test>')).raw,
    '250 2.1.5 <alice@example.test>\r\n',
  )
  assert.equal((await client.command('VRFY nobody@example.test')).code, 550)
  assert.equal((await client.command('VRFY someone@elsewhere.test')).code, 252)
})

test('commands out of order get 503 5.5.1 and leave the session usable', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  assert.equal(
    (await client.command('MAIL FROM:<a@remote.test>')).raw,
    '503 5.5.1 Send EHLO or HELO first\r\n',
  )
  await client.ehlo()
  assert.equal(
    (await client.command('RCPT TO:<alice@example.test>')).raw,
    '503 5.5.1 Send MAIL first\r\n',
  )
  assert.equal((await client.command('DATA')).raw, '503 5.5.1 Send MAIL first\r\n')
  assert.equal((await client.command('MAIL FROM:<a@remote.test>')).code, 250)
  assert.equal((await client.command('MAIL FROM:<a@remote.test>')).code, 503)
  assert.equal((await client.command('DATA')).raw, '554 5.5.1 No valid recipients\r\n')
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  // EHLO resets the transaction (RFC 5321 §4.1.4).
  await client.ehlo()
  assert.equal((await client.command('DATA')).code, 503)
  assert.equal((await client.command('AUTH PLAIN AGFAYg==')).code, 503)
})

test('parameters need EHLO; HELO sessions get 555 for them', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.command('HELO client.example.org')
  assert.equal((await client.command('MAIL FROM:<a@remote.test> SIZE=10')).code, 555)
  assert.equal((await client.command('MAIL FROM:<a@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test> NOTIFY=NEVER')).code, 555)
})

test('a command line over 2048 octets gets 500 5.5.2 and the next command is read', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  const long = await client.command(`NOOP ${'x'.repeat(5000)}`)
  assert.equal(long.raw, '500 5.5.2 Line too long, the limit is 2048 octets\r\n')
  assert.equal((await client.command('NOOP')).code, 250)
  // At the limit exactly (2046 octets + CRLF) is fine.
  assert.equal((await client.command(`NOOP ${'x'.repeat(2041)}`)).code, 250)
})

test('too many errors end the session with 421 4.7.0', async (t) => {
  const { ports } = await startSmtpServer(t, '[smtp]\nmax_errors = 3\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  assert.equal((await client.command('BAD1')).code, 500)
  assert.equal((await client.command('BAD2')).code, 500)
  const third = await client.command('BAD3')
  assert.equal(third.code, 500)
  const closing = await client.read()
  assert.equal(closing.code, 421)
  assert.match(closing.lines[0] ?? '', /^4\.7\.0 .*Too many errors/)
  await client.closed()
})

test('too many commands end the session with 421 4.7.0', async (t) => {
  const { ports } = await startSmtpServer(t, '[smtp]\nmax_commands = 10\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  for (let i = 0; i < 10; i += 1) assert.equal((await client.command('NOOP')).code, 250)
  const over = await client.command('NOOP')
  assert.equal(over.code, 421)
  await client.closed()
})

test('an idle client is told 421 4.4.2 and disconnected after timeout_ms', async (t) => {
  const { ports } = await startSmtpServer(t, '[smtp]\ntimeout_ms = 1000\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  const started = Date.now()
  const timeout = await client.read(5000)
  assert.equal(timeout.code, 421)
  assert.match(timeout.raw, /4\.4\.2/)
  assert.ok(Date.now() - started >= 900)
  await client.closed()
})

test('issue #11: a command line trickled in one octet at a time is ended by timeout_ms with 421', async (t) => {
  // Found by test/torture/resources-slowloris.test.ts: every octet restarted the idle timer.
  const { ports } = await startSmtpServer(t, '[smtp]\ntimeout_ms = 1000\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  const started = Date.now()
  client.write('EHLO ')
  const trickle = setInterval(() => client.write('x'), 100)
  t.after(() => clearInterval(trickle))
  const timeout = await client.read(5000)
  assert.equal(timeout.code, 421)
  assert.match(timeout.raw, /4\.4\.2/)
  const took = Date.now() - started
  assert.ok(took >= 900 && took < 3000, `ended after ${took} ms`)
  await client.closed()
})

test('pipelined commands in one write are answered in order (RFC 2920)', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  client.write(
    'MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n',
  )
  const codes = []
  for (let i = 0; i < 5; i += 1) codes.push((await client.read()).code)
  assert.deepEqual(codes, [250, 250, 550, 250, 354])
  client.write(
    'Subject: pipelined\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<bob@example.test>\r\nBDAT 6 LAST\r\nhello\nQUIT\r\n',
  )
  const rest = []
  for (let i = 0; i < 5; i += 1) rest.push((await client.read()).code)
  assert.deepEqual(rest, [250, 250, 250, 250, 221])
  await client.closed()
  const bob = await store.getAccount('bob@example.test')
  const inbox = await store.getMailbox(bob?.id ?? 0, 'INBOX')
  assert.equal((await store.getMailboxStatus(inbox?.id ?? 0)).messages, 2)
})

test('issue #11: a pipelined burst is answered in writes of at most 64 KiB, not at its end', async (t) => {
  // A client that keeps the pipe full never lets the reader run dry; its replies must still go
  // out as they are made instead of piling up for the whole burst (found by
  // test/torture/resources-pipelined.test.ts).
  const writes = t.mock.method(Connection.prototype, 'write')
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  // EHLO's reply is several times its command: 2,000 of them make 400 KB of replies.
  client.write(`${'EHLO client.example.org\r\n'.repeat(2000)}QUIT\r\n`)
  for (let i = 0; i < 2000; i += 1) assert.equal((await client.read()).code, 250)
  assert.equal((await client.read()).code, 221)
  await client.closed()
  const sizes = writes.mock.calls.map((call) => String(call.arguments[0]).length)
  assert.ok(sizes.length > 2, `${sizes.length} writes`)
  assert.ok(Math.max(...sizes) <= 64 * 1024 + 512, `a write of ${Math.max(...sizes)} octets`)
})

test('a client sending one octet at a time is served the same', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  const script =
    'EHLO slow.example.org\r\nMAIL FROM:<slow@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: slow\r\n\r\n.leading dot\r\n.\r\nQUIT\r\n'
  for (const octet of Buffer.from(script)) {
    client.write(Buffer.from([octet]))
    await sleep(1)
  }
  const codes = []
  for (let i = 0; i < 6; i += 1) codes.push((await client.read()).code)
  assert.deepEqual(codes, [250, 250, 250, 354, 250, 221])
  const alice = await store.getAccount('alice@example.test')
  const inbox = await store.getMailbox(alice?.id ?? 0, 'INBOX')
  const [message] = await store.getMessages(inbox?.id ?? 0, [[1, 1]])
  const chunks: Buffer[] = []
  for await (const chunk of store.readMessage(message?.blobId ?? '')) chunks.push(chunk)
  assert.match(Buffer.concat(chunks).toString(), /\r\n\r\nleading dot\r\n$/)
})

test('a server shutting down tells a waiting client 421 4.3.2', async (t) => {
  const { ports, server } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  const stopping = server.stop()
  const reply = await client.read()
  assert.equal(reply.code, 421)
  assert.match(reply.raw, /4\.3\.2/)
  await client.closed()
  await stopping
})

test('connections past the per-IP limit are refused with 421', async (t) => {
  const { ports } = await startSmtpServer(t, '[limits]\nmax_connections_per_ip = 2\n')
  const first = await SmtpTestClient.connect(t, ports.smtp)
  const second = await SmtpTestClient.connect(t, ports.submission)
  assert.equal((await first.read()).code, 220)
  assert.equal((await second.read()).code, 220)
  const third = await SmtpTestClient.connect(t, ports.smtp)
  const refusal = await third.read()
  assert.equal(refusal.code, 421)
  assert.match(refusal.raw, /^421 4\.7\.0 mx\.example\.test Too many connections/)
  await third.closed()
})

test('a client that resets the connection mid-command ends its session quietly', async (t) => {
  const { ports, server } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  client.write('EHLO half')
  client.socket.resetAndDestroy()
  await client.closed()
  // The server still serves others, and its listener is not left holding the session.
  const next = await SmtpTestClient.connect(t, ports.smtp)
  assert.equal((await next.read()).code, 220)
  for (let i = 0; i < 50 && (server.listeners[0]?.connectionCount ?? 0) > 1; i += 1) await sleep(20)
  assert.equal(server.listeners[0]?.connectionCount, 1)
})
