import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mailboxMessages, withoutTrace } from '../../../test/support/mailbox.ts'
import { SmtpTestClient, startSmtpServer } from '../../../test/support/smtp.ts'

// DATA and BDAT: transparency, the exact end of data, the size and line limits, and the trace
// fields local delivery adds.

async function openTransaction(client: SmtpTestClient, to = 'alice@example.test', mail = '') {
  await client.read()
  await client.ehlo()
  assert.equal((await client.command(`MAIL FROM:<sender@remote.test>${mail}`)).code, 250)
  assert.equal((await client.command(`RCPT TO:<${to}>`)).code, 250)
}

test('DATA stores the message byte for byte after dot-unstuffing, with trace fields', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  assert.equal((await client.command('DATA')).raw, '354 End data with <CR><LF>.<CR><LF>\r\n')
  const wire = 'Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n. \r\nend\r\n.\r\n'
  client.write(wire)
  const done = await client.read()
  assert.match(done.raw, /^250 2\.0\.0 Ok: queued as \S+\r\n$/)
  const [stored] = await mailboxMessages(store, 'alice@example.test')
  const text = stored?.toString('latin1') ?? ''
  const id = /queued as (\S+)/.exec(done.raw)?.[1] ?? ''
  assert.match(
    text,
    new RegExp(
      `^Return-Path: <sender@remote\\.test>\\r\\nDelivered-To: alice@example\\.test\\r\\nReceived: from client\\.example\\.org \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mx\\.example\\.test \\(Postern\\) with ESMTP id ${id.replace('.', '\\.')}\\r\\n\\tfor <alice@example\\.test>; [A-Z][a-z]{2}, \\d\\d [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000\\r\\n`,
    ),
  )
  assert.equal(
    withoutTrace(stored ?? Buffer.alloc(0)).toString('latin1'),
    'Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n \r\nend\r\n',
  )
})

test('an empty message (a lone ".") and 8-bit and binary octets are kept exactly', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client, 'alice@example.test', ' BODY=8BITMIME')
  await client.command('DATA')
  client.write('.\r\n')
  assert.equal((await client.read()).code, 250)
  const body = Buffer.concat([
    Buffer.from('Subject: 8bit\r\n\r\n'),
    Buffer.from([0xc3, 0xa9, 0x00, 0xff, 0x0d, 0x41, 0x0a, 0x42, 0x0d, 0x0a]),
  ])
  assert.equal((await client.command('MAIL FROM:<sender@remote.test> BODY=8BITMIME')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  await client.command('DATA')
  client.write(Buffer.concat([body, Buffer.from('.\r\n')]))
  assert.equal((await client.read()).code, 250)
  const [empty, eight] = await mailboxMessages(store, 'alice@example.test')
  assert.equal(withoutTrace(empty ?? Buffer.alloc(1)).length, 0)
  assert.deepEqual(withoutTrace(eight ?? Buffer.alloc(0)), body)
})

// The 2023 SMTP smuggling class: a server that took any of these for the end of data would read
// the rest as a second, forged message from the same session.
for (const [name, fake] of [
  ['<LF>.<LF>', '\n.\n'],
  ['<LF>.<CR><LF>', '\n.\r\n'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
  ['<CR>.<CR>', '\r.\r'],
] as const) {
  test(`SMTP smuggling: ${name} does not end DATA`, async (t) => {
    const { ports, store } = await startSmtpServer(t)
    const client = await SmtpTestClient.connect(t, ports.smtp)
    await openTransaction(client)
    await client.command('DATA')
    const smuggled = `Subject: outer\r\n\r\nbody${fake}MAIL FROM:<forged@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n`
    client.write(`${smuggled}.\r\nQUIT\r\n`)
    assert.equal((await client.read()).code, 250)
    assert.equal((await client.read()).code, 221)
    const [message] = await mailboxMessages(store, 'alice@example.test')
    // Everything up to the real end is one message, kept as sent except that a dot opening a
    // line after CRLF is the stuffing RFC 5321 §4.5.2 removes.
    assert.equal(
      withoutTrace(message ?? Buffer.alloc(0)).toString('latin1'),
      smuggled.replace(/\r\n\./g, '\r\n'),
    )
    assert.equal((await mailboxMessages(store, 'bob@example.test')).length, 0)
  })
}

test('a line over 1000 octets gets 554 5.6.0 after the data; the session goes on', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  await client.command('DATA')
  client.write(`Subject: long\r\n\r\n${'x'.repeat(999)}\r\n.\r\n`)
  const refused = await client.read()
  assert.equal(refused.code, 554)
  assert.match(refused.raw, /^554 5\.6\.0 .*1000 octets/)
  // A line of exactly 998 octets + CRLF is the limit (RFC 5321 §4.5.3.1.6) and passes.
  assert.equal((await client.command('MAIL FROM:<sender@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  await client.command('DATA')
  client.write(`Subject: ok\r\n\r\n${'x'.repeat(998)}\r\n.\r\n`)
  assert.equal((await client.read()).code, 250)
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 1)
})

test('SIZE: a declared size over the limit gets 552 at MAIL; a real one after the data', async (t) => {
  const { ports, store } = await startSmtpServer(t, '[smtp]\nmax_message_size = 65536\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  const ehlo = await client.ehlo()
  assert.ok(ehlo.includes('SIZE 65536'))
  const declared = await client.command('MAIL FROM:<s@remote.test> SIZE=65537')
  assert.equal(declared.code, 552)
  assert.match(declared.raw, /^552 5\.3\.4 /)
  assert.equal((await client.command('MAIL FROM:<s@remote.test> SIZE=65536')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  await client.command('DATA')
  const line = `${'y'.repeat(98)}\r\n`
  client.write(`Subject: big\r\n\r\n${line.repeat(700)}.\r\n`)
  const refused = await client.read()
  assert.equal(refused.code, 552)
  assert.match(refused.raw, /^552 5\.3\.4 Message is larger than the 65536 octets/)
  // The session is still usable.
  assert.equal((await client.command('MAIL FROM:<s@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  await client.command('DATA')
  client.write(`Subject: small\r\n\r\n${line.repeat(10)}.\r\n`)
  assert.equal((await client.read()).code, 250)
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 1)
})

test('BDAT: chunks add up to the message, LAST delivers it, no dot-unstuffing', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  const first = 'Subject: chunks\r\n\r\n.not stuffed\r\n'
  const second = '.\r\nlast line\r\n'
  client.write(`BDAT ${Buffer.byteLength(first)}\r\n${first}`)
  assert.equal(
    (await client.read()).raw,
    `250 2.0.0 ${Buffer.byteLength(first)} octets received\r\n`,
  )
  client.write(`BDAT ${Buffer.byteLength(second)} LAST\r\n${second}`)
  assert.match((await client.read()).raw, /^250 2\.0\.0 Ok: queued as /)
  const [message] = await mailboxMessages(store, 'alice@example.test')
  assert.equal(withoutTrace(message ?? Buffer.alloc(0)).toString(), first + second)
  // BDAT 0 LAST ends a message whose chunks all came before.
  assert.equal((await client.command('MAIL FROM:<s@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  client.write('BDAT 9\r\nSubject: ')
  assert.equal((await client.read()).code, 250)
  client.write('BDAT 5\r\nx\r\n\r\n')
  assert.equal((await client.read()).code, 250)
  assert.equal((await client.command('BDAT 0 LAST')).code, 250)
  const messages = await mailboxMessages(store, 'alice@example.test')
  assert.equal(withoutTrace(messages[1] ?? Buffer.alloc(0)).toString(), 'Subject: x\r\n\r\n')
})

test('BDAT outside a transaction consumes its chunk and answers 503; DATA after BDAT is refused', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  // The chunk holds what looks like commands; it must be skipped, not read as commands.
  const chunk = 'MAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\n'
  client.write(`BDAT ${chunk.length} LAST\r\n${chunk}`)
  assert.equal((await client.read()).raw, '503 5.5.1 Send MAIL first\r\n')
  assert.equal((await client.command('NOOP')).code, 250)
  assert.equal((await client.command('MAIL FROM:<s@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  client.write('BDAT 4\r\nabcd')
  assert.equal((await client.read()).code, 250)
  assert.equal((await client.command('DATA')).raw, '503 5.5.1 DATA is not allowed after BDAT\r\n')
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 503)
  assert.equal((await client.command('RSET')).code, 250)
  assert.equal((await mailboxMessages(store, 'bob@example.test')).length, 0)
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 0)
})

test('BDAT past the size limit gets 552 and ends the transaction', async (t) => {
  const { ports, store } = await startSmtpServer(t, '[smtp]\nmax_message_size = 65536\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  const line = `${'z'.repeat(62)}\r\n`
  const big = line.repeat(1100)
  client.write(`BDAT ${big.length}\r\n${big}`)
  assert.equal((await client.read()).code, 552)
  client.write('BDAT 2 LAST\r\nok')
  assert.equal((await client.read()).code, 503)
  assert.equal((await client.command('NOOP')).code, 250)
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 0)
})

test('a client that disconnects mid-DATA leaves nothing stored', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  await client.command('DATA')
  client.write('Subject: cut\r\n\r\nhalf a mess')
  client.socket.end()
  await client.closed()
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 0)
})

test('issue #11: a DATA body trickled in is ended by timeout_ms with 421 and nothing stored', async (t) => {
  // Found by test/torture/resources-slowloris.test.ts. 10 octets a second is far below the
  // 500 a body must average once timeout_ms is spent.
  const { ports, store } = await startSmtpServer(t, '[smtp]\ntimeout_ms = 1000\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  assert.equal((await client.command('DATA')).code, 354)
  const started = Date.now()
  const trickle = setInterval(() => client.write('x'), 100)
  t.after(() => clearInterval(trickle))
  const timeout = await client.read(5000)
  assert.equal(timeout.code, 421)
  assert.match(timeout.raw, /4\.4\.2/)
  const took = Date.now() - started
  assert.ok(took >= 900 && took < 3000, `ended after ${took} ms`)
  await client.closed()
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 0)
})

test('a DATA body that keeps coming faster than the minimum rate outlasts timeout_ms', async (t) => {
  const { ports, store } = await startSmtpServer(t, '[smtp]\ntimeout_ms = 1000\n')
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await openTransaction(client)
  assert.equal((await client.command('DATA')).code, 354)
  client.write('Subject: slow but steady\r\n\r\n')
  // Two seconds at 10 KB/s, twice the timeout.
  for (let i = 0; i < 20; i += 1) {
    client.write(`${'y'.repeat(998)}\r\n`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  client.write('.\r\n')
  assert.equal((await client.read()).code, 250)
  assert.equal((await mailboxMessages(store, 'alice@example.test')).length, 1)
})

test('DSN parameters and the body type are kept with a queued message', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.submission)
  await client.read()
  await client.login({ address: 'alice@example.test', password: 'alice-secret-1' })
  assert.equal(
    (
      await client.command(
        'MAIL FROM:<alice@example.test> RET=HDRS ENVID=QQ+2B314 BODY=8BITMIME SMTPUTF8',
      )
    ).code,
    250,
  )
  assert.equal(
    (
      await client.command(
        'RCPT TO:<friend@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;friend+2Bx@remote.test',
      )
    ).code,
    250,
  )
  assert.equal((await client.command('RCPT TO:<other@remote.test> NOTIFY=NEVER')).code, 250)
  assert.equal((await client.command('RCPT TO:<third@remote.test>')).code, 250)
  await client.command('DATA')
  client.write('From: alice@example.test\r\nSubject: dsn\r\n\r\nhi\r\n.\r\n')
  assert.equal((await client.read()).code, 250)
  const [entry] = await store.listQueue()
  assert.ok(entry)
  assert.equal(entry.sender, 'alice@example.test')
  assert.equal(entry.ret, 'hdrs')
  assert.equal(entry.envelopeId, 'QQ+314')
  assert.equal(entry.body, '8bitmime')
  assert.equal(entry.smtputf8, true)
  assert.deepEqual(
    // The queue may have tried already; it cannot reach remote.test from a test (no DNS).
    entry.recipients.map((r) => [
      r.address,
      r.originalRecipient,
      r.notify,
      r.status === 'pending' || r.status === 'deferred' ? 'waiting' : r.status,
    ]),
    [
      ['friend@remote.test', 'rfc822;friend+x@remote.test', ['success', 'failure'], 'waiting'],
      ['other@remote.test', null, [], 'waiting'],
      ['third@remote.test', null, null, 'waiting'],
    ],
  )
  // SMTPUTF8 mail is received "with UTF8SMTPSA" (RFC 6531 §3.7.3).
  const chunks: Buffer[] = []
  for await (const chunk of store.readMessage(entry.blobId)) chunks.push(chunk)
  assert.match(Buffer.concat(chunks).toString(), /with UTF8SMTPSA id /)
})
