import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ALICE, Pop3TestClient, startPop3Server } from '../../../test/support/pop3.ts'
import { openStore } from '../../server/index.ts'
import { silentLogger } from '../../util/index.ts'

// Transcript tests over real sockets: greeting, CAPA, login, every TRANSACTION command, UPDATE
// at QUIT, pipelining and the limits. Authentication and locking have their own files.

const M1 = 'From: a@example.org\r\nSubject: one\r\n\r\nfirst body\r\n'
const M2 =
  'From: b@example.org\r\nSubject: two\r\n\r\n.starts with a dot\r\nline 2\r\n.\r\nline 4\r\n'
const M3 = 'Subject: bare\n\nbare LF body\nno final line end'
/** M3 as RETR sends it: CRLF line ends and a final CRLF. */
const M3_SENT = 'Subject: bare\r\n\r\nbare LF body\r\nno final line end\r\n'

test('greeting, CAPA before and after login, and QUIT in AUTHORIZATION', async (t) => {
  const { ports } = await startPop3Server(t)
  const client = await Pop3TestClient.connect(t, ports.pop3)
  const greeting = await client.read()
  assert.equal(greeting.raw, '+OK pop.example.test POP3 Postern ready\r\n')
  const capa = await client.multi('CAPA')
  assert.deepEqual(capa.lines, [
    'TOP',
    'UIDL',
    'RESP-CODES',
    'AUTH-RESP-CODE',
    'PIPELINING',
    'USER',
    'SASL SCRAM-SHA-256 PLAIN LOGIN',
    'STLS',
    'IMPLEMENTATION Postern',
  ])
  assert.equal((await client.command(`USER ${ALICE.address}`)).raw, '+OK Send PASS\r\n')
  const login = await client.command(`PASS ${ALICE.password}`)
  assert.equal(login.raw, '+OK alice@example.test has 0 messages (0 octets)\r\n')
  const after = await client.multi('capa')
  assert.deepEqual(after.lines, [
    'TOP',
    'UIDL',
    'RESP-CODES',
    'AUTH-RESP-CODE',
    'PIPELINING',
    'IMPLEMENTATION Postern',
  ])
  const other = await Pop3TestClient.connect(t, ports.pop3)
  await other.read()
  assert.equal(
    (await other.command('QUIT')).raw,
    '+OK pop.example.test POP3 server signing off\r\n',
  )
  await other.closed()
})

test('STAT, LIST, UIDL, RETR, TOP: sizes are what RETR sends, bodies byte-exact', async (t) => {
  const server = await startPop3Server(t)
  const uids = await server.deliver([M1, M2, M3])
  const { uidValidity } = (await server.store.getMailboxById(
    await server.inboxOf(ALICE.address),
  )) ?? {
    uidValidity: 0,
  }
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  const sizes = [M1.length, M2.length, M3_SENT.length]
  const total = sizes.reduce((a, b) => a + b, 0)
  assert.equal(
    (await client.login()).status,
    `+OK alice@example.test has 3 messages (${total} octets)`,
  )
  assert.equal((await client.command('STAT')).raw, `+OK 3 ${total}\r\n`)
  const list = await client.multi('LIST')
  assert.equal(list.status, `+OK 3 messages (${total} octets)`)
  assert.deepEqual(
    list.lines,
    sizes.map((size, i) => `${i + 1} ${size}`),
  )
  assert.equal((await client.command('LIST 2')).raw, `+OK 2 ${sizes[1]}\r\n`)
  const uidl = await client.multi('UIDL')
  assert.deepEqual(
    uidl.lines,
    uids.map((uid, i) => `${i + 1} ${uidValidity}.${uid}`),
  )
  assert.equal((await client.command('UIDL 3')).raw, `+OK 3 ${uidValidity}.${uids[2]}\r\n`)

  // RETR: the status line, then the message dot-stuffed; un-stuffed it is the stored message.
  const r2 = await client.multi('RETR 2')
  assert.equal(r2.status, `+OK ${sizes[1]} octets`)
  assert.ok(r2.raw.includes('\r\n..starts with a dot\r\n') && r2.raw.includes('\r\n..\r\n'))
  assert.equal(r2.lines.map((line) => `${line}\r\n`).join(''), M2)
  const r3 = await client.multi('RETR 3')
  assert.equal(r3.lines.map((line) => `${line}\r\n`).join(''), M3_SENT)
  assert.equal(r3.lines.map((line) => `${line}\r\n`).join('').length, sizes[2])

  const top0 = await client.multi('TOP 2 0')
  assert.deepEqual(top0.lines, ['From: b@example.org', 'Subject: two', ''])
  const top2 = await client.multi('TOP 2 2')
  assert.deepEqual(top2.lines, [
    'From: b@example.org',
    'Subject: two',
    '',
    '.starts with a dot',
    'line 2',
  ])
  const top99 = await client.multi('TOP 1 99')
  assert.equal(top99.lines.map((line) => `${line}\r\n`).join(''), M1)
  assert.equal((await client.command('NOOP')).raw, '+OK\r\n')
})

test('argument errors: numbers, ranges, usage; unknown commands and wrong states', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([M1])
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.read()
  assert.equal((await client.command('STAT')).raw, '-ERR STAT is only valid after logging in\r\n')
  assert.equal((await client.command('PASS x')).raw, '-ERR Send USER first\r\n')
  assert.equal((await client.command('XYZZY')).raw, '-ERR Unknown command XYZZY\r\n')
  assert.equal((await client.command('')).raw, '-ERR Empty command\r\n')
  assert.equal((await client.command('USER')).raw, '-ERR Usage: USER name\r\n')
  assert.equal((await client.command(`USER ${ALICE.address}`)).isOk, true)
  assert.equal((await client.command(`PASS ${ALICE.password}`)).isOk, true)
  assert.equal(
    (await client.command('USER x')).raw,
    '-ERR USER is only valid before logging in\r\n',
  )
  assert.equal((await client.command('STLS')).raw, '-ERR STLS is only valid before logging in\r\n')
  assert.equal((await client.command('RETR')).raw, '-ERR Usage: RETR message\r\n')
  assert.equal((await client.command('RETR 0')).raw, '-ERR Invalid message number\r\n')
  assert.equal((await client.command('RETR -1')).raw, '-ERR Invalid message number\r\n')
  assert.equal((await client.command('RETR two')).raw, '-ERR Invalid message number\r\n')
  assert.equal((await client.command('RETR 2')).raw, '-ERR No message 2\r\n')
  assert.equal(
    (await client.command('LIST 99999999999999999999')).raw,
    '-ERR Invalid message number\r\n',
  )
  assert.equal((await client.command('TOP 1')).raw, '-ERR Usage: TOP message lines\r\n')
  assert.equal((await client.command('TOP 1 -1')).raw, '-ERR Usage: TOP message lines\r\n')
  assert.equal((await client.command('LIST 1 2')).raw, '-ERR Usage: LIST [message]\r\n')
  assert.equal((await client.command('DELE')).raw, '-ERR Usage: DELE message\r\n')
})

test('DELE marks, RSET unmarks, QUIT removes the marked messages in one go', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([M1, M2, M3])
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.login()
  assert.equal((await client.command('DELE 1')).raw, '+OK Message 1 deleted\r\n')
  assert.equal((await client.command('DELE 1')).raw, '-ERR Message 1 is deleted\r\n')
  assert.equal((await client.command('RETR 1')).raw, '-ERR Message 1 is deleted\r\n')
  assert.equal((await client.command('STAT')).raw, `+OK 2 ${M2.length + M3_SENT.length}\r\n`)
  // Message numbers do not move: 2 is still 2.
  assert.deepEqual((await client.multi('LIST')).lines, [`2 ${M2.length}`, `3 ${M3_SENT.length}`])
  const rset = await client.command('RSET')
  assert.equal(
    rset.status,
    `+OK Maildrop has 3 messages (${M1.length + M2.length + M3_SENT.length} octets)`,
  )
  await client.command('DELE 1')
  await client.command('DELE 3')
  // Before QUIT nothing is gone from the store.
  const inbox = await server.inboxOf(ALICE.address)
  assert.equal((await server.store.getMailboxStatus(inbox)).messages, 3)
  assert.equal(
    (await client.command('QUIT')).raw,
    '+OK pop.example.test POP3 server signing off (1 messages left)\r\n',
  )
  await client.closed()
  const status = await server.store.getMailboxStatus(inbox)
  assert.equal(status.messages, 1)
  // The next session numbers what is left from 1, with the same unique id as before.
  const next = await Pop3TestClient.connect(t, server.ports.pop3)
  assert.match((await next.login()).status, /has 1 messages/)
  assert.deepEqual((await next.multi('UIDL')).lines, [`1 ${status.uidValidity}.2`])
})

test('a dropped connection, or a session cut by a shutdown, deletes nothing', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([M1, M2])
  const inbox = await server.inboxOf(ALICE.address)
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.login()
  await client.command('DELE 1')
  await client.command('DELE 2')
  client.socket.destroy()
  // The lock is released when the server sees the close: the next login gets in.
  const next = await Pop3TestClient.connect(t, server.ports.pop3)
  let login = await next.login()
  for (let i = 0; !login.isOk && i < 50; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    login = await next
      .command(`USER ${ALICE.address}`)
      .then(() => next.command(`PASS ${ALICE.password}`))
  }
  assert.match(login.status, /has 2 messages/)
  await next.command('DELE 1')
  // The server stops while the session waits for a command: it is told, and UPDATE never runs.
  await server.server.stop()
  assert.equal((await next.read()).raw, '-ERR [SYS/TEMP] Server shutting down\r\n')
  await next.closed()
  const reopened = await openStore(server.config, silentLogger)
  t.after(() => reopened.close())
  assert.equal((await reopened.getMailboxStatus(inbox)).messages, 2)
})

test('pipelined commands are answered in order, in one write where they fit', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([M1, M2])
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.read()
  client.write(
    `CAPA\r\nUSER ${ALICE.address}\r\nPASS ${ALICE.password}\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nRETR 1\r\nQUIT\r\n`,
  )
  assert.ok((await client.read({ multiline: true })).lines.includes('PIPELINING'))
  assert.ok((await client.read()).isOk)
  assert.ok((await client.read()).isOk)
  assert.equal((await client.read()).status, `+OK 2 ${M1.length + M2.length}`)
  assert.equal((await client.read({ multiline: true })).lines.length, 2)
  assert.equal((await client.read({ multiline: true })).lines.length, 2)
  assert.equal((await client.read({ multiline: true })).lines.map((l) => `${l}\r\n`).join(''), M1)
  assert.equal((await client.read({ multiline: true })).lines.length, 3)
  assert.equal((await client.read()).status, '+OK Message 1 deleted')
  assert.equal((await client.read()).status, '-ERR Message 1 is deleted')
  assert.match((await client.read()).status, /^\+OK .* \(1 messages left\)$/)
  await client.closed()
})

test('an answer +OK starts the error count again: only errors in a row end the session', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nmax_errors = 3\n')
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.read()
  // Found by the torture suite's MIME fuzzing in IMAP: a working client's occasional error
  // answers must not add up over a long session.
  for (let round = 0; round < 5; round += 1) {
    assert.equal((await client.command('BOGUS')).raw, '-ERR Unknown command BOGUS\r\n')
    assert.equal((await client.command('BOGUS')).raw, '-ERR Unknown command BOGUS\r\n')
    assert.match((await client.command(`USER ${ALICE.address}`)).status, /^\+OK/)
  }
  assert.equal((await client.command('BOGUS')).raw, '-ERR Unknown command BOGUS\r\n')
  assert.equal((await client.command('BOGUS')).raw, '-ERR Unknown command BOGUS\r\n')
  assert.equal((await client.command('BOGUS')).raw, '-ERR Unknown command BOGUS\r\n')
  assert.equal((await client.read()).raw, '-ERR Too many errors, closing connection\r\n')
  await client.closed()
})

test('long lines are refused and the session goes on; errors and commands are bounded', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nmax_errors = 4\n')
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.read()
  assert.equal(
    (await client.command(`USER ${'x'.repeat(300)}`)).raw,
    '-ERR Line too long, the limit is 255 octets\r\n',
  )
  assert.equal(
    (await client.command(`NOOP ${'x'.repeat(20_000)}`)).raw,
    '-ERR Line too long, the limit is 255 octets\r\n',
  )
  // A long AUTH line is read whole (RFC 5034 §4) and answered on its merits.
  assert.equal(
    (await client.command(`AUTH PLAIN ${'A'.repeat(1000)}`)).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
  assert.equal((await client.command('BOGUS')).raw, '-ERR Unknown command BOGUS\r\n')
  assert.equal((await client.read()).raw, '-ERR Too many errors, closing connection\r\n')
  await client.closed()
})

test('a message with a long line and 8-bit octets comes back intact', async (t) => {
  const server = await startPop3Server(t)
  const long = `Subject: long\r\n\r\n${'y'.repeat(5000)}\r\n`
  const eight = Buffer.concat([
    Buffer.from('Subject: =?x?=\r\n\r\n'),
    Buffer.from([0xe9, 0xff, 0x00, 0x80]),
    Buffer.from('\r\n'),
  ])
  await server.deliver([long, eight])
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.login()
  const r1 = await client.multi('RETR 1')
  assert.equal(r1.lines.map((l) => `${l}\r\n`).join(''), long)
  const r2 = await client.multi('RETR 2')
  assert.deepEqual(Buffer.from(r2.lines.map((l) => `${l}\r\n`).join(''), 'latin1'), eight)
})
