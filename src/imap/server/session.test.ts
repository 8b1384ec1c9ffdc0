import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ALICE, ImapTestClient, startImapServer } from '../../../test/support/imap.ts'

// The session loop: greeting, CAPABILITY per state, NOOP, LOGOUT, ID, errors, pipelining,
// literals and their limits, the idle timeout.

const PRE_AUTH =
  'IMAP4rev2 IMAP4rev1 STARTTLS AUTH=SCRAM-SHA-256 AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL+ ID'
const AUTHENTICATED =
  'IMAP4rev2 IMAP4rev1 LITERAL+ ID ENABLE CONDSTORE QRESYNC UTF8=ACCEPT UNSELECT MOVE BINARY UIDPLUS MULTIAPPEND APPENDLIMIT=10485760 IDLE COMPRESS=DEFLATE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE CHILDREN NAMESPACE STATUS=SIZE'

test('the greeting carries the capabilities; CAPABILITY answers them per state', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  assert.equal(
    await client.readLine(),
    `* OK [CAPABILITY ${PRE_AUTH}] imap.example.test Postern IMAP ready`,
  )
  assert.deepEqual(await client.command('a1', 'capability'), {
    untagged: [`* CAPABILITY ${PRE_AUTH}`],
    tagged: 'a1 OK CAPABILITY completed',
  })
  assert.equal(
    (await client.command('a2', `LOGIN ${ALICE.address} ${ALICE.password}`)).tagged,
    `a2 OK [CAPABILITY ${AUTHENTICATED}] LOGIN completed`,
  )
  assert.deepEqual(await client.command('a3', 'CAPABILITY'), {
    untagged: [`* CAPABILITY ${AUTHENTICATED}`],
    tagged: 'a3 OK CAPABILITY completed',
  })
})

test('NOOP, and LOGOUT: BYE, then the tagged OK, then the close', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.deepEqual(await client.command('n1', 'NOOP'), {
    untagged: [],
    tagged: 'n1 OK NOOP completed',
  })
  assert.equal(
    (await client.command('n2', 'NOOP extra')).tagged,
    'n2 BAD unexpected text at the end of the command',
  )
  assert.deepEqual(await client.command('z', 'LOGOUT'), {
    untagged: ['* BYE imap.example.test Postern IMAP logging out'],
    tagged: 'z OK LOGOUT completed',
  })
  await client.closed()
})

test('unknown commands, bad syntax and commands in the wrong state are BAD; the session goes on', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.equal((await client.command('x1', 'FROB')).tagged, 'x1 BAD Unknown command')
  // Not yet implemented commands are unknown too; a prototype's name is no command.
  assert.equal((await client.command('x2', 'constructor')).tagged, 'x2 BAD Unknown command')
  assert.equal((await client.command('x3', 'LOGIN onlyone')).tagged, 'x3 BAD expected a space')
  assert.equal(
    (await client.command('x4', 'LOGIN "unterminated')).tagged,
    'x4 BAD unterminated quoted string',
  )
  assert.equal((await client.command('x5', '')).tagged, 'x5 BAD expected an atom')
  client.write('+bad NOOP\r\n')
  assert.equal(await client.readLine(), '* BAD Missing or invalid tag')
  await client.login()
  assert.equal(
    (await client.command('x6', `LOGIN ${ALICE.address} ${ALICE.password}`)).tagged,
    'x6 BAD LOGIN is not valid in this state',
  )
  assert.equal(
    (await client.command('x7', 'STARTTLS')).tagged,
    'x7 BAD STARTTLS is not valid in this state',
  )
  assert.equal((await client.command('x8', 'NOOP')).tagged, 'x8 OK NOOP completed')
})

test('too many errors end the session with BYE', async (t) => {
  const { port } = await startImapServer(t, { config: { maxErrors: 3 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  client.write('e1 FROB\r\ne2 FROB\r\ne3 FROB\r\ne4 NOOP\r\n')
  assert.equal(await client.readLine(), 'e1 BAD Unknown command')
  assert.equal(await client.readLine(), 'e2 BAD Unknown command')
  assert.equal(await client.readLine(), 'e3 BAD Unknown command')
  assert.equal(await client.readLine(), '* BYE Too many errors, closing connection')
  await client.closed()
})

test('OK starts the error count again: NO answers between OKs never end the session', async (t) => {
  const { port } = await startImapServer(t, { config: { maxErrors: 3 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  await client.command('l1', `LOGIN ${ALICE.address} ${ALICE.password}`)
  // Found by the torture suite's MIME fuzzing: a client asking for parts a message lacks got
  // NO after NO, with OKs between them, and was cut off at the twentieth of the session.
  for (let round = 0; round < 5; round += 1) {
    assert.equal((await client.command(`n${round}`, 'SELECT Nowhere')).tagged.split(' ')[1], 'NO')
    assert.equal(
      (await client.command(`b${round}`, 'FROB')).tagged,
      `b${round} BAD Unknown command`,
    )
    assert.equal((await client.command(`o${round}`, 'NOOP')).tagged, `o${round} OK NOOP completed`)
  }
  client.write('e1 FROB\r\ne2 SELECT Nowhere\r\ne3 FROB\r\n')
  assert.equal(await client.readLine(), 'e1 BAD Unknown command')
  assert.match(await client.readLine(), /^e2 NO /)
  assert.equal(await client.readLine(), 'e3 BAD Unknown command')
  assert.equal(await client.readLine(), '* BYE Too many errors, closing connection')
  await client.closed()
})

test('too many commands end the session with BYE', async (t) => {
  const { port } = await startImapServer(t, { config: { maxCommands: 2 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  client.write('c1 NOOP\r\nc2 NOOP\r\nc3 NOOP\r\n')
  assert.equal(await client.readLine(), 'c1 OK NOOP completed')
  assert.equal(await client.readLine(), 'c2 OK NOOP completed')
  assert.equal(await client.readLine(), '* BYE Too many commands, closing connection')
  await client.closed()
})

test('pipelined commands are answered in order, in one write', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  const chunks: string[] = []
  client.socket.on('data', (chunk: string) => chunks.push(chunk))
  client.write(
    `p1 NOOP\r\np2 LOGIN ${ALICE.address} ${ALICE.password}\r\np3 CAPABILITY\r\np4 NOOP\r\n`,
  )
  assert.equal((await client.response('p1')).tagged, 'p1 OK NOOP completed')
  assert.match((await client.response('p2')).tagged, /^p2 OK \[CAPABILITY .*\] LOGIN completed$/)
  assert.deepEqual(await client.response('p3'), {
    untagged: [`* CAPABILITY ${AUTHENTICATED}`],
    tagged: 'p3 OK CAPABILITY completed',
  })
  assert.equal((await client.response('p4')).tagged, 'p4 OK NOOP completed')
  assert.equal(chunks.length, 1)
})

test('ID: NIL or field/value pairs, bounded by RFC 2971 §3.3', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.deepEqual(await client.command('i1', 'ID NIL'), {
    untagged: ['* ID ("name" "Postern")'],
    tagged: 'i1 OK ID completed',
  })
  assert.deepEqual(await client.command('i2', 'ID ("name" "test client" "version" NIL)'), {
    untagged: ['* ID ("name" "Postern")'],
    tagged: 'i2 OK ID completed',
  })
  assert.equal((await client.command('i3', 'ID')).tagged, 'i3 BAD expected a space')
  assert.equal((await client.command('i4', 'ID ("name")')).tagged, 'i4 BAD expected a space')
  assert.equal((await client.command('i5', 'ID FOO')).tagged, 'i5 BAD expected "(" or NIL')
  const pairs = Array.from({ length: 31 }, (_, i) => `"f${i}" "v"`).join(' ')
  assert.equal(
    (await client.command('i6', `ID (${pairs})`)).tagged,
    'i6 BAD more than 30 ID fields',
  )
  assert.equal(
    (await client.command('i7', `ID ("${'f'.repeat(31)}" "v")`)).tagged,
    'i7 BAD an ID field name longer than 30 octets',
  )
  assert.equal(
    (await client.command('i8', `ID ("name" "${'v'.repeat(1025)}")`)).tagged,
    'i8 BAD an ID value longer than 1024 octets',
  )
  await client.login()
  assert.equal((await client.command('i9', 'ID NIL')).tagged, 'i9 OK ID completed')
})

test('literals: synchronizing with "+", LITERAL+ without; a too-large one is NO [TOOBIG]', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  client.write(`l1 LOGIN {${ALICE.address.length}}\r\n`)
  assert.equal(await client.readLine(), '+ Ready for literal data')
  client.write(`${ALICE.address} {5+}\r\nwrong\r\n`)
  assert.equal(
    (await client.response('l1')).tagged,
    'l1 NO [AUTHENTICATIONFAILED] Invalid credentials',
  )
  client.write('l2 LOGIN alice@example.test {99999}\r\n')
  assert.equal(
    (await client.response('l2')).tagged,
    'l2 NO [TOOBIG] Literal larger than 65536 octets',
  )
  // The literal was never sent: the session reads the next command.
  client.write(
    `l3 LOGIN {${ALICE.address.length}+}\r\n${ALICE.address} {${ALICE.password.length}}\r\n`,
  )
  assert.equal(await client.readLine(), '+ Ready for literal data')
  client.write(`${ALICE.password}\r\n`)
  assert.match((await client.response('l3')).tagged, /^l3 OK \[CAPABILITY .*\] LOGIN completed$/)
})

test('a too-large non-synchronizing literal ends the session', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  // The small-literal bound is above LITERAL-'s 4096 octets (RFC 7888 §4), so a refused {n+}
  // cannot be skipped: its octets are on their way and the stream is lost.
  client.write('f1 LOGIN {70000+}\r\n')
  assert.equal(await client.readLine(), '* BYE [TOOBIG] Literal larger than 65536 octets')
  await client.closed()
})

test('an idle session is told BYE and closed', async (t) => {
  const { port } = await startImapServer(t, { config: { timeoutMs: 300 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  const started = Date.now()
  assert.equal(await client.readLine(), '* BYE Autologout; idle for too long')
  assert.ok(Date.now() - started >= 250)
  await client.closed()
})

test('issue #11: a command trickled in one octet at a time is ended by the timeout with BYE', async (t) => {
  // Found by test/torture/resources-slowloris.test.ts: every octet restarted the idle timer.
  const { port } = await startImapServer(t, { config: { timeoutMs: 300 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  const started = Date.now()
  client.write('a1 LOGIN ')
  const trickle = setInterval(() => client.write('x'), 20)
  t.after(() => clearInterval(trickle))
  assert.equal(await client.readLine(), '* BYE Autologout; idle for too long')
  const took = Date.now() - started
  assert.ok(took >= 250 && took < 2000, `ended after ${took} ms`)
  await client.closed()
})
